"""Twilio: the SMS and phone-lookup provider, and its webhooks (inbound texts, status callbacks).

Settings: DOSSIER_TWILIO_ACCOUNT_SID, DOSSIER_TWILIO_AUTH_TOKEN, DOSSIER_TWILIO_FROM (all three,
or the provider stays off), DOSSIER_TWILIO_BASE_URL (replaces every Twilio host, e.g. a local
fake) and DOSSIER_PUBLIC_URL (where Twilio calls back; webhook signatures are over it).

It talks to Twilio through the official SDK's async calls, on an HTTP client of our own built on
the app's shared `httpx.AsyncClient` (the SDK's documented extension point), so sending never
blocks the event loop and there is one HTTP stack.

Refusals: Twilio's permanent 4xx answers (21211 invalid number, 21614 not SMS-capable, 21610
unsubscribed, ...) become `SendRejected` (no retry; 21610 also turns consent off). 401/403/404
(credentials or account SID wrong: an operator can fix them), 429 (rate limit), 5xx and network
errors are raised as they are, so the dispatcher retries them.

Webhooks: an inbound text to a number no account owns is answered 404 (and logged): Twilio's
debugger then shows the misrouted number, which an empty 200 would hide.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.base import values
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from crm.actor import Actor
from crm.contracts import OutboundSms, PhoneLine, SendRejected, SmsReceipt
from crm.errors import DomainError
from crm.services import messages
from crm.services.messages import MessageStatus
from plugins import hookimpl
from plugins.host import PluginHost

log = logging.getLogger("dossier.plugins.twilio")

INBOUND_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
UNSUBSCRIBED = 21610
SETTINGS_HINT = "set DOSSIER_TWILIO_ACCOUNT_SID, DOSSIER_TWILIO_AUTH_TOKEN and DOSSIER_TWILIO_FROM"
# HTTP statuses that say "not now" or "fix the configuration", not "never": retried.
_RETRIABLE_4XX = frozenset({401, 403, 404, 408, 409, 429})
# Status callbacks we record; Twilio's intermediate ones (accepted, queued, sending) are ignored.
_STATUS = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "failed": MessageStatus.FAILED,
    "undelivered": MessageStatus.UNDELIVERED,
}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def rebase(url: str, base_url: str | None) -> str:
    """`url` on `base_url` instead of its Twilio host (api.twilio.com, lookups.twilio.com, ...)."""
    if not base_url:
        return url
    target, base = urlsplit(url), urlsplit(base_url)
    if not (target.hostname or "").endswith("twilio.com"):
        return url
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + target.path, target.query, ""))


class HttpxTwilioClient(AsyncHttpClient):
    """The Twilio SDK's async HTTP client, on httpx; rewrites Twilio's hosts when a base URL is set."""

    def __init__(self, http: httpx.AsyncClient, base_url: str | None = None) -> None:
        super().__init__(logger=log, is_async=True)
        self.http = http
        self.base_url = base_url

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        response = await self.http.request(
            method.upper(),
            rebase(url, self.base_url),
            params=params or None,  # type: ignore[arg-type]
            data=data or None,  # type: ignore[arg-type]
            headers=headers,
            auth=auth,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            follow_redirects=allow_redirects,
        )
        return TwilioResponse(response.status_code, response.text, response.headers)


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str = field(repr=False)  # never in a log line
    from_number: str
    base_url: str | None


def _refusal(exc: TwilioRestException | TwilioServiceException) -> SendRejected | None:
    """A permanent refusal as SendRejected, or None when the error is worth retrying."""
    status = int(exc.status or 0)
    if not 400 <= status < 500 or status in _RETRIABLE_4XX:
        return None
    code = exc.code or status
    if isinstance(exc, TwilioServiceException):
        text = exc.detail or exc.title
    else:
        text = exc.msg.split(": ", 1)[1] if exc.msg.startswith("Unable to") and ": " in exc.msg else exc.msg
    return SendRejected(str(code), text or f"HTTP {status}", unsubscribed=code == UNSUBSCRIBED)


class TwilioProvider:
    """Sends texts and looks up line types through Twilio; receives Twilio's webhooks."""

    name = "twilio"

    def __init__(self) -> None:
        self.host: PluginHost | None = None
        self.config: TwilioConfig | None = None
        self.client: Client | None = None

    # -- start-up ----------------------------------------------------------------------

    @hookimpl
    def startup(self, host: PluginHost) -> None:
        self.host = host
        found = {
            name: host.setting(name) for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
        }
        if not all(found.values()):
            if any(found.values()):
                missing = ", ".join(f"DOSSIER_{k}" for k, value in found.items() if not value)
                log.warning("Twilio is off: %s not set (%s)", missing, SETTINGS_HINT)
            return
        self.config = TwilioConfig(
            found["TWILIO_ACCOUNT_SID"],  # type: ignore[arg-type]
            found["TWILIO_AUTH_TOKEN"],  # type: ignore[arg-type]
            found["TWILIO_FROM"],  # type: ignore[arg-type]
            host.setting("TWILIO_BASE_URL"),
        )
        self.client = Client(
            self.config.account_sid,
            self.config.auth_token,
            account_sid=self.config.account_sid,
            http_client=HttpxTwilioClient(host.http, self.config.base_url),
        )
        if not host.public_url:
            log.warning("DOSSIER_PUBLIC_URL is not set: Twilio cannot call back and webhooks are refused")

    @hookimpl
    def capabilities(self) -> list[str]:
        return ["sms", "phone_lookup"] if self.client is not None else []

    # -- provider hooks ----------------------------------------------------------------

    @hookimpl
    async def send_sms(self, message: OutboundSms) -> SmsReceipt | None:
        if self.client is None or self.config is None or self.host is None:
            return None
        # Our message id rides in the (signed) callback URL: a callback that arrives before we
        # stored Twilio's sid still finds its message.
        callback = self.host.public_link(f"{STATUS_PATH}?message={message.message_id}")
        try:
            sent = await self.client.messages.create_async(
                to=message.to,
                from_=message.from_ or self.config.from_number,
                body=message.body,
                status_callback=callback or values.unset,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            refusal = _refusal(exc)
            if refusal is not None:
                raise refusal from exc
            raise
        return SmsReceipt(provider=self.name, provider_id=str(sent.sid), status=str(sent.status or "queued"))

    @hookimpl
    async def lookup_phone_line(self, phone: str) -> PhoneLine | None:
        if self.client is None:
            return None
        try:
            found = await self.client.lookups.v2.phone_numbers(phone).fetch_async(
                fields="line_type_intelligence"
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            refusal = _refusal(exc)
            if refusal is not None:
                raise refusal from exc
            raise
        line: dict[str, Any] = found.line_type_intelligence or {}  # type: ignore[assignment]
        return PhoneLine(
            phone=phone,
            line_type=line.get("type") or "unknown",
            carrier=line.get("carrier_name"),
            provider=self.name,
        )

    # -- webhooks ----------------------------------------------------------------------

    @hookimpl
    def register_routes(self) -> list[Route]:
        return [
            Route(INBOUND_PATH, self.inbound_sms, methods=["POST"]),
            Route(STATUS_PATH, self.status_callback, methods=["POST"]),
        ]

    def _signed(self, request: Request, form: FormData) -> bool:
        """Twilio's X-Twilio-Signature over the public URL (not the one we were reached at:
        a TLS-terminating proxy changes the scheme and host) and the form parameters."""
        signature = request.headers.get("X-Twilio-Signature")
        if self.config is None or self.host is None or not signature:
            return False
        url = self.host.public_link(request.url.path)
        if url is None:
            return False
        if request.url.query:
            url += "?" + request.url.query
        return RequestValidator(self.config.auth_token).validate(url, form, signature)

    async def _verified_form(self, request: Request) -> FormData | Response:
        # Twilio posts application/x-www-form-urlencoded; parsed here (no python-multipart needed).
        body = (await request.body()).decode("utf-8", "replace")
        form = FormData(parse_qsl(body, keep_blank_values=True))
        if not self._signed(request, form):
            log.warning("refused a Twilio webhook on %s: missing or bad signature", request.url.path)
            return PlainTextResponse("invalid or missing X-Twilio-Signature", status_code=403)
        return form

    async def inbound_sms(self, request: Request) -> Response:
        form = await self._verified_form(request)
        if isinstance(form, Response):
            return form
        to_number, from_number = str(form.get("To") or ""), str(form.get("From") or "")
        if not to_number or not from_number:
            return PlainTextResponse("To and From are required", status_code=400)
        account_id = await messages.account_for_number(to_number)
        if account_id is None:
            log.warning("an inbound text to %s was refused: no account uses that number", to_number)
            return PlainTextResponse(f"no account uses {to_number}", status_code=404)
        sid = str(form.get("MessageSid") or form.get("SmsSid") or "") or None
        try:
            await messages.receive_sms(
                account_id, from_number, to_number, str(form.get("Body") or ""), sid, self.name
            )
        except DomainError as exc:  # e.g. a sender that is not a phone number
            log.warning("an inbound text from %s was refused: %s", from_number, exc.message)
            return PlainTextResponse(exc.message, status_code=400)
        return Response(EMPTY_TWIML, media_type="text/xml")

    async def status_callback(self, request: Request) -> Response:
        form = await self._verified_form(request)
        if isinstance(form, Response):
            return form
        sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
        reported = str(form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        status = _STATUS.get(reported)
        if status is None or not sid:
            return Response(status_code=200)
        message = await messages.message_for_provider_id(sid)
        ours = request.query_params.get("message", "")
        if message is None and ours.isdigit():
            message = await messages.message_with_contact(int(ours))
            if message is not None and message.provider_id not in (None, sid):
                message = None  # the id does not belong to this sid: trust neither
        if message is None:
            log.info("status %r for unknown message %s ignored", reported, sid)
            return Response(status_code=200)
        account_id = message.contact.account_id  # type: ignore[attr-defined]
        actor = Actor.plugin(account_id, self.name)
        code = str(form.get("ErrorCode") or "") or None
        if code == str(UNSUBSCRIBED):
            reason = f"The recipient opted out of SMS (Twilio error {code})"
            await messages.sms_unsubscribed(actor, message.contact_id, reason)  # type: ignore[attr-defined]
        await messages.set_message_status(
            actor,
            message.id,
            status,
            provider_id=sid,
            error_code=code,
            error_message=str(form.get("ErrorMessage") or "") or None,
        )
        return Response(status_code=200)
