"""A deal's account (issue 14, D6; bench/filters.py 16 at 1M): kept on the deal like a lead's or
a task's, so the contacts table counts a deal filter's matches from the account's deals (an
index range) instead of looking up each deal's contact to learn its account
(crm/contact_count.py). The deal filters' index leads with it.

Existing deals take their contact's account. The column is NOT NULL on PostgreSQL; SQLite
cannot add a NOT NULL reference to a table without rebuilding it, and a rebuild drops the
table's triggers (the deal's roll-ups, migration 0024), so there the ORM's own check keeps it
set. For the same reason the column is added and removed here by plain SQL, not by tortoise's
field operations (which rebuild the table on SQLite): undone on SQLite, the unused nullable
column stays (SQLite cannot drop a column that references another table without a rebuild).
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class StateOnly:
    """A field operation on the migration state only: add_account_ids does the database part."""

    async def database_forward(self, *args, **kwargs) -> None:
        return None

    async def database_backward(self, *args, **kwargs) -> None:
        return None


class StateOnlyAddField(StateOnly, ops.AddField):
    pass


def _is_postgres(schema_editor) -> bool:
    return schema_editor.client.capabilities.dialect == "postgres"


async def add_account_ids(apps, schema_editor) -> None:
    postgres = _is_postgres(schema_editor)
    column = 'ADD COLUMN "account_id" INT REFERENCES "account" ("id") ON DELETE CASCADE'
    if postgres:
        await schema_editor._run_sql(f'ALTER TABLE "deal" {column.replace("COLUMN", "COLUMN IF NOT EXISTS")}')
    else:
        _, found = await schema_editor.client.execute_query('PRAGMA table_info("deal")')
        if not any(row["name"] == "account_id" for row in found):  # left by an undone 0025
            await schema_editor._run_sql(f'ALTER TABLE "deal" {column}')
    await schema_editor._run_sql(
        'UPDATE "deal" SET "account_id" = (SELECT c."account_id" FROM "contact" c WHERE c."id" = "deal"."contact_id")'
    )
    if postgres:
        await schema_editor._run_sql('ALTER TABLE "deal" ALTER COLUMN "account_id" SET NOT NULL')


async def drop_account_ids(apps, schema_editor) -> None:
    if _is_postgres(schema_editor):
        await schema_editor._run_sql('ALTER TABLE "deal" DROP COLUMN IF EXISTS "account_id"')


ACCOUNT = fields.ForeignKeyField(
    "models.Account",
    source_field="account_id",
    db_constraint=True,
    to_field="id",
    related_name=False,
    on_delete=OnDelete.CASCADE,
)


class Migration(migrations.Migration):
    dependencies = [("models", "0024_contact_rollups")]

    initial = False

    operations = [
        StateOnlyAddField(model_name="Deal", name="account", field=ACCOUNT),
        ops.RunPython(add_account_ids, drop_account_ids),
        ops.RemoveIndex(model_name="Deal", name=None, fields=["status", "amount", "contact_id"]),
        ops.AddIndex(model_name="Deal", index=Index(fields=["account_id", "status", "amount", "contact_id"])),
    ]
