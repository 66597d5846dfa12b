"""Testing a Dossier plugin against a real Dossier: an app with your plugin loaded on a
temporary SQLite file, an account and its API keys, delivery of queued events when you say
so, and fakes of the providers (Twilio, SMTP, any HTTP endpoint) served on 127.0.0.1.

    from dossier.plugin.testing import start_dossier

    async def test_my_plugin():
        async with start_dossier(MyPlugin(), env={"DOSSIER_MY_URL": "..."}) as dossier:
            contact = await dossier.graphql(CREATE_CONTACT, {"input": {...}})
            await dossier.deliver()  # every hook call (and retry) that is due, now
            ...

Nothing here reaches the network beyond 127.0.0.1. The SMTP fake needs `aiosmtpd`
(`pip install "dossier-crm[testing]"`, which also brings pytest and pytest-asyncio).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from crm.events import ActorSnapshot, CardEvent, ContactSnapshot
from dossier.plugin.testing.twilio import (
    FROM_NUMBER,
    PUBLIC_URL,
    FakeTwilio,
    fresh,
    serve_twilio,
    signed_headers,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from dossier.plugin.testing.smtp import FakeSmtpServer

INBOUND_SMS_PATH = "/webhooks/twilio/sms"  # where Twilio posts inbound texts (the `twilio` plugin)


class GraphQLErrors(AssertionError):
    """The operation answered with errors (`.errors`: the list, each with extensions.code)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(json.dumps(errors, indent=2))
        self.errors = errors

    @property
    def codes(self) -> list[str | None]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]


@dataclass
class RunningDossier:
    """A started Dossier app, an HTTP client on it, and an account with its admin's key."""

    app: Starlette
    client: httpx.AsyncClient
    account: str
    key: str  # the account admin's API key
    twilio: FakeTwilio | None = None
    _sms_count: int = field(default=0, init=False, repr=False)

    async def post(
        self, query: str, variables: Mapping[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """The whole GraphQL response (`data` and `errors`), as the admin or as `key`."""
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": dict(variables or {})},
            headers={"Authorization": f"Bearer {key or self.key}"},
        )
        return response.json()  # type: ignore[no-any-return]

    async def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """The response's `data`; raises GraphQLErrors when there were errors."""
        body = await self.post(query, variables, key=key)
        if body.get("errors"):
            raise GraphQLErrors(body["errors"])
        return body["data"]  # type: ignore[no-any-return]

    async def deliver(self) -> int:
        """Deliver every queued event that is due, retries included, and wait for the hooks to
        finish; returns how many (event, plugin) deliveries were made. With the default
        `outbox_backoff_base=0` a failing hook is retried within the same call until it
        succeeds or is dead-lettered after `outbox_max_attempts` (3 here) attempts."""
        return await self.app.state.dossier.dispatcher.drain()

    async def add_user(self, name: str, email: str, role: str = "rep") -> str:
        """Another user of the account (`admin`, `manager` or `rep`); returns their API key."""
        from crm.services.accounts import create_user

        return (await create_user(self.account, name, email, role)).key

    async def add_account(self, name: str, admin_email: str, admin_name: str | None = None) -> str:
        """Another tenant (to test that your plugin keeps accounts apart); its admin's key."""
        from crm.services.accounts import create_account

        return (await create_account(name, admin_email, admin_name)).key

    async def receive_sms(
        self, sender: str, body: str, *, to: str = FROM_NUMBER, sid: str | None = None
    ) -> str:
        """A text from `sender` arriving as Twilio posts it: a signed webhook to the `twilio`
        plugin, which threads it on the contact with that phone (or creates a lead) and
        queues `sms_received` (and `contact_created` for a lead). Needs `twilio=` in
        `start_dossier`. Returns the message sid used (Twilio's retries reuse it)."""
        if self.twilio is None:
            raise RuntimeError("start_dossier(..., twilio=fake) to receive texts: the twilio plugin needs it")
        self._sms_count += 1
        message_sid = sid or f"SM{self._sms_count:032x}"
        form = {
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "AccountSid": self.twilio.account_sid,
            "From": sender,
            "To": to,
            "Body": body,
            "NumMedia": "0",
        }
        headers = signed_headers(INBOUND_SMS_PATH, form, token=self.twilio.auth_token)
        response = await self.client.post(INBOUND_SMS_PATH, data=form, headers=headers)
        if response.status_code != 200:
            raise AssertionError(f"the twilio webhook answered {response.status_code}: {response.text}")
        return message_sid


_templates: dict[str, Path] = {}
_template_lock = threading.Lock()


def _migrated_template() -> Path:
    """One migrated SQLite file per process; each app starts from a copy (migrating is slower)."""
    with _template_lock:
        if "sqlite" not in _templates or not _templates["sqlite"].exists():
            from crm.db import migrate_database

            path = Path(tempfile.mkdtemp(prefix="dossier-template-")) / "template.db"
            with concurrent.futures.ThreadPoolExecutor(1) as pool:  # its own loop and ORM context
                pool.submit(asyncio.run, migrate_database(f"sqlite://{path}")).result()
            _templates["sqlite"] = path
        return _templates["sqlite"]


@asynccontextmanager
async def start_dossier(
    *plugins: object,
    env: Mapping[str, str] | None = None,
    twilio: FakeTwilio | None = None,
    smtp: FakeSmtpServer | None = None,
    account: str = "Acme",
    admin_email: str = "boss@acme.example.com",
    admin_name: str = "Rita Boss",
    database_url: str | None = None,
    **settings: Any,
) -> AsyncIterator[RunningDossier]:
    """`async with start_dossier(MyPlugin(), env={...}) as dossier:` a Dossier app with your
    plugin objects loaded (as `create_app(plugins=[...])` does), started (its lifespan: the
    database, every plugin's `startup` and `capabilities`), on a fresh SQLite file unless
    `database_url` is given, with one account and its admin's key.

    `env` holds your DOSSIER_* settings; `twilio=`/`smtp=` point the built-in SMS and email
    plugins at those fakes. Installed partner packages are not loaded (only the built-ins and
    your plugins). Events are delivered only when you call `dossier.deliver()`; any Settings
    field can be overridden by keyword (`run_dispatcher=True` delivers in the background as
    a server does)."""
    from dossier import Settings, create_app

    merged = dict(env or {})
    public_url = settings.pop("public_url", None)
    if twilio is not None:
        merged = {**twilio.env(), **merged}
        public_url = public_url or PUBLIC_URL
    if smtp is not None:
        merged = {**smtp.env(), **merged}
    with tempfile.TemporaryDirectory(prefix="dossier-test-") as scratch:
        if database_url is None:
            database = Path(scratch) / "dossier.db"
            shutil.copy(_migrated_template(), database)
            database_url = f"sqlite://{database}"
        base = Settings(
            database_url=database_url,
            run_dispatcher=False,  # deliver with `dossier.deliver()`
            load_entry_points=False,  # only the plugins under test, and the built-ins
            outbox_backoff_base=0.0,  # retries are due at once
            outbox_max_attempts=3,
            public_url=public_url,
            env=merged,
        )
        app = create_app(replace(base, **settings), plugins=plugins)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
                from crm.services.accounts import create_account

                issued = await create_account(account, admin_email, admin_name)
                yield RunningDossier(app, client, account, issued.key, twilio)


# --------------------------------------------------------------------------------------
# Events for unit tests of a hook, without an app
# --------------------------------------------------------------------------------------


def card_event(
    kind: str = "CONTACT_UPDATED",
    *,
    subject: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    contact: Mapping[str, Any] | None = None,
    actor: Mapping[str, Any] | None = None,
    **fields: Any,
) -> CardEvent:
    """A CardEvent as the dispatcher hands it to a hook, for calling your hook directly:
    `card_event("DEAL_UPDATED", changes={"status": ["OPEN", "WON"]}, subject={...})`.
    `contact` and `actor` override fields of a made-up card (Grace Hopper, contact 7 of
    account 1) and user (Rita Boss); any other CardEvent field by keyword (`id=`, ...)."""
    account_id = fields.pop("account_id", 1)
    contact_id = fields.pop("contact_id", 7)
    person = {
        "id": contact_id,
        "account_id": account_id,
        "display_name": "Grace Hopper",
        "first_name": "Grace",
        "last_name": "Hopper",
        "business_name": None,
        "email": "grace@example.com",
        "phone": "+14155550123",
        "status": "lead",
        "sub_status": None,
        **(contact or {}),
    }
    who = {"kind": "USER", "name": "Rita Boss", "user_id": 3, **(actor or {})}
    values: dict[str, Any] = {
        "id": "00000000-0000-4000-8000-000000000001",
        "kind": kind,
        "account_id": account_id,
        "contact_id": contact_id,
        "occurred_at": datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
        "summary": f"Rita Boss: {kind.replace('_', ' ').lower()}",
        "changes": dict(changes or {}),
        "subject_type": subject_type,
        "subject_id": subject_id,
        "subject": dict(subject or {}),
        **fields,
    }
    return CardEvent(actor=ActorSnapshot(**who), contact=ContactSnapshot(**person), **values)


# --------------------------------------------------------------------------------------
# Any HTTP endpoint your plugin calls (a chat webhook, a partner API)
# --------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class FakeEndpoint:
    """An HTTP server on 127.0.0.1 that records every request and answers with the queued
    `statuses` (then `status`, 200 by default) and `reply` as the body."""

    url: str = ""  # http://127.0.0.1:<port>
    received: list[Request] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    status: int = 200
    reply: bytes = b"ok"
    content_type: str = "text/plain"

    def json_bodies(self) -> list[Any]:
        return [r.json() for r in self.received]


@contextmanager
def fake_endpoint() -> Iterator[FakeEndpoint]:
    """`with fake_endpoint() as hook:` then point your plugin at `hook.url + "/any/path"`."""
    fake = FakeEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.received.append(Request(self.command, self.path, headers, body))
            status = fake.statuses.pop(0) if fake.statuses else fake.status
            self.send_response(status)
            self.send_header("Content-Type", fake.content_type)
            self.send_header("Content-Length", str(len(fake.reply)))
            self.end_headers()
            self.wfile.write(fake.reply)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def __getattr__(name: str) -> Any:
    # The SMTP fake needs aiosmtpd (the "testing" extra): imported only when asked for.
    if name == "FakeSmtpServer":
        try:
            from dossier.plugin.testing.smtp import FakeSmtpServer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                f'FakeSmtpServer needs aiosmtpd ({exc}): pip install "dossier-crm[testing]"'
            ) from exc
        return FakeSmtpServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FROM_NUMBER",
    "INBOUND_SMS_PATH",
    "PUBLIC_URL",
    "FakeEndpoint",
    "FakeSmtpServer",
    "FakeTwilio",
    "GraphQLErrors",
    "Request",
    "RunningDossier",
    "card_event",
    "fake_endpoint",
    "fresh",
    "serve_twilio",
    "signed_headers",
    "start_dossier",
]
