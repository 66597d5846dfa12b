"""Indexes for the contacts table's filters and sorts (issue 14, D6; bench/filters.py at 1M).

A filter compiles to one statement over `contact` with `id IN (SELECT contact_id FROM <related>
WHERE ...)` per related clause (crm/contact_filters.py), and the table asks for `totalCount`
with it, so the count must not read the contact heap where an index can answer:

- Related records: each filtered column leads an index that ends in `contact_id`, so the
  subquery is an index-only scan (tags by tag, calls by start time and outcome, open deals by
  amount, overdue tasks, leads by form and time, lead UTMs by source/campaign, messages by time
  for the last interaction). Plain composite B-trees: both dialects, declared in the models.
- PostgreSQL only: partial indexes over the *live* contacts (`archived_at IS NULL AND
  merged_into_id IS NULL`, what the table lists) on `(account_id, id)` -- the contact side of
  every semi-join as an index-only scan -- and on `(account_id, <column>) INCLUDE (id)` for the
  columns the table filters and sorts on most (status, owners, lead source, created/updated/
  converted): counted from the index alone, and joined to related records by id without
  reading the contact rows.
  `lastName: {startsWith}` is an index range over `upper(last_name)` that also holds the name
  sort's columns.
  Custom field values get `(field_id, value_text|value_number|value_date|value_ts) INCLUDE
  (contact_id, ...)` next to 0013's plain ones, and extended statistics so the planner knows
  how many rows one field's value (or currency) has (without them it estimates from all
  fields' values together, off 5-10x).
SQLite gets the plain composites only; its planner uses them the same way.
"""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

LIVE = "archived_at IS NULL AND merged_into_id IS NULL"
# (index name, table, definition)
POSTGRES_INDEXES = (
    ("contact_live_account_id", "contact", f"(account_id, id) WHERE {LIVE}"),
    ("contact_live_status", "contact", f"(account_id, status) INCLUDE (id) WHERE {LIVE}"),
    # All three owners: `setterOwner` by its prefix, and `owner: {isNull: true}` (all three
    # null) counted from the index alone. closer/assigned alone: for `owner: {in: [...]}`.
    (
        "contact_live_owners",
        "contact",
        f"(account_id, setter_owner_id, closer_owner_id, assigned_to_id) INCLUDE (id) WHERE {LIVE}",
    ),
    ("contact_live_closer_owner", "contact", f"(account_id, closer_owner_id) INCLUDE (id) WHERE {LIVE}"),
    ("contact_live_assigned_to", "contact", f"(account_id, assigned_to_id) INCLUDE (id) WHERE {LIVE}"),
    ("contact_live_lead_source", "contact", f"(account_id, lead_source) INCLUDE (id) WHERE {LIVE}"),
    # `lastName: {startsWith}` (the compiled `upper(last_name) LIKE 'OKA%'`) as an index range,
    # with what the default name sort needs: counted and sorted without reading a contact row
    # (bench/filters.py 1: 226 + 40 ms -> 9 + 7 ms at 1M).
    (
        "contact_live_last_name_prefix",
        "contact",
        "(account_id, upper(last_name::text) text_pattern_ops) INCLUDE (id, last_name, first_name)"
        f" WHERE {LIVE}",
    ),
    ("contact_live_created_at", "contact", f"(account_id, created_at) INCLUDE (id) WHERE {LIVE}"),
    ("contact_live_updated_at", "contact", f"(account_id, updated_at) INCLUDE (id) WHERE {LIVE}"),
    ("contact_live_converted_at", "contact", f"(account_id, converted_at) INCLUDE (id) WHERE {LIVE}"),
    ("custom_field_value_text_contact", "custom_field_value", "(field_id, value_text) INCLUDE (contact_id)"),
    (
        "custom_field_value_number_contact",
        "custom_field_value",
        "(field_id, value_number) INCLUDE (contact_id, value_currency)",
    ),
    # Date and time ranges of one field as index-only ranges of contact ids too (bench/filters.py
    # 13: the NEXT_30_DAYS inspection read 11k value rows from the heap).
    ("custom_field_value_date_contact", "custom_field_value", "(field_id, value_date) INCLUDE (contact_id)"),
    ("custom_field_value_ts_contact", "custom_field_value", "(field_id, value_ts) INCLUDE (contact_id)"),
)
# Per-field value statistics (equality on value_text / value_bool within one field).
POSTGRES_STATISTICS = (
    ("custom_field_value_field_text_stats", "custom_field_value", "field_id, value_text"),
    ("custom_field_value_field_bool_stats", "custom_field_value", "field_id, value_bool"),
    # MONEY's currency is null for every other type: without this the planner counts a currency
    # condition as if it applied to all fields' values (bench/filters.py 12: 874 rows for 134k).
    ("custom_field_value_field_currency_stats", "custom_field_value", "field_id, value_currency"),
)


def _is_postgres(schema_editor) -> bool:
    return schema_editor.client.capabilities.dialect == "postgres"


async def add_postgres_indexes(apps, schema_editor) -> None:
    if not _is_postgres(schema_editor):
        return
    for name, table, definition in POSTGRES_INDEXES:
        await schema_editor._run_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}")
    for name, table, columns in POSTGRES_STATISTICS:
        await schema_editor._run_sql(
            f"CREATE STATISTICS IF NOT EXISTS {name} (mcv, dependencies) ON {columns} FROM {table}"
        )
    await schema_editor._run_sql("ANALYZE custom_field_value")  # fill the statistics now, not at autovacuum


async def drop_postgres_indexes(apps, schema_editor) -> None:
    if not _is_postgres(schema_editor):
        return
    for name, _, _ in POSTGRES_STATISTICS:
        await schema_editor._run_sql(f"DROP STATISTICS IF EXISTS {name}")
    for name, _, _ in POSTGRES_INDEXES:
        await schema_editor._run_sql(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("models", "0021_segments_views_job_results")]

    initial = False

    operations = [
        ops.AddIndex(model_name="ContactTag", index=Index(fields=["tag_id", "contact_id"])),
        ops.AddIndex(model_name="Call", index=Index(fields=["scheduled_at", "contact_id"])),
        ops.AddIndex(model_name="Call", index=Index(fields=["outcome", "scheduled_at", "contact_id"])),
        ops.AddIndex(model_name="Deal", index=Index(fields=["status", "amount", "contact_id"])),
        ops.AddIndex(model_name="Task", index=Index(fields=["status", "due_at", "contact_id"])),
        ops.AddIndex(model_name="Lead", index=Index(fields=["account_id", "form_id", "id", "contact_id"])),
        ops.AddIndex(model_name="Lead", index=Index(fields=["submitted_at", "contact_id"])),
        ops.AddIndex(model_name="Utm", index=Index(fields=["source", "lead_id"])),
        ops.AddIndex(model_name="Utm", index=Index(fields=["campaign", "lead_id"])),
        ops.AddIndex(model_name="Message", index=Index(fields=["created_at", "contact_id"])),
        ops.RunPython(add_postgres_indexes, drop_postgres_indexes),
    ]
