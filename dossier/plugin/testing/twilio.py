"""A fake of Twilio's HTTP API (Messages and Lookup v2), served by uvicorn on 127.0.0.1.

The real `twilio` SDK talks to it (DOSSIER_TWILIO_BASE_URL points Dossier here), so the SDK's
own request building, auth and error parsing run. The fake checks basic auth, records every
request, and can be told, per test:

- the line type of a number (`line_types[number] = "landline"`; default `mobile`);
- to fail sends or lookups with a Twilio error JSON (`fail_sends(400, 21610)`, `fail_sends(500)`);
- to answer after N seconds (`delay = 1.0`, for the benchmark);
- to hold sends until the test releases them (`hold()` / `release()`; `wait_for_sends(n)`);
- to leave accepted texts queued (`sends_stay_queued = True`: no date_sent yet, as Twilio shows
  a text waiting in its queue);
- to serve call recordings (`recordings[sid] = mp3 bytes`, fetched by Dossier from
  `recording_url(sid)` + ".mp3" with basic auth, as Twilio serves them; an unknown sid is 404).

It keeps every text it accepted and lists them like Twilio's Messages list: `GET
.../Messages.json` filtered by `To`, `From` and `DateSent` / `DateSent>` / `DateSent<` (by
date only, as Twilio does: `DateSent>=2026-12-05`), newest first, in pages (`PageSize`,
`Page`, `PageToken`, `next_page_uri`), so the SDK's own paging runs.

The server runs in its own thread and event loop, so a held request never blocks the test's loop.
Serve it with `serve_twilio()` (e.g. in a module-scoped fixture) and reset it per test with `fresh()`.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import email.utils
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "f" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
FROM_NUMBER = "+14155550000"
PUBLIC_URL = "https://crm.example.com"

_ERRORS = {
    21211: "The 'To' number is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    20500: "An internal server error has occurred",
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    auth: tuple[str, str] | None


@dataclass
class Failure:
    status: int
    code: int | None
    times: int | None  # None: every request until cleared


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    requests: list[Recorded] = field(default_factory=list)
    line_types: dict[str, str] = field(default_factory=dict)
    default_line_type: str = "mobile"
    delay: float = 0.0
    url: str = ""  # where the fake is served (set by the `twilio_server` fixture)
    sids: list[str] = field(default_factory=list)  # the SM... sid of every message accepted
    accepted: list[dict[str, Any]] = field(default_factory=list)  # every text accepted, as Twilio shows it
    sends_stay_queued: bool = False
    recordings: dict[str, bytes] = field(default_factory=dict)  # RE... sid -> the mp3's bytes
    _send_failure: Failure | None = None
    _lookup_failure: Failure | None = None
    _list_failure: Failure | None = None
    _open: threading.Event = field(default_factory=threading.Event)
    _arrived: threading.Condition = field(default_factory=threading.Condition)
    _answered: int = 0

    def __post_init__(self) -> None:
        self._open.set()

    # -- what tests tell it ------------------------------------------------------------

    def reset(self) -> None:
        self.requests.clear()
        self.sids.clear()
        self.accepted.clear()
        self.recordings.clear()
        self.sends_stay_queued = False
        self.line_types.clear()
        self.default_line_type = "mobile"
        self.delay = 0.0
        self._send_failure = self._lookup_failure = self._list_failure = None
        self._answered = 0
        self._open.set()

    def fail_sends(self, status: int, code: int | None = None, *, times: int | None = None) -> None:
        self._send_failure = Failure(status, code, times)

    def fail_lookups(self, status: int, code: int | None = None, *, times: int | None = None) -> None:
        self._lookup_failure = Failure(status, code, times)

    def fail_lists(self, status: int, code: int | None = None, *, times: int | None = None) -> None:
        self._list_failure = Failure(status, code, times)

    def heal(self) -> None:
        self._send_failure = self._lookup_failure = self._list_failure = None

    def hold(self) -> None:
        """Sends received from now on wait until `release()`."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait_for_sends(self, count: int, timeout: float = 10.0) -> None:
        """Block (call it in a thread) until `count` sends have arrived."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.sends) >= count, timeout):
                raise TimeoutError(f"expected {count} sends, got {len(self.sends)}")

    # -- what tests read ---------------------------------------------------------------

    @property
    def sends(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")]

    @property
    def listings(self) -> list[Recorded]:
        """Messages list requests (a resumed send looking for its earlier try)."""
        return [r for r in self.requests if r.method == "GET" and r.path.endswith("/Messages.json")]

    def duplicates(self) -> int:
        """Texts accepted more than once (same To, From and body): copies beyond the first."""
        counts = collections.Counter((m["to"], m["from"], m["body"]) for m in self.accepted)
        return sum(n - 1 for n in counts.values())

    @property
    def recording_fetches(self) -> list[Recorded]:
        """Requests for a recording's media (GET .../Recordings/{sid}.mp3)."""
        return [r for r in self.requests if "/Recordings/" in r.path]

    def recording_url(self, sid: str) -> str:
        """A recording's RecordingUrl as Twilio's callback gives it (on api.twilio.com, no
        extension); Dossier rebases it onto this fake."""
        return f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"

    @property
    def lookups(self) -> list[str]:
        return [r.path.rsplit("/", 1)[1] for r in self.requests if "/PhoneNumbers/" in r.path]

    @property
    def in_flight(self) -> int:
        """Sends received and not answered yet."""
        return len(self.sends) - self._answered

    @property
    def answered(self) -> int:
        """Sends answered so far (a held send is not)."""
        return self._answered

    def env(self, **overrides: str) -> dict[str, str]:
        """The DOSSIER_* settings that point Dossier's Twilio plugin at this fake."""
        return {
            "DOSSIER_TWILIO_ACCOUNT_SID": self.account_sid,
            "DOSSIER_TWILIO_AUTH_TOKEN": self.auth_token,
            "DOSSIER_TWILIO_FROM": FROM_NUMBER,
            "DOSSIER_TWILIO_BASE_URL": self.url,
            **overrides,
        }

    # -- the HTTP API ------------------------------------------------------------------

    async def _record(self, request: Request) -> tuple[Recorded, JSONResponse | None]:
        try:
            body = await request.body()
        except ClientDisconnect:  # the caller died before its request was out: nothing arrived
            return Recorded(request.method, request.url.path, {}, {}, None), _error(400, None, "Disconnected")
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        auth = _basic_auth(request.headers.get("authorization"))
        recorded = Recorded(request.method, request.url.path, dict(request.query_params), form, auth)
        with self._arrived:
            self.requests.append(recorded)
            self._arrived.notify_all()
        if auth != (self.account_sid, self.auth_token):
            return recorded, _error(401, 20003, "Authenticate")
        return recorded, None

    @staticmethod
    def _take(failure: Failure | None) -> Failure | None:
        if failure is None or failure.times == 0:
            return None
        if failure.times is not None:
            failure.times -= 1
        return failure

    async def messages(self, request: Request) -> JSONResponse:
        recorded, refused = await self._record(request)
        if refused is not None:
            return refused
        if request.path_params["sid"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        await asyncio.to_thread(self._open.wait, 60)
        if self.delay:
            await asyncio.sleep(self.delay)
        try:
            failure = self._take(self._send_failure)
            if failure is not None:
                return _error(failure.status, failure.code, _ERRORS.get(failure.code or 0, "Error"))
            form, created = recorded.form, datetime.now(UTC)
            now = email.utils.format_datetime(created)
            sid = "SM" + secrets.token_hex(16)
            self.sids.append(sid)
            uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
            resource = {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": form.get("Body"),
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": f"{uri}/Media.json"},
                "to": form.get("To"),
                "uri": f"{uri}.json",
            }
            # As listed later: sent at once (date_sent set), unless told to keep texts queued.
            listed = dict(resource, _created=created)
            if not self.sends_stay_queued:
                listed.update(status="sent", date_sent=now, _sent=created)
            self.accepted.append(listed)
            return JSONResponse(resource, status_code=201)
        finally:
            self._answered += 1

    async def list_messages(self, request: Request) -> JSONResponse:
        """GET Messages.json: Twilio's list, filtered and paged the way Twilio does it."""
        _, refused = await self._record(request)
        if refused is not None:
            return refused
        if request.path_params["sid"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        failure = self._take(self._list_failure)
        if failure is not None:
            return _error(failure.status, failure.code, _ERRORS.get(failure.code or 0, "Error"))
        query = request.query_params
        try:
            bounds = {key: date.fromisoformat(query[key][:10]) for key in _DATE_FILTERS if query.get(key)}
            size = min(int(query.get("PageSize", "50")), 1000)
            page = int(query.get("Page", "0"))
        except ValueError:
            return _error(400, 20001, "Invalid parameter")

        def wanted(m: dict[str, Any]) -> bool:
            if query.get("To") and m["to"] != query["To"]:
                return False
            if query.get("From") and m["from"] != query["From"]:
                return False
            if not bounds:
                return True
            sent = m.get("_sent")
            if sent is None:  # not sent yet: no date_sent, so no date filter matches it
                return False
            day = sent.date()
            return all(_DATE_FILTERS[key](day, bound) for key, bound in bounds.items())

        matches = sorted(
            (m for m in list(self.accepted) if wanted(m)), key=lambda m: m["_created"], reverse=True
        )
        chunk = matches[page * size : (page + 1) * size]
        base = request.url.path

        def page_uri(number: int) -> str:
            params = [(k, v) for k, v in query.multi_items() if k not in ("Page", "PageToken")]
            return f"{base}?{urlencode([*params, ('Page', number), ('PageToken', f'PA{number}')])}"

        has_next = (page + 1) * size < len(matches)
        return JSONResponse(
            {
                "messages": [{k: v for k, v in m.items() if not k.startswith("_")} for m in chunk],
                "end": page * size + max(len(chunk) - 1, 0),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if has_next else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": page * size,
                "uri": f"{base}?{request.url.query}",
            }
        )

    async def phone_number(self, request: Request) -> JSONResponse:
        _, refused = await self._record(request)
        if refused is not None:
            return refused
        if self.delay:
            await asyncio.sleep(self.delay)
        failure = self._take(self._lookup_failure)
        if failure is not None:
            return _error(failure.status, failure.code, _ERRORS.get(failure.code or 0, "Error"))
        number = request.path_params["number"]
        wanted = request.query_params.get("Fields", "")
        line = None
        if "line_type_intelligence" in wanted:
            line = {
                "carrier_name": "Fake Wireless" if self.line_types.get(number) != "landline" else "Fake Bell",
                "error_code": None,
                "mobile_country_code": "310",
                "mobile_network_code": "456",
                "type": self.line_types.get(number, self.default_line_type),
            }
        return JSONResponse(
            {
                "calling_country_code": "1",
                "country_code": "US",
                "phone_number": number,
                "national_format": number,
                "valid": True,
                "validation_errors": [],
                "caller_name": None,
                "sim_swap": None,
                "call_forwarding": None,
                "line_status": None,
                "line_type_intelligence": line,
                "identity_match": None,
                "reassigned_number": None,
                "sms_pumping_risk": None,
                "phone_number_quality_score": None,
                "pre_fill": None,
                "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{number}",
            }
        )

    async def recording_media(self, request: Request) -> Response:
        """GET .../Recordings/{sid}.mp3: the recording's audio, as Twilio serves it."""
        _, refused = await self._record(request)
        if refused is not None:
            return refused
        if request.path_params["sid"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        audio = self.recordings.get(request.path_params["recording"])
        if audio is None:
            return _error(404, 20404, "The requested resource was not found")
        return Response(audio, media_type="audio/mpeg")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/2010-04-01/Accounts/{sid}/Recordings/{recording}.mp3",
                    self.recording_media,
                    methods=["GET"],
                ),
                Route("/2010-04-01/Accounts/{sid}/Messages.json", self.messages, methods=["POST"]),
                Route("/2010-04-01/Accounts/{sid}/Messages.json", self.list_messages, methods=["GET"]),
                Route("/v2/PhoneNumbers/{number}", self.phone_number, methods=["GET"]),
            ]
        )


# Twilio's DateSent filters compare dates (the time of day is ignored).
_DATE_FILTERS = {
    "DateSent": lambda day, bound: day == bound,
    "DateSent>": lambda day, bound: day >= bound,
    "DateSent<": lambda day, bound: day <= bound,
}


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _error(status: int, code: int | None, message: str) -> JSONResponse:
    body: dict[str, Any] = {"status": status, "message": message}
    if code is not None:
        body["code"] = code
        body["more_info"] = f"https://www.twilio.com/docs/errors/{code}"
    return JSONResponse(body, status_code=status)


# --------------------------------------------------------------------------------------
# Serving it
# --------------------------------------------------------------------------------------


class Served:
    """An ASGI app served by uvicorn on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, args=([self._sock],), daemon=True)

    def __enter__(self) -> Served:
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return self
            threading.Event().wait(0.01)
        raise RuntimeError("the fake server did not start")

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


@contextmanager
def serve_twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio served on 127.0.0.1 for as long as the block runs (`fake.url` is its address)."""
    fake = FakeTwilio()
    with Served(fake.app()) as served:
        fake.url = served.url
        yield fake


@contextmanager
def fresh(fake: FakeTwilio) -> Iterator[FakeTwilio]:
    """The fake, reset for one test and released afterwards, so nothing stays held."""
    fake.reset()
    try:
        yield fake
    finally:
        fake.release()
        fake.reset()


# --------------------------------------------------------------------------------------
# Twilio calling Dossier back
# --------------------------------------------------------------------------------------


def signature(
    path: str, params: dict[str, str], token: str = AUTH_TOKEN, public_url: str = PUBLIC_URL
) -> str:
    """X-Twilio-Signature as Twilio computes it for a webhook POSTed to `public_url + path`."""
    return RequestValidator(token).compute_signature(public_url + path, params)


def signed_headers(path: str, params: dict[str, str], **kwargs: str) -> dict[str, str]:
    return {"X-Twilio-Signature": signature(path, params, **kwargs)}
