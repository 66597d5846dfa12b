"""An index of the live contacts who may be texted (issue 14, D6; bench/filters.py 20 at 1M).

`okToSms: {eq: true}` is how a table, a segment or a bulk SMS picks who may get a message, and
it is rare (2-3 % of contacts in bench/seed_scale.py). Without an index a filter holding it read
every live contact: in an OR counted as disjoint parts (crm/contact_count.py), the part "in the
segment and may be texted" was a parallel scan of 970k rows (250 ms) where this index yields its
20k entries (6 ms). It holds the status, sub-status and lead source, the columns the other parts
of such a filter test, so the part is counted from the index alone. PostgreSQL only, like the
other partial indexes over live contacts (0022); SQLite has none of them.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

NAME = "contact_live_ok_to_sms"
DEFINITION = (
    "(account_id, id) INCLUDE (status, sub_status, lead_source)"
    " WHERE ok_to_sms AND archived_at IS NULL AND merged_into_id IS NULL"
)


async def create_index(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor._run_sql(f"CREATE INDEX IF NOT EXISTS {NAME} ON contact {DEFINITION}")


async def drop_index(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor._run_sql(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [("models", "0026_owner_status_indexes")]

    initial = False

    operations = [ops.RunPython(create_index, drop_index)]
