"""Shared fixtures: every test that takes `api` runs on SQLite and on PostgreSQL.

PostgreSQL is the local server (127.0.0.1:5432, trust auth). Without it the PostgreSQL
half is skipped, except under CI=true, where a missing PostgreSQL fails the run.
Set DOSSIER_TEST_POSTGRES_URL to point elsewhere, DOSSIER_TEST_BACKENDS=sqlite to skip it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as redis
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from crm.db import migrate_database
from crm.services import accounts
from dossier import Settings, create_app

PG_SERVER = os.environ.get("DOSSIER_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = f"dossier_test_{os.getpid()}"
BACKENDS = [b.strip() for b in os.environ.get("DOSSIER_TEST_BACKENDS", "sqlite,postgres").split(",") if b]
IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("DOSSIER_TEST_REDIS_URL", "redis://127.0.0.1:6379")


# --------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------


def run_sync(coro: Any) -> Any:
    """Run a coroutine to completion from sync code, even while a test's loop is running."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    try:
        run_sync(_pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        run_sync(_pg_admin(f"CREATE DATABASE {PG_DATABASE}"))
    except (OSError, asyncpg.PostgresError) as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true and is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}: {exc}")
    url = f"{PG_SERVER}/{PG_DATABASE}"
    run_sync(migrate_database(url))
    yield url
    run_sync(_pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_sync(migrate_database(f"sqlite://{path}"))
    return path


async def _truncate_postgres(url: str) -> None:
    """Empty every table and restart every sequence, as TRUNCATE ... RESTART IDENTITY would.
    DELETE with foreign-key triggers off (replica role; the tables all end empty) and setval
    take ~2 ms here against ~120 ms for a TRUNCATE of every table, once per PostgreSQL test."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'tortoise_migrations'"
        )
        sequences = await conn.fetch(
            "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'"
            " AND sequence_name NOT LIKE 'tortoise_migrations%'"
        )
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("; ".join(f'DELETE FROM "{t["tablename"]}"' for t in tables))
        if sequences:
            restart = ", ".join(f"setval('\"{s['sequence_name']}\"', 1, false)" for s in sequences)
            await conn.execute(f"SELECT {restart}")
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a SQLite file, or the session's PostgreSQL database truncated."""
    if request.param == "sqlite":
        target = tmp_path / "dossier.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite://{target}"
    url = request.getfixturevalue("postgres_url")
    await _truncate_postgres(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The dispatcher does not run by itself in tests: they call `drain()` and see its effects
    # at once; retries are due immediately so a drain walks a row through all its attempts.
    # Attachments go to the test's own folder (on PostgreSQL the default is the working dir).
    return Settings(
        database_url=database_url,
        run_dispatcher=False,
        load_entry_points=False,
        outbox_backoff_base=0.0,
        outbox_max_attempts=3,
        storage_dir=str(tmp_path / "files"),
        secret_key="test-secret-key",
    )


# --------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------


class GraphQLErrorResponse(AssertionError):
    pass


@dataclass
class Api:
    app: Starlette
    client: httpx.AsyncClient
    key: str | None = None

    @property
    def runtime(self) -> Any:
        return self.app.state.dossier

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        headers = {}
        token = key or self.key
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        return response.json()

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """The response's data; fails the test if there were errors."""
        body = await self.post(query, variables, key=key)
        if body.get("errors"):
            raise GraphQLErrorResponse(body["errors"])
        return body["data"]

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """The response's only error; fails the test if the operation succeeded."""
        body = await self.post(query, variables, key=key)
        errors = body.get("errors") or []
        assert len(errors) == 1, f"expected one error, got {body}"
        return errors[0]

    def as_(self, key: str) -> Api:
        return replace(self, key=key)


@dataclass
class Tenant:
    """An account with one user of each role."""

    name: str
    admin_key: str
    manager_key: str
    rep_key: str
    user_ids: dict[str, int] = field(default_factory=dict)


async def make_tenant(name: str) -> Tenant:
    domain = name.lower().replace(" ", "") + ".example.com"
    admin = await accounts.create_account(name, f"admin@{domain}", f"{name} Admin")
    manager = await accounts.create_user(name, f"{name} Manager", f"manager@{domain}", "manager")
    rep = await accounts.create_user(name, f"{name} Rep", f"rep@{domain}", "rep")
    return Tenant(
        name,
        admin.key,
        manager.key,
        rep.key,
        {"admin": admin.user.id, "manager": manager.user.id, "rep": rep.user.id},
    )


AppFactory = Callable[..., Any]


@pytest.fixture
def running_app(settings: Settings) -> AppFactory:
    """`async with running_app(plugins=[...]) as api:` a started app (lifespan run) and a client."""

    @asynccontextmanager
    async def start(*, plugins: tuple[object, ...] = (), **overrides: Any) -> AsyncIterator[Api]:
        app = create_app(replace(settings, **overrides), plugins=plugins)
        # Generous timeouts: a loaded CI machine can take seconds to drain the dispatcher.
        async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
                yield Api(app, client)

    return start


@pytest.fixture
async def api(running_app: AppFactory) -> AsyncIterator[Api]:
    async with running_app() as started:
        yield started


@pytest.fixture
async def acme(api: Api) -> Tenant:
    return await make_tenant("Acme")


@pytest.fixture
async def globex(api: Api) -> Tenant:
    return await make_tenant("Globex")


@pytest.fixture
def as_admin(api: Api, acme: Tenant) -> Api:
    return api.as_(acme.admin_key)


# --------------------------------------------------------------------------------------
# Counting SQL statements
# --------------------------------------------------------------------------------------

_STATEMENT = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


class StatementCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.args[0] if isinstance(record.args, tuple) and record.args else record.msg
        if isinstance(text, str) and text.lstrip().upper().startswith(_STATEMENT):
            self.statements.append(text)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements() -> Iterator[Callable[[], Any]]:
    """`with count_statements() as counter: ...` then `counter.count`."""
    logger = logging.getLogger("tortoise.db_client")
    handlers: list[StatementCounter] = []
    old_level = logger.level

    class _Scope:
        def __enter__(self) -> StatementCounter:
            handler = StatementCounter()
            handlers.append(handler)
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
            return handler

        def __exit__(self, *exc: object) -> None:
            logger.removeHandler(handlers[-1])

    yield _Scope
    for handler in handlers:
        logger.removeHandler(handler)
    logger.setLevel(old_level)


# --------------------------------------------------------------------------------------
# The fake Twilio API (tests/fakes/twilio_api.py), for the SMS and phone tests
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[Any]:
    from tests.fakes.twilio_api import serve_twilio

    with serve_twilio() as fake:
        yield fake


@pytest.fixture
def twilio(twilio_server: Any) -> Iterator[Any]:
    """The module's fake Twilio, reset for this test."""
    from tests.fakes.twilio_api import fresh

    with fresh(twilio_server) as fake:
        yield fake


@asynccontextmanager
async def twilio_app(running_app: AppFactory, twilio: Any, **overrides: Any) -> AsyncIterator[Api]:
    """A started app whose Twilio plugin talks to the fake, with Acme's admin key."""
    from tests.fakes.twilio_api import PUBLIC_URL

    async with running_app(env=twilio.env(), public_url=PUBLIC_URL, **overrides) as app:
        acme = await make_tenant("Acme")
        yield app.as_(acme.admin_key)


# --------------------------------------------------------------------------------------
# Redis, for the tests of several processes sharing live updates
# --------------------------------------------------------------------------------------


@pytest.fixture
async def redis_url() -> str:
    """The local Redis (DOSSIER_TEST_REDIS_URL); skipped when it is down, except under CI=true."""
    client = redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        if IN_CI:
            pytest.fail(f"Redis is required under CI=true and is not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    finally:
        await client.aclose()
    return REDIS_URL
