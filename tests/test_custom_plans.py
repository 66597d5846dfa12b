"""crm/db.custom_plans: the contacts table's reads are planned for their values on PostgreSQL
(a pool of their own whose sessions say so), everything else keeps PostgreSQL's default."""

from __future__ import annotations

import asyncio

from tortoise import connections
from tortoise.transactions import in_transaction

from crm.db import custom_plans, is_postgres
from crm.models import Contact
from tests.conftest import Api


async def _mode() -> str:
    rows = await connections.get("default").execute_query_dict("SHOW plan_cache_mode")
    return str(rows[0]["plan_cache_mode"])


async def test_table_reads_are_planned_for_their_values_and_nothing_else(api: Api, database_url: str) -> None:
    if not is_postgres(database_url):  # SQLite plans each statement anyway: the block changes nothing
        default = connections.get("default")
        async with custom_plans():
            assert connections.get("default") is default
            assert await Contact.all().count() == 0
        return
    assert await _mode() == "auto"
    async with custom_plans():
        assert await _mode() == "force_custom_plan"
        assert await Contact.all().count() == 0  # the ORM's statements take the same route

        async def elsewhere() -> str:  # a task started in the block plans the same way
            return await _mode()

        assert await asyncio.create_task(elsewhere()) == "force_custom_plan"
    assert await _mode() == "auto"
    # Inside a transaction the statements stay on its connection, set for the transaction only.
    async with in_transaction(), custom_plans():
        assert await _mode() == "force_custom_plan"
    assert await _mode() == "auto"
