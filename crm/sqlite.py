"""The SQLite client Dossier runs on: tortoise's, with every transaction taking the write lock
when it begins (BEGIN IMMEDIATE). `crm.db.tortoise_config` names this module as the engine.

tortoise opens SQLite transactions with a plain (deferred) BEGIN: the transaction reads under a
snapshot and asks for the write lock at its first write. If another process has committed since
that snapshot, SQLite cannot upgrade it and answers "database is locked" at once, whatever the
busy timeout; a server and `dossier account create` writing the same file failed that way.
BEGIN IMMEDIATE takes the write lock up front, waiting up to the busy timeout (PRAGMA
busy_timeout, DOSSIER_SQLITE_BUSY_TIMEOUT) for the other writer to finish. Readers are not
held up under WAL. Every `in_transaction()` in Dossier writes (services, the outbox claim,
migrations); reads run outside transactions and never take the lock.

The module's name must contain "sqlite": tortoise's migration executor picks its schema editor
by the client class's module name.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import ConnectionWrapper, TransactionalDBClient
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections

from crm.errors import DatabaseBusy


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            # The lock was not had within the busy timeout: nothing began, so nothing was written,
            # and the client gets a code it can act on (retry) instead of a masked internal error.
            if "locked" in str(exc) or "busy" in str(exc):
                raise DatabaseBusy(
                    "the database is busy with another writer (e.g. a `dossier` command); nothing was"
                    " changed: retry in a moment"
                ) from exc
            raise


class ImmediateTransactionContext(SqliteTransactionContext):
    async def __aenter__(self) -> TransactionalDBClient:
        # tortoise's own __aenter__ keeps its connection lock when BEGIN fails, which a deferred
        # BEGIN never did; BEGIN IMMEDIATE fails when the busy timeout runs out, and the process
        # must not stay locked out of its database after that.
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            self._trxlock.release()
            raise
        return self.connection


class ReleasingConnectionWrapper(ConnectionWrapper):
    """tortoise's wrapper takes the connection's lock, then opens the connection: when opening
    fails (a path SQLite cannot open) the lock stays taken, and the next statement waits for it
    forever. `dossier migrate` hung that way, silently. This one lets go, so the next statement
    fails with the same error instead."""

    async def __aenter__(self) -> Any:
        await self._lock.acquire()
        try:
            await self.ensure_connection()
        except BaseException:
            self._lock.release()
            raise
        return self.connection


class DecimalSum:
    """`decimal_sum(x [, factor])`: the exact sum of decimal texts (each times `factor` when
    given). Decimal columns are text on SQLite, where SUM() would add them as floats. Rows whose
    value (or factor) is NULL are skipped; no rows give NULL, like SUM. The result is the sum's
    text: PostgreSQL's SUM over NUMERIC is exact already."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any, factor: Any = 1) -> None:
        if value is not None and factor is not None:
            self.total = (self.total or Decimal(0)) + Decimal(str(value)) * Decimal(str(factor))

    def finalize(self) -> str | None:
        return None if self.total is None else f"{self.total:f}"


class ImmediateSqliteClient(SqliteClient):
    """tortoise's SQLite client with BEGIN IMMEDIATE transactions, and a connection lock that is
    released when the connection cannot be opened; named by the config's engine. Each connection
    gets the `decimal_sum` aggregate (exact money sums in SQL)."""

    def acquire_connection(self) -> ReleasingConnectionWrapper:
        return ReleasingConnectionWrapper(self._lock, self)

    async def _post_connect(self) -> None:
        await super()._post_connect()
        connection = self._connection
        await connection._execute(connection._conn.create_aggregate, "decimal_sum", -1, DecimalSum)

    def _in_transaction(self) -> ImmediateTransactionContext:
        return ImmediateTransactionContext(ImmediateTransactionWrapper(self), self._lock)


# tortoise loads a connection's client class from the module its `engine` names.
client_class = ImmediateSqliteClient
