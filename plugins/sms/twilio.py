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

Resumed sends: a text whose earlier try was cut short (`send_progress(...).resumed`: the
worker died during the call, or it timed out) may already be at Twilio. Before sending again
the provider lists the Messages to the same `To` from the same `From` with `DateSent>=` the
day the first try started (Twilio filters by date only), then the newest page without the
date filter (a text still queued at Twilio has no date_sent yet), and adopts the first one
with the same body created no earlier than the first try (minus `CLOCK_SKEW` for the two
clocks) whose sid is not already another message's. Only when none is found does it send.

Webhooks: an inbound text to a number no account owns is answered 404 (and logged): Twilio's
debugger then shows the misrouted number, which an empty 200 would hide. A validly signed
callback whose parameters are malformed (a sid that is not one, a `message` id that is not a
database id, an error code that is not a number, a NUL character, an over-long value) is
answered 400 with the reason and logged as a warning: Twilio does not retry a 4xx.

Call recordings: POST /webhooks/twilio/recording is the RecordingStatusCallback to give Twilio
when a call is recorded (`?call=<Dossier call id>` may ride in it; else the call logged with
the CallSid as its providerCallId is found). A `completed` recording is fetched from its
RecordingUrl + ".mp3" with the account SID and token (only from an https twilio.com URL) and
stored as the call's recording (`store_recording_from_url`; a repeated callback stores nothing
twice). Other statuses, and a call nobody logged, are acknowledged (200) and logged; a fetch
that fails answers 502 so Twilio's debugger shows it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
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
from crm.services import messages, recordings
from crm.services.messages import SMS_MAX, MessageStatus, SendProgress
from plugins import hookimpl
from plugins.host import PluginHost

log = logging.getLogger("dossier.plugins.twilio")

INBOUND_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
RECORDING_PATH = "/webhooks/twilio/recording"
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
# How far Twilio's clock may be behind ours when a resumed send looks for its earlier try.
CLOCK_SKEW = timedelta(minutes=2)
LOOKUP_PAGE = 50  # Messages read per query when looking for an earlier try

# What a validly signed callback may carry. Twilio's sids are two letters and 32 hex digits
# (SM..., MM...); `message` is our own id, which the database stores as a signed 64-bit integer.
_SID = re.compile(r"[A-Za-z]{2}[0-9A-Za-z]{1,62}")
_DIGITS = re.compile(r"[0-9]{1,19}")
_STATUS_WORD = re.compile(r"[a-z_-]{1,32}")
_MAX_ID = 2**63 - 1
_ADDRESS_MAX = 254  # Message.to_address / from_address
_ERROR_MESSAGE_MAX = 2000  # stored cut to 500; anything longer is not Twilio's


class MalformedCallback(ValueError):
    """A signed Twilio callback whose parameters cannot be taken as they are: answered 400."""


def _param(
    form: FormData,
    *names: str,
    required: bool = False,
    max_length: int,
    pattern: re.Pattern[str] | None = None,
) -> str | None:
    """The first of `names` present in the form, checked; None when absent and not required."""
    name = names[0]
    value = ""
    for candidate in names:
        value = str(form.get(candidate) or "")
        if value:
            name = candidate
            break
    if not value:
        if required:
            raise MalformedCallback(f"{names[0]} is required")
        return None
    if len(value) > max_length:
        raise MalformedCallback(f"{name} is longer than {max_length} characters")
    if "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):
        raise MalformedCallback(f"{name} holds a NUL or an unpaired surrogate character")
    if pattern is not None and not pattern.fullmatch(value):
        raise MalformedCallback(f"{name} is not well formed")
    return value


_RECORDING_URL_MAX = 500


def _our_call_id(raw: str | None) -> int | None:
    """The `call` query parameter (our call id in the recording callback URL), checked."""
    if raw is None or raw == "":
        return None
    if not _DIGITS.fullmatch(raw) or not 0 < int(raw) <= _MAX_ID:
        raise MalformedCallback("call must be a call id (a positive 64-bit integer)")
    return int(raw)


def _twilio_media_url(url: str) -> str:
    """A RecordingUrl on Twilio's API over https: the Account's credentials are only ever sent
    there (the URL is rebased onto DOSSIER_TWILIO_BASE_URL afterwards, as every request is)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not (host == "twilio.com" or host.endswith(".twilio.com")):
        raise MalformedCallback("RecordingUrl is not an https URL on twilio.com")
    if parts.query or parts.fragment or "\x00" in url:
        raise MalformedCallback("RecordingUrl is not well formed")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.removesuffix(".mp3"), "", ""))


def _our_message_id(raw: str | None) -> int | None:
    """The `message` query parameter (our id in the callback URL we gave Twilio), checked."""
    if raw is None or raw == "":
        return None
    # ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
    if not _DIGITS.fullmatch(raw) or not 0 < int(raw) <= _MAX_ID:
        raise MalformedCallback("message must be a message id (a positive 64-bit integer)")
    return int(raw)


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
        progress = await messages.send_progress(message.message_id)
        if progress is not None and progress.resumed:
            found = await self._earlier_try(message, progress)
            if found is not None:
                return found
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

    async def _earlier_try(self, message: OutboundSms, progress: SendProgress) -> SmsReceipt | None:
        """The text an earlier, cut-short try of this message left at Twilio, or None."""
        assert self.client is not None and self.config is not None
        since = progress.first_started_at - CLOCK_SKEW
        sender = message.from_ or self.config.from_number
        found = []
        # Any error here is raised as it is, never as a refusal: a failed look-up says nothing
        # about the text, and sending without knowing could make a second copy. It is retried.
        for date_filter in (since.strftime("%Y-%m-%d"), values.unset):
            page = await self.client.messages.list_async(
                to=message.to, from_=sender, date_sent_after=date_filter, limit=LOOKUP_PAGE
            )
            found = [
                m for m in page
                if m.body == message.body and m.date_created is not None and m.date_created >= since
            ]  # fmt: skip
            if found:
                break
        others = await messages.provider_ids_of_others(message.message_id, [str(m.sid) for m in found])
        mine = sorted((m for m in found if str(m.sid) not in others), key=lambda m: m.date_created)
        if not mine:
            log.info(
                "message %s (attempt %s): no earlier try at Twilio, sending",
                message.message_id,
                progress.attempt,
            )
            return None
        adopted = mine[0]
        log.info(
            "message %s (attempt %s): adopted %s (%s) from an earlier try instead of sending again",
            message.message_id, progress.attempt, adopted.sid, adopted.status,
        )  # fmt: skip
        return SmsReceipt(
            provider=self.name, provider_id=str(adopted.sid), status=str(adopted.status or "sent")
        )

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
            Route(RECORDING_PATH, self.recording_callback, methods=["POST"]),
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

    def _malformed(self, request: Request, exc: MalformedCallback) -> Response:
        log.warning("refused a signed Twilio callback on %s: %s", request.url.path, exc)
        return PlainTextResponse(str(exc), status_code=400)

    async def inbound_sms(self, request: Request) -> Response:
        form = await self._verified_form(request)
        if isinstance(form, Response):
            return form
        try:
            to_number = _param(form, "To", required=True, max_length=_ADDRESS_MAX)
            from_number = _param(form, "From", required=True, max_length=_ADDRESS_MAX)
            sid = _param(form, "MessageSid", "SmsSid", max_length=64, pattern=_SID)
            body = _param(form, "Body", max_length=SMS_MAX) or ""
        except MalformedCallback as exc:
            return self._malformed(request, exc)
        assert to_number is not None and from_number is not None
        account_id = await messages.account_for_number(to_number)
        if account_id is None:
            log.warning("an inbound text to %s was refused: no account uses that number", to_number)
            return PlainTextResponse(f"no account uses {to_number}", status_code=404)
        try:
            await messages.receive_sms(account_id, from_number, to_number, body, sid, self.name)
        except DomainError as exc:  # e.g. a sender that is not a phone number
            log.warning("an inbound text from %s was refused: %s", from_number, exc.message)
            return PlainTextResponse(exc.message, status_code=400)
        return Response(EMPTY_TWIML, media_type="text/xml")

    async def status_callback(self, request: Request) -> Response:
        form = await self._verified_form(request)
        if isinstance(form, Response):
            return form
        try:
            sid = _param(form, "MessageSid", "SmsSid", required=True, max_length=64, pattern=_SID)
            reported = _param(form, "MessageStatus", "SmsStatus", required=True, max_length=32)
            reported = (reported or "").lower()
            if not _STATUS_WORD.fullmatch(reported):
                raise MalformedCallback("MessageStatus is not well formed")
            code = _param(form, "ErrorCode", max_length=10, pattern=_DIGITS)
            error_message = _param(form, "ErrorMessage", max_length=_ERROR_MESSAGE_MAX)
            ours = _our_message_id(request.query_params.get("message"))
        except MalformedCallback as exc:
            return self._malformed(request, exc)
        assert sid is not None
        status = _STATUS.get(reported)
        if status is None:  # Twilio's intermediate statuses (accepted, queued, sending, ...)
            return Response(status_code=200)
        message = await messages.message_for_provider_id(sid)
        if message is None and ours is not None:
            # The URL is signed and carries the id we gave Twilio with this very send: a sid we
            # have not recorded (the worker died before it could, or a second copy went out) is
            # still this message's, and is kept with it.
            message = await messages.message_with_contact(ours)
        if message is not None and message.direction != "OUTBOUND":
            message = None  # statuses are about texts we sent, never an inbound one's sid
        if message is None:
            log.info("status %r for unknown message %s ignored", reported, sid)
            return Response(status_code=200)
        account_id = message.contact.account_id  # type: ignore[attr-defined]
        actor = Actor.plugin(account_id, self.name)
        if code == str(UNSUBSCRIBED):
            reason = f"The recipient opted out of SMS (Twilio error {code})"
            await messages.sms_unsubscribed(actor, message.contact_id, reason)  # type: ignore[attr-defined]
        await messages.set_message_status(
            actor, message.id, status, provider_id=sid, error_code=code, error_message=error_message
        )
        return Response(status_code=200)

    async def recording_callback(self, request: Request) -> Response:
        """Twilio's RecordingStatusCallback: a finished recording is fetched (its RecordingUrl +
        ".mp3", with the account's credentials) and stored as the call's recording."""
        form = await self._verified_form(request)
        if isinstance(form, Response):
            return form
        assert self.config is not None and self.host is not None
        try:
            status = (_param(form, "RecordingStatus", required=True, max_length=32) or "").lower()
            if not _STATUS_WORD.fullmatch(status):
                raise MalformedCallback("RecordingStatus is not well formed")
            recording_sid = _param(form, "RecordingSid", required=True, max_length=64, pattern=_SID)
            call_sid = _param(form, "CallSid", max_length=64, pattern=_SID)
            url = _param(form, "RecordingUrl", required=status == "completed", max_length=_RECORDING_URL_MAX)
            ours = _our_call_id(request.query_params.get("call"))
            if url is not None:
                url = _twilio_media_url(url)
        except MalformedCallback as exc:
            return self._malformed(request, exc)
        assert recording_sid is not None
        if status != "completed" or url is None:  # in-progress, absent, failed: nothing to store
            log.info("recording %s of call %s: status %r, nothing stored", recording_sid, call_sid, status)
            return Response(status_code=200)
        target = await self._recording_call(ours, call_sid)
        if target is None:
            log.info("recording %s of unknown call %s (call=%s) ignored", recording_sid, call_sid, ours)
            return Response(status_code=200)
        call_id, account_id = target
        actor = Actor.plugin(account_id, self.name)
        try:
            await recordings.store_recording_from_url(
                actor,
                call_id,
                rebase(url + ".mp3", self.config.base_url),
                http=self.host.http,
                auth=(self.config.account_sid, self.config.auth_token),
                filename=f"{recording_sid}.mp3",
                provider_recording_id=recording_sid,
            )
        except recordings.RecordingUnavailable as exc:
            # 502: Twilio's debugger shows the failure; the recording stays at Twilio.
            log.warning(
                "recording %s of call %s could not be fetched: %s", recording_sid, call_id, exc.message
            )
            return PlainTextResponse(exc.message, status_code=502)
        except DomainError as exc:  # not audio, over the size limit, the call deleted meanwhile
            log.warning("recording %s of call %s was not stored: %s", recording_sid, call_id, exc.message)
            return PlainTextResponse(exc.message, status_code=400 if exc.code == "BAD_USER_INPUT" else 404)
        return Response(status_code=200)

    async def _recording_call(self, ours: int | None, call_sid: str | None) -> tuple[int, int] | None:
        """(call id, account id): the call named in the signed callback URL (`?call=<id>`, which
        whoever started the recording put there), else the call logged with this CallSid
        (logCall's providerCallId)."""
        if ours is not None:
            account_id = await recordings.account_of_call(ours)
            if account_id is not None:
                return ours, account_id
        if call_sid is not None:
            return await recordings.call_for_provider(call_sid)
        return None
