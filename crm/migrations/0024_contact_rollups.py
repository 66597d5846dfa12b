"""Roll-ups on the contact the database keeps: `last_interaction_at` and `deal_total` (issue 14,
D6; bench/filters.py 16 and 19 at 1M); and an index of each account's archived and merged
contacts, which a filter's count from its memberships leaves out (crm/contact_count.py).

The contacts table filters and sorts by the last interaction and the deal total. Derived per
row by subquery, a sort computed them for every match (6k-27k at 1M: 120-210 ms) and a filter on
the last interaction read three tables. Kept on the contact, both are an indexed column.

Triggers keep them, not the services: calls, messages, leads and deals are written by a dozen
services, imports in batches, merges that move them between contacts and cascades that delete
them; a trigger sees every one of those writes in the writing transaction. The ORM declares
both columns `generated`, so it never writes them.

- PostgreSQL: one statement-level trigger per table and event, over the statement's transition
  tables: a batch of 1,000 imported leads recomputes its contacts in one UPDATE.
- SQLite: row-level triggers (the only kind it has).

Each recomputes the contact's value from its rows (never adds to the old one), so a move, an
edit or a delete cannot leave it wrong. Definitions (crm/models/contacts.py):
- last_interaction_at: the newest of a call's `scheduled_at` once logged or given an outcome,
  a message's `created_at`, a lead's `submitted_at`; null without any.
- deal_total: the sum of the OPEN and WON deals' amounts, any currency; null without one.
"""

import re

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

LIVE = "archived_at IS NULL AND merged_into_id IS NULL"
# The account's archived and merged contacts, the few a count from memberships leaves out
# (crm/contact_count.py): both dialects.
GONE_INDEX = (
    "CREATE INDEX IF NOT EXISTS contact_gone_account_id ON contact (account_id, id)"
    " WHERE archived_at IS NOT NULL OR merged_into_id IS NOT NULL"
)

# (table, the roll-up it feeds, the columns it is computed from, which inserted rows count)
SOURCES = (
    ("call", "last_interaction", ("contact_id", "scheduled_at", "direction", "outcome"),
     '"direction" IS NOT NULL OR "outcome" IS NOT NULL'),
    ("message", "last_interaction", ("contact_id", "created_at"), "TRUE"),
    ("lead", "last_interaction", ("contact_id", "submitted_at"), "TRUE"),
    ("deal", "deal_total", ("contact_id", "amount", "status"), "\"status\" IN ('OPEN', 'WON')"),
)  # fmt: skip

# The roll-ups' values for the contact whose id is {id} (both dialects but for the sum's type).
LAST_INTERACTION = (
    "(SELECT MAX(x.t) FROM ("
    'SELECT MAX(k."scheduled_at") AS t FROM "call" k WHERE k."contact_id" = {id}'
    ' AND (k."direction" IS NOT NULL OR k."outcome" IS NOT NULL)'
    ' UNION ALL SELECT MAX(m."created_at") FROM "message" m WHERE m."contact_id" = {id}'
    ' UNION ALL SELECT MAX(l."submitted_at") FROM "lead" l WHERE l."contact_id" = {id}) x)'
)
DEAL_TOTAL_PG = (
    '(SELECT SUM(d."amount") FROM "deal" d WHERE d."contact_id" = {id} AND d."status" IN (\'OPEN\', \'WON\'))'
)
# SQLite keeps decimals as text: the sum as text with the amounts' 4 places (NULL without deals).
DEAL_TOTAL_SQLITE = (
    "(SELECT CASE WHEN COUNT(*) > 0 THEN printf('%.4f', SUM(CAST(d.\"amount\" AS REAL))) END"
    ' FROM "deal" d WHERE d."contact_id" = {id} AND d."status" IN (\'OPEN\', \'WON\'))'
)
COLUMN = {"last_interaction": "last_interaction_at", "deal_total": "deal_total"}
CONTACT_ID = '"contact"."id"'  # SQLite: the contact row being updated


def _value(rollup: str, contact: str, postgres: bool) -> str:
    """The roll-up's SQL value for the contact whose id is the expression `contact`."""
    if rollup == "last_interaction":
        return LAST_INTERACTION.format(id=contact)
    return (DEAL_TOTAL_PG if postgres else DEAL_TOTAL_SQLITE).format(id=contact)


def _pg_statements() -> list[str]:
    found = []
    for rollup, column in COLUMN.items():
        found.append(
            f"CREATE OR REPLACE FUNCTION dossier_refresh_{rollup}(ids integer[]) RETURNS void"
            f' LANGUAGE sql AS $$ UPDATE "contact" c SET "{column}" = r.v'
            f" FROM (SELECT i.id, {_value(rollup, 'i.id', True)} AS v FROM unnest(ids) AS i(id)) r"
            f' WHERE c."id" = r.id AND c."{column}" IS DISTINCT FROM r.v $$'
        )
    for table, rollup, columns, counted in SOURCES:
        new = ", ".join(f'n."{c}"' for c in columns)
        old = ", ".join(f'o."{c}"' for c in columns)
        changed = f'FROM new_rows n JOIN old_rows o ON o."id" = n."id" WHERE ({new}) IS DISTINCT FROM ({old})'
        refresh = f"PERFORM dossier_refresh_{rollup}(ARRAY("
        found.append(
            f"CREATE OR REPLACE FUNCTION dossier_{table}_rollup() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN"
            f" IF TG_OP = 'INSERT' THEN"
            f' {refresh}SELECT DISTINCT "contact_id" FROM new_rows WHERE {counted}));'
            f" ELSIF TG_OP = 'DELETE' THEN {refresh}SELECT DISTINCT \"contact_id\" FROM old_rows));"
            f' ELSE {refresh}SELECT n."contact_id" {changed} UNION SELECT o."contact_id" {changed}));'
            " END IF; RETURN NULL; END $$"
        )
        for event, referencing in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            found.append(
                f'CREATE TRIGGER dossier_{table}_rollup_{event.lower()} AFTER {event} ON "{table}"'
                f" REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION dossier_{table}_rollup()"
            )
    found += [
        f"CREATE INDEX IF NOT EXISTS contact_live_last_interaction ON contact"
        f" (account_id, last_interaction_at) INCLUDE (id) WHERE {LIVE}",
        f"CREATE INDEX IF NOT EXISTS contact_live_deal_total ON contact (account_id, deal_total) INCLUDE (id)"
        f" WHERE {LIVE}",
        GONE_INDEX,
    ]
    return found


def _sqlite_statements() -> list[str]:
    found = []
    for table, rollup, columns, counted in SOURCES:
        column = COLUMN[rollup]
        value = _value(rollup, CONTACT_ID, False)
        update = f'UPDATE "contact" SET "{column}" = {value} WHERE "id"'
        when = re.sub(r'"(\w+)"', r'NEW."\1"', counted)  # the inserted row's columns
        of = ", ".join(f'"{c}"' for c in columns)
        found += [
            f'CREATE TRIGGER dossier_{table}_rollup_insert AFTER INSERT ON "{table}" WHEN {when}'
            f' BEGIN {update} = NEW."contact_id"; END',
            f'CREATE TRIGGER dossier_{table}_rollup_update AFTER UPDATE OF {of} ON "{table}"'
            f' BEGIN {update} IN (OLD."contact_id", NEW."contact_id"); END',
            f'CREATE TRIGGER dossier_{table}_rollup_delete AFTER DELETE ON "{table}"'
            f' BEGIN {update} = OLD."contact_id"; END',
        ]
    found.append(
        'CREATE INDEX IF NOT EXISTS "idx_contact_account_last_interaction"'
        ' ON "contact" ("account_id", "last_interaction_at")'
    )
    found.append(GONE_INDEX)
    return found


def _is_postgres(schema_editor) -> bool:
    return schema_editor.client.capabilities.dialect == "postgres"


async def _run(schema_editor, sql: str) -> None:
    """One statement as it is: SQLite's schema editor splits its SQL at every `;`, which would
    cut a trigger's body."""
    if schema_editor.collect_sql:
        schema_editor.collected_sql.append(sql)
    elif _is_postgres(schema_editor):
        await schema_editor._run_sql(sql)
    else:
        await schema_editor.client.execute_query(sql)


async def add_rollups(apps, schema_editor) -> None:
    postgres = _is_postgres(schema_editor)
    for statement in _pg_statements() if postgres else _sqlite_statements():
        await _run(schema_editor, statement)
    # The values of the contacts that have any source row (the others stay null).
    if postgres:
        for rollup, _ in COLUMN.items():
            sources = " UNION ".join(
                f'SELECT "contact_id" FROM "{table}" WHERE {counted}'
                for table, fed, _, counted in SOURCES
                if fed == rollup
            )
            await _run(schema_editor, f"SELECT dossier_refresh_{rollup}(ARRAY({sources}))")
        await _run(schema_editor, "ANALYZE contact")
    else:
        values = ", ".join(
            f'"{column}" = {_value(rollup, CONTACT_ID, False)}' for rollup, column in COLUMN.items()
        )
        await _run(schema_editor, f'UPDATE "contact" SET {values}')


async def drop_rollups(apps, schema_editor) -> None:
    postgres = _is_postgres(schema_editor)
    for table, _, _, _ in SOURCES:
        for event in ("insert", "update", "delete"):
            await _run(
                schema_editor,
                f"DROP TRIGGER IF EXISTS dossier_{table}_rollup_{event}"
                + (f' ON "{table}"' if postgres else ""),
            )
        if postgres:
            await _run(schema_editor, f"DROP FUNCTION IF EXISTS dossier_{table}_rollup()")
    if postgres:
        for rollup in COLUMN:
            await _run(schema_editor, f"DROP FUNCTION IF EXISTS dossier_refresh_{rollup}(integer[])")
        await _run(schema_editor, "DROP INDEX IF EXISTS contact_live_last_interaction")
        await _run(schema_editor, "DROP INDEX IF EXISTS contact_live_deal_total")
    else:
        await _run(schema_editor, 'DROP INDEX IF EXISTS "idx_contact_account_last_interaction"')
    await _run(schema_editor, "DROP INDEX IF EXISTS contact_gone_account_id")


class Migration(migrations.Migration):
    dependencies = [("models", "0023_contact_import")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Contact",
            name="last_interaction_at",
            field=fields.DatetimeField(null=True, generated=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Contact",
            name="deal_total",
            field=fields.DecimalField(max_digits=22, decimal_places=4, null=True, generated=True),
        ),
        ops.RunPython(add_rollups, drop_rollups),
    ]
