"""Database set-up: tortoise configuration from a URL, connections, committed migrations."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate

log = logging.getLogger("dossier.db")

MODELS_APP = "models"
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
        "connections": {"default": connection},
        "apps": {
            MODELS_APP: {
                "models": ["crm.models"],
                "default_connection": "default",
                "migrations": "crm.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def is_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))


async def migrate_database(
    database_url: str, *, sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT
) -> None:
    """Bring a new or old database up to the latest committed migration."""
    await migrate(config=tortoise_config(database_url, sqlite_busy_timeout=sqlite_busy_timeout))
    await Tortoise.close_connections()


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
    # The global fallback lets request handlers (other tasks, other contexts) use the ORM.
    await Tortoise.init(
        config=tortoise_config(database_url, sqlite_busy_timeout=sqlite_busy_timeout),
        _enable_global_fallback=True,
    )


async def close_database() -> None:
    await Tortoise.close_connections()
