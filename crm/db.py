"""Database set-up: tortoise configuration from a URL, connections, committed migrations."""

from __future__ import annotations

import asyncio
import copy
import importlib
import logging
import os
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import ConfigurationError
from tortoise.migrations.api import migrate
from tortoise.transactions import in_transaction

from crm import contact_sql, migration_cache, regions

log = logging.getLogger("dossier.db")

MODELS_APP = "models"
DEFAULT_CONNECTION = "default"
# PostgreSQL: a second client of the database whose sessions plan each statement for its values
# (custom_plans); opened and closed with the ORM's.
_planned_client: BaseDBAsyncClient | None = None
DEFAULT_SQLITE_BUSY_TIMEOUT = 10.0  # seconds; DOSSIER_SQLITE_BUSY_TIMEOUT


class PooledConnection(asyncpg.Connection):
    """asyncpg's pool resets a connection each time it is released, and tortoise releases one
    after every statement outside a transaction: `SELECT pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL` was one extra round trip per statement (twelve per card). Dossier
    keeps no session state (no SET, no advisory locks, no LISTEN, no cursors), so there is
    nothing to reset; asyncpg still rolls back a transaction left open before reuse."""

    def get_reset_query(self) -> str:
        return ""


def tortoise_config(
    database_url: str, *, sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT
) -> dict[str, Any]:
    """`sqlite_busy_timeout`: seconds a SQLite write waits for another process's write to finish."""
    url = database_url
    if url.startswith("postgresql://"):  # libpq spelling; tortoise knows "postgres://"
        url = "postgres://" + url.removeprefix("postgresql://")
    connection: str | dict[str, Any] = url
    if is_postgres(url):
        connection = expand_db_url(url)
        connection["credentials"]["connection_class"] = PooledConnection
        # JIT off for each session: compiling a statement's expressions cost the contacts table
        # 20-25 ms a request (a count over a large filter crosses jit_above_cost), and Dossier's
        # statements are short.
        connection["credentials"].setdefault("server_settings", {}).setdefault("jit", "off")
    elif url.startswith("sqlite://"):
        connection = expand_db_url(url)
        # BEGIN IMMEDIATE transactions, so a second writer (the CLI, another process) waits its
        # turn instead of failing with "database is locked"; see crm/sqlite.py.
        connection["engine"] = "crm.sqlite"
        # tortoise sets each credential that is not a path as a PRAGMA on every connection, in
        # order: the busy timeout first, so even `journal_mode` waits; one given in the URL wins.
        busy_ms = max(0, round(sqlite_busy_timeout * 1000))
        connection["credentials"] = {"busy_timeout": busy_ms, **connection["credentials"]}
    return {
        "connections": {DEFAULT_CONNECTION: connection},
        "apps": {
            MODELS_APP: {
                "models": ["crm.models"],
                "default_connection": DEFAULT_CONNECTION,
                "migrations": "crm.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def is_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))


@asynccontextmanager
async def custom_plans() -> AsyncIterator[None]:
    """The ORM's statements in the block are planned for their values (PostgreSQL; nothing on
    SQLite). asyncpg prepares every statement, and after five runs PostgreSQL may keep a generic
    plan that guesses the values: for a contacts-table filter a range guessed as 0.5% of the
    rows turned a 1 ms page into 145 ms (bench/filters.py 16 at 1M). Only around the table's
    filtered reads: planning every statement again cost the card 4 ms (bench/card.py).

    The block's statements go to a pool of their own whose sessions plan that way
    (`_planned_client`), not through a transaction with SET LOCAL: BEGIN, SET and COMMIT were
    three round trips, 2.5-5 ms of a table request on a loaded 2-core machine. Inside a
    transaction (its statements must stay on its connection) the transaction is set instead."""
    if not contact_sql.is_postgres():
        yield
        return
    planned = _planned_client
    in_a_transaction = isinstance(connections.get(DEFAULT_CONNECTION), TransactionalDBClient)
    if planned is not None and planned._check_loop() and not in_a_transaction:
        token = connections.set(DEFAULT_CONNECTION, planned)
        try:
            yield
        finally:
            connections.reset(token)
        return
    # In a transaction (a savepoint of it: its statements stay on its connection), or with no
    # second pool (the ORM opened without open_database).
    async with in_transaction() as conn:
        await conn.execute_script("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


# -- checking a URL before tortoise opens it -----------------------------------------------------

CONNECT_TIMEOUT = 5.0  # seconds the PostgreSQL check waits for the server
SUPPORTED = (
    "Dossier runs on SQLite (sqlite:///absolute/path/dossier.db, or sqlite://dossier.db in the current"
    " folder) or PostgreSQL (postgres://user:password@host:5432/dbname; postgresql:// works too)"
)


def redacted(database_url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    try:
        parts = urlsplit(database_url)
        if parts.password is None:
            return database_url
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
        netloc = f"{parts.username or ''}:***@{host}{port}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:  # an unparsable port: show the scheme only
        return database_url.split("://", 1)[0] + "://…"


async def database_problem(database_url: str, *, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """What keeps Dossier from using this database, in one line that says what to do; None if
    it can be opened. Run before tortoise touches the URL: an unusable SQLite path made tortoise
    hang (its first statement failed while holding the connection's lock, see crm/sqlite.py), an
    unsupported scheme or an unreachable PostgreSQL ended in a traceback."""
    problem = await _problem(database_url, timeout)
    return None if problem is None else f"database {redacted(database_url)} (DOSSIER_DATABASE_URL): {problem}"


async def _problem(database_url: str, timeout: float) -> str | None:
    scheme, sep, _ = database_url.partition("://")
    if not sep:
        return f"not a database URL. {SUPPORTED}"
    if scheme == "sqlite":
        try:
            path = expand_db_url(database_url)["credentials"]["file_path"]
        except (ConfigurationError, ValueError, KeyError) as exc:
            return f"not a usable SQLite URL ({exc}). {SUPPORTED}"
        return await asyncio.to_thread(sqlite_path_problem, path)
    if is_postgres(database_url):
        return await postgres_problem(database_url, timeout)
    return f"{scheme}:// is not supported. {SUPPORTED}"


def sqlite_path_problem(path: str) -> str | None:
    """Why SQLite cannot create, read and write the database file at `path`, or None."""
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    full = "/" + os.path.abspath(path).lstrip("/") if os.name == "posix" else os.path.abspath(path)
    folder = os.path.dirname(full)
    if os.path.isdir(full):
        return f"{full} is a folder, not a database file; name a file in it, e.g. sqlite://{full}/dossier.db"
    if not os.path.exists(folder):
        return (
            f"the folder {folder} does not exist; create it (mkdir -p {folder}) or name a file in an"
            " existing folder"
        )
    if not os.path.isdir(folder):
        return f"{folder} is a file, not a folder; name a database file in an existing folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"no permission to write in the folder {folder}: SQLite keeps the database and its -wal"
            " and -shm files there; let the user running dossier write there, or choose another folder"
        )
    if os.path.exists(full) and not os.access(full, os.R_OK | os.W_OK):
        return (
            f"no permission to read and write {full}; let the user running dossier do both,"
            " or choose another file"
        )
    try:
        conn = sqlite3.connect(f"file:{quote(full)}?mode=rwc", uri=True, timeout=1.0)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:  # another writer: the file itself is fine
            return None
        if "not a database" in text:
            return f"{full} is not a SQLite database ({text}); name a Dossier database or a new file"
        return f"SQLite cannot open {full} ({text})"
    return None


async def postgres_problem(database_url: str, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Why a PostgreSQL connection with this URL fails (unreachable, no such database, refused
    credentials), named by host, port, database and user — never the password; or None."""
    url = "postgres://" + database_url.split("://", 1)[1]
    try:
        credentials = expand_db_url(url)["credentials"]
    except (ConfigurationError, ValueError, KeyError) as exc:
        return f"not a usable PostgreSQL URL ({exc}). {SUPPORTED}"
    host = credentials.get("host") or "localhost"
    port = credentials.get("port") or 5432
    database = credentials.get("database")
    user = credentials.get("user")
    where = f"PostgreSQL at {host}:{port}"
    if not database:
        return f"no database named; add it to the URL: postgres://user@{host}:{port}/dbname"
    options = {"ssl": credentials["ssl"]} if "ssl" in credentials else {}
    try:
        conn = await asyncpg.connect(
            host=host,
            port=port,
            user=user,
            password=credentials.get("password"),
            database=database,
            timeout=timeout,
            **options,
        )
    except asyncpg.InvalidCatalogNameError:
        return (
            f"the database {database!r} does not exist on {where}; create it"
            f" (createdb -h {host} -p {port} {database}) or fix the name in the URL"
        )
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        return (
            f"{where} refused user {user or '(default)'!r} for database {database!r} ({exc});"
            " check the user and password in the URL"
        )
    except asyncpg.PostgresError as exc:
        return f"{where} refused the connection to database {database!r}: {exc}"
    except TimeoutError:
        return (
            f"no answer from {where} within {timeout:g} s; check the host and port in the URL and"
            " that the server is running"
        )
    except socket.gaierror as exc:
        return f"cannot resolve the host {host!r} ({exc.strerror or exc}); check the host in the URL"
    except OSError as exc:
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else exc.strerror or str(exc)
        return f"cannot reach {where} ({reason}); is the server running? check the host and port in the URL"
    except Exception as exc:  # e.g. an SSL handshake the server refuses: still one line, no traceback
        return f"cannot connect to {where}, database {database!r}: {type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def migrate_database(
    database_url: str, *, sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT
) -> None:
    """Bring a new or old database up to the latest committed migration. A new SQLite file
    starts as a copy of an empty database the same migrations made (crm/migration_cache.py)."""
    new_file = migration_cache.new_sqlite_file(database_url)
    copied = new_file is not None and migration_cache.start_from_template(new_file)
    try:
        await migrate(config=tortoise_config(database_url, sqlite_busy_timeout=sqlite_busy_timeout))
    finally:
        await Tortoise.close_connections()
    if new_file is not None and not copied:
        migration_cache.keep_as_template(new_file)


async def open_database(
    database_url: str,
    *,
    run_migrations: bool = True,
    sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT,
) -> None:
    if run_migrations:
        await migrate_database(database_url, sqlite_busy_timeout=sqlite_busy_timeout)
    # tortoise caches each model's INSERT/DELETE SQL per connection *name*, across inits: a
    # process that opens SQLite and then PostgreSQL (the tests, the benchmark) would reuse
    # SQLite's "?" placeholders on PostgreSQL.
    EXECUTOR_CACHE.clear()
    regions.clear()  # per-account settings cached from the previous database
    # The global fallback lets request handlers (other tasks, other contexts) use the ORM.
    config = tortoise_config(database_url, sqlite_busy_timeout=sqlite_busy_timeout)
    await Tortoise.init(config=config, _enable_global_fallback=True)
    global _planned_client
    _planned_client = _planning_client(config) if is_postgres(database_url) else None


def _planning_client(config: dict[str, Any]) -> BaseDBAsyncClient:
    """A client of the ORM's database whose sessions plan each statement for its values; its
    pool opens on first use."""
    info = copy.deepcopy(config["connections"][DEFAULT_CONNECTION])
    info["credentials"]["server_settings"]["plan_cache_mode"] = "force_custom_plan"
    client_class = importlib.import_module(info["engine"]).client_class
    return client_class(connection_name=DEFAULT_CONNECTION, **info["credentials"])


async def close_database() -> None:
    global _planned_client
    planned, _planned_client = _planned_client, None
    await Tortoise.close_connections()
    if planned is not None:
        await planned.close()
