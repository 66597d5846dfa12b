"""The owner indexes hold what an owner filter is counted with (issue 14, D6; bench/filters.py 6
at 1M: "status lead/contacted, owner = a rep", 159k matches).

`owner: {in: [...]}` is "setter, closer or assigned is one of these". Counted as one statement
it is a bitmap OR over the three owner indexes followed by a read of every matching contact row
(the status is on the row): 186 ms at 1M. crm/contact_filters.py counts it instead as three
disjoint parts (setter; closer but not setter; assigned but neither), each an index-only scan
when its index holds the contact's status and the owners the part rules out. PostgreSQL only,
like 0022's other partial indexes over live contacts; SQLite keeps its plain composites.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

LIVE = "archived_at IS NULL AND merged_into_id IS NULL"
# (name, definition now, definition before): the same names, so 0022's down migration still
# drops them.
INDEXES = (
    (
        "contact_live_owners",
        f"(account_id, setter_owner_id, closer_owner_id, assigned_to_id) INCLUDE (id, status) WHERE {LIVE}",
        f"(account_id, setter_owner_id, closer_owner_id, assigned_to_id) INCLUDE (id) WHERE {LIVE}",
    ),
    (
        "contact_live_closer_owner",
        f"(account_id, closer_owner_id) INCLUDE (id, status, setter_owner_id) WHERE {LIVE}",
        f"(account_id, closer_owner_id) INCLUDE (id) WHERE {LIVE}",
    ),
    (
        "contact_live_assigned_to",
        f"(account_id, assigned_to_id) INCLUDE (id, status, setter_owner_id, closer_owner_id) WHERE {LIVE}",
        f"(account_id, assigned_to_id) INCLUDE (id) WHERE {LIVE}",
    ),
)


async def _rebuild(schema_editor, *, forward: bool) -> None:
    if schema_editor.client.capabilities.dialect != "postgres":
        return
    for name, now, before in INDEXES:
        await schema_editor._run_sql(f"DROP INDEX IF EXISTS {name}")
        await schema_editor._run_sql(f"CREATE INDEX {name} ON contact {now if forward else before}")


async def widen_owner_indexes(apps, schema_editor) -> None:
    await _rebuild(schema_editor, forward=True)


async def narrow_owner_indexes(apps, schema_editor) -> None:
    await _rebuild(schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [("models", "0025_deal_account")]

    initial = False

    operations = [ops.RunPython(widen_owner_indexes, narrow_owner_indexes)]
