"""Fixtures for testing the plugin against a real Dossier app and a fake Slack on 127.0.0.1.

Nothing here is private to Dossier: the app comes from `dossier.create_app`, the account
from `crm.services.accounts`, and everything else goes through the GraphQL API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

# Test the source tree, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from crm.db import migrate_database
from crm.services.accounts import create_account
from dossier import Settings, create_app


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeSlack:
    """An incoming-webhook endpoint: records each POST, answers with the queued statuses (then 200)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [r.body["text"] for r in self.received]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status = fake.statuses.pop(0) if fake.statuses else 200
            reply = b"ok" if status == 200 else b"invalid_token"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}/services/T000/B000/secret"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class Dossier:
    """A started app, a client, and an admin's API key."""

    app: Starlette
    client: httpx.AsyncClient
    key: str = ""

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def deliver(self) -> int:
        """Run the outbox until nothing is due: every hook call (and retry) happens now."""
        return await self.app.state.dossier.dispatcher.drain()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test starts from a copy (migrating every time is slow)."""
    path = tmp_path_factory.mktemp("template") / "dossier.db"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, migrate_database(f"sqlite://{path}")).result()
    return path


@pytest.fixture
def start_dossier(tmp_path: Path, migrated_database: Path) -> Any:
    """`async with start_dossier(plugin, env={...}) as dossier:` an app on a fresh SQLite file."""

    @asynccontextmanager
    async def start(plugin: object, env: dict[str, str]) -> AsyncIterator[Dossier]:
        database = tmp_path / "dossier.db"
        shutil.copy(migrated_database, database)
        settings = Settings(
            database_url=f"sqlite://{database}",
            run_dispatcher=False,  # the tests deliver with `dossier.deliver()`
            load_entry_points=False,  # the plugin under test is passed in; nothing else installed
            outbox_backoff_base=0.0,  # retries are due at once
            outbox_max_attempts=3,
            env=env,
        )
        app = create_app(settings, plugins=[plugin])
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
                issued = await create_account("Acme", "boss@acme.example.com", "Rita Boss")
                yield Dossier(app, client, issued.key)

    return start
