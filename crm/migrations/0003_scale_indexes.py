"""Indexes for a million contacts (bench/seed_scale.py).

- Each card section is loaded by contact: calls, deals, notes, UTMs and form answers get an
  index on contact_id (PostgreSQL does not index foreign keys by itself; without them every
  card read scanned those tables whole). contact (account_id, id) serves the contacts list,
  newest first within one account.
- PostgreSQL only: contact search (graph/resolvers/queries.py `_search_filter`) is
  `UPPER(CAST(col AS VARCHAR)) LIKE UPPER('%term%')` per name/email column and
  `CAST(phone AS VARCHAR) LIKE '%digits%'`: a leading wildcard no B-tree can serve. pg_trgm
  GIN indexes on exactly those expressions let the planner answer it from the index. SQLite
  gets nothing here (its LIKE cannot use an index for '%term%').
"""

import logging

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

log = logging.getLogger("dossier.db")

# (index name, indexed expression): the expressions must stay byte-for-byte what tortoise's
# icontains/contains render for these columns, or the planner will not use them.
SEARCH_INDEXES = (
    ("contact_search_first_name_trgm", "UPPER(CAST(first_name AS VARCHAR))"),
    ("contact_search_last_name_trgm", "UPPER(CAST(last_name AS VARCHAR))"),
    ("contact_search_business_name_trgm", "UPPER(CAST(business_name AS VARCHAR))"),
    ("contact_search_email_trgm", "UPPER(CAST(email AS VARCHAR))"),
    ("contact_search_phone_trgm", "CAST(phone AS VARCHAR)"),
)


def _is_postgres(schema_editor) -> bool:
    return schema_editor.client.capabilities.dialect == "postgres"


async def add_search_indexes(apps, schema_editor) -> None:
    if not _is_postgres(schema_editor):
        return
    available = await schema_editor.client.execute_query_dict(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    )
    if not available:
        # Search still works without them, by scanning the contacts; say so rather than fail.
        log.warning(
            "pg_trgm is not available on this PostgreSQL server: contact search will scan the"
            " contact table. Install the server's contrib package and create the indexes listed"
            " in crm/migrations/0003_scale_indexes.py."
        )
        return
    await schema_editor._run_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in SEARCH_INDEXES:
        await schema_editor._run_sql(
            f"CREATE INDEX IF NOT EXISTS {name} ON contact USING gin (({expression}) gin_trgm_ops)"
        )


async def drop_search_indexes(apps, schema_editor) -> None:
    if not _is_postgres(schema_editor):
        return
    for name, _ in SEARCH_INDEXES:
        await schema_editor._run_sql(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("models", "0002_messaging_webhooks")]

    initial = False

    operations = [
        ops.AddIndex(model_name="Call", index=Index(fields=["contact_id"])),
        ops.AddIndex(model_name="Contact", index=Index(fields=["account_id", "id"])),
        ops.AddIndex(model_name="Deal", index=Index(fields=["contact_id"])),
        ops.AddIndex(model_name="FormAnswer", index=Index(fields=["contact_id"])),
        ops.AddIndex(model_name="Note", index=Index(fields=["contact_id"])),
        ops.AddIndex(model_name="Utm", index=Index(fields=["contact_id"])),
        ops.RunPython(add_search_indexes, drop_search_indexes),
    ]
