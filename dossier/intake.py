"""The public intake endpoint: `POST /forms/{key}` turns a web form's submission into a lead.

No API key: the form's key (`createForm`) is the credential, and it can be revoked. Answers:

- 201 `{"id": "<Lead global id>"}`: the lead is stored (a duplicate too, see crm/services/leads.py).
  Nothing else is said -- not whether the person was known -- so the endpoint cannot be used
  to find out who is a contact.
- 404 for an unknown or revoked key (the same answer for both);
- 413 for a body over 64 KB (the HTTP guard stops reading there: `path_limits` in create_app);
- 415 for a body that is neither JSON nor `application/x-www-form-urlencoded`;
- 400 for a body that cannot be read, and for a value the lead refuses (the field is named);
- 503 with `Retry-After` when SQLite's write lock stayed busy (DATABASE_BUSY; nothing written);
- 429 with `Retry-After` (seconds) past the rate limits: per form key and per client address,
  each a number of submissions per window (DOSSIER_INTAKE_LIMIT_PER_KEY,
  DOSSIER_INTAKE_LIMIT_PER_ADDRESS, DOSSIER_INTAKE_RATE_WINDOW). The counters live in Redis
  when DOSSIER_REDIS_URL is set, so every server process shares them (an unreachable Redis lets
  submissions in uncounted, with a warning); in the process otherwise.

The client address is the ASGI scope's `client`: uvicorn rewrites it from `X-Forwarded-For`
only when the connection comes from a trusted proxy (its `--forwarded-allow-ips`, the
FORWARDED_ALLOW_IPS variable; 127.0.0.1 by default). The endpoint never reads
`X-Forwarded-For` itself, which any client can write.

Field names (the same in JSON and url-encoded bodies):

- identity: `firstName`, `lastName`, `businessName`, `title`, `contactType`, `email`,
  `secondaryEmail`, `phone`, `secondaryPhone`, `street`, `city`, `state`, `zip`, `country`
  (snake_case spellings such as `first_name` too);
- `utm_source`, `utm_medium`, `utm_campaign`, `utm_term`, `utm_content`;
- `variant`, `referrer` (else the request's `Referer` header);
- `referralCode` (or `referral_code`, or `ref` as the landing page received it from
  `GET /r/{code}`): the contact whose code it is becomes the new contact's inviter (a code
  unknown in the form's account, another account's included, is ignored; see
  crm/services/referrals.py);
- `privacyOptIn`, `communicationOptIn` (or snake_case): consent checkboxes; true/yes/on/1 opt
  in, false/no/off/0 opt out, source FORM; left out changes nothing;
- names starting with `_` are ignored (honeypots, CSRF tokens of the page's own framework);
- every other field is an answer: the field's name is the question, its value the answer.
  A repeated url-encoded field (checkboxes) or a JSON list gives one answer joined with ", ".

The lead's IP address is the client address; the form's name is the lead's form name.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qsl

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from crm.errors import BadInput, DatabaseBusy
from crm.services import leads as lead_service
from graph.http_errors import error_response, request_id_of
from graph.ids import global_id_text

log = logging.getLogger("dossier.intake")

INTAKE_PATH = "/forms/{key}"
INTAKE_PREFIX = "/forms/"
MAX_INTAKE_BYTES = 64 * 1024

_IDENTITY = {
    "firstName": "first_name", "lastName": "last_name", "businessName": "business_name",
    "title": "title", "contactType": "contact_type", "email": "email",
    "secondaryEmail": "secondary_email", "phone": "phone", "secondaryPhone": "secondary_phone",
    "street": "street", "city": "city", "state": "state", "zip": "zip", "country": "country",
}  # fmt: skip
IDENTITY_NAMES = {**_IDENTITY, **{column: column for column in _IDENTITY.values()}}
UTM_NAMES = {f"utm_{part}": part for part in ("source", "medium", "campaign", "term", "content")}
REFERRAL_NAMES = frozenset({"referralCode", "referral_code", "ref"})
OPT_IN_NAMES = {
    "privacyOptIn": "privacy", "privacy_opt_in": "privacy",
    "communicationOptIn": "communication", "communication_opt_in": "communication",
}  # fmt: skip
_YES = frozenset({"true", "yes", "on", "1"})
_NO = frozenset({"false", "no", "off", "0"})
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}


class RateLimiter(Protocol):
    async def hit(self, bucket: str, limit: int, window: float) -> float | None:
        """Count one request in `bucket`; the seconds until it may retry when over `limit`."""

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Fixed windows counted in this process (one server process, or tests)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, int]] = {}  # bucket -> (window number, count)

    async def hit(self, bucket: str, limit: int, window: float) -> float | None:
        now = self._clock()
        number = int(now // window)
        if len(self._counts) > 50_000:  # forget the windows that are over
            self._counts = {b: c for b, c in self._counts.items() if c[0] >= number}
        seen, count = self._counts.get(bucket, (number, 0))
        count = count + 1 if seen == number else 1
        self._counts[bucket] = (number, count)
        return (number + 1) * window - now if count > limit else None

    async def close(self) -> None:
        self._counts.clear()


class RedisRateLimiter:
    """Fixed windows counted in Redis (INCR, expiring with the window): shared by every process."""

    def __init__(self, url: str) -> None:
        self._redis = redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)

    async def hit(self, bucket: str, limit: int, window: float) -> float | None:
        now = time.time()
        number = int(now // window)
        key = f"dossier:intake:{bucket}:{number}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, max(1, math.ceil(window)) + 1)
                count, _ = await pipe.execute()
        except (OSError, RedisError):
            # Open, not shut: a Redis outage must not turn every web form away. Logged, so it
            # is seen; the body limit and the per-key revocation still hold meanwhile.
            log.warning("intake rate limit not counted: Redis unreachable", exc_info=True)
            return None
        return (number + 1) * window - now if int(count) > limit else None

    async def close(self) -> None:
        await self._redis.aclose()


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()


class Intake:
    """The endpoint, with its limits and its rate limiter (one per app)."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        per_key: int,
        per_address: int,
        window: float,
        max_bytes: int = MAX_INTAKE_BYTES,
    ) -> None:
        self.limiter = limiter
        self.per_key = per_key
        self.per_address = per_address
        self.window = window
        self.max_bytes = max_bytes

    async def endpoint(self, request: Request) -> Response:
        request_id = request_id_of(request.scope)
        if request.method == "OPTIONS":  # a browser's preflight for a JSON POST from another site
            return Response(status_code=204, headers=_CORS)
        address = request.client.host if request.client else "unknown"
        retry = await self.limiter.hit(f"address:{address}", self.per_address, self.window)
        if retry is not None:
            return _too_many(request_id, retry, f"this address sent more than {self.per_address} submissions")
        form = await lead_service.live_form(request.path_params["key"])
        if form is None:
            return _refusal(404, "no form with this key: it is unknown or was revoked", request_id)
        retry = await self.limiter.hit(f"form:{form.id}", self.per_key, self.window)
        if retry is not None:
            return _too_many(request_id, retry, f"this form received more than {self.per_key} submissions")
        body = await _read(request, self.max_bytes)
        if body is None:
            return _refusal(
                413,
                f"the body is over the limit of {self.max_bytes:,} bytes",
                request_id,
                limit=self.max_bytes,
            )
        try:
            fields = _fields(request.headers.get("content-type", ""), body)
            submission = _submission(fields)
        except _Unsupported as exc:
            return _refusal(415, str(exc), request_id)
        except (ValueError, BadInput) as exc:
            return _refusal(400, str(exc), request_id)
        identity = submission["identity"]
        if request.client and _is_ip(request.client.host):  # not for a unix socket's peer
            identity["ip_address"] = request.client.host
        # The browser's Referer is no field the visitor typed: cut to size rather than refused.
        referer = (request.headers.get("referer") or "")[: lead_service.REFERRER_MAX] or None
        try:
            result = await lead_service.submit_lead(
                lead_service.form_actor(form),
                form_name=form.name,
                identity=identity,
                answers=submission["answers"],
                utm=submission["utm"] or None,
                variant=submission["variant"],
                referrer=submission["referrer"] or referer,
                form=form,
                referral_code=submission["referral_code"],
                opt_ins=submission["opt_ins"],
            )
        except BadInput as exc:
            return _refusal(400, exc.message, request_id, code="BAD_USER_INPUT", field=exc.field)
        except DatabaseBusy as exc:  # SQLite's write lock held past the busy timeout: nothing written
            return error_response(
                503, exc.message, request_id, code=exc.code, headers={**_CORS, "Retry-After": "1"}
            )
        body_out = {"id": global_id_text("Lead", result.lead.id)}
        return Response(orjson.dumps(body_out), status_code=201, media_type="application/json", headers=_CORS)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def _read(request: Request, limit: int) -> bytes | None:
    """The body, or None once it passes `limit` (not read further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class _Unsupported(Exception):
    pass


def _fields(content_type: str, body: bytes) -> list[tuple[str, Any]]:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"the body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError('the JSON body must be an object of fields, e.g. {"email": "ada@example.com"}')
        return list(data.items())
    if kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("the url-encoded body is not UTF-8") from None
        return parse_qsl(text, keep_blank_values=True, max_num_fields=1000)
    raise _Unsupported(
        "send the fields as application/json or application/x-www-form-urlencoded"
        + (f", not {kind}" if kind else "")
    )


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return ", ".join(str(item) for item in value)
    raise ValueError(f"field {name!r} must be text, a number, true/false or a list of those")


def _submission(fields: list[tuple[str, Any]]) -> dict[str, Any]:
    values: dict[str, list[str]] = {}
    for name, raw in fields:
        if not isinstance(name, str) or name.startswith("_"):
            continue
        text = _text(name, raw)
        if text is not None:
            values.setdefault(name, []).append(text)
    joined = {name: ", ".join(parts) for name, parts in values.items()}
    identity: dict[str, Any] = {}
    utm: dict[str, str] = {}
    answers: list[dict[str, str]] = []
    variant = referrer = referral_code = None
    opt_ins: dict[str, bool] = {}
    for name, text in joined.items():
        if name in REFERRAL_NAMES:
            referral_code = text
        elif name in OPT_IN_NAMES:
            answer = text.strip().lower()
            if answer not in _YES | _NO:
                raise ValueError(f"field {name!r} must be true or false (yes/no, on/off, 1/0), not {text!r}")
            opt_ins[OPT_IN_NAMES[name]] = answer in _YES
        elif name in IDENTITY_NAMES:
            identity[IDENTITY_NAMES[name]] = text
        elif name in UTM_NAMES:
            utm[UTM_NAMES[name]] = text
        elif name == "variant":
            variant = text
        elif name == "referrer":
            referrer = text
        else:
            answers.append({"question": name, "answer": text})
    return {
        "identity": identity, "utm": utm, "answers": answers, "variant": variant, "referrer": referrer,
        "referral_code": referral_code, "opt_ins": opt_ins,
    }  # fmt: skip


def _refusal(status: int, message: str, request_id: str, **extensions: Any) -> Response:
    code = extensions.pop("code", None)
    return error_response(status, message, request_id, code=code, headers=_CORS, **extensions)


def _too_many(request_id: str, retry_after: float, why: str) -> Response:
    seconds = max(1, math.ceil(retry_after))
    return error_response(
        429,
        f"{why} in {seconds} s; try again after that",
        request_id,
        code="RATE_LIMITED",
        headers={**_CORS, "Retry-After": str(seconds)},
        retryAfter=seconds,
    )


__all__ = [
    "INTAKE_PATH",
    "INTAKE_PREFIX",
    "Intake",
    "MemoryRateLimiter",
    "RedisRateLimiter",
    "make_rate_limiter",
]
