"""Custom field definitions and values; background jobs (issue 12: A6).

- custom_field: an account's definitions, (account_id, key) unique.
- custom_field_value: one row per (contact, field), the value in the typed column its type uses
  (crm/models/custom_fields.py), indexed (field_id, value_*) so the contacts table can filter
  `= x` and ranges and sort by a field through an index; MULTI_SELECT's JSON array gets a GIN
  index on PostgreSQL (`value_json @> '["x"]'`).
- background_job: long work run in batches through the outbox (crm/jobs.py).
"""

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

GIN_INDEX = "custom_field_value_json_gin"


def _is_postgres(schema_editor) -> bool:
    return schema_editor.client.capabilities.dialect == "postgres"


async def add_gin_index(apps, schema_editor) -> None:
    if _is_postgres(schema_editor):
        await schema_editor._run_sql(
            f"CREATE INDEX IF NOT EXISTS {GIN_INDEX} ON custom_field_value USING gin (value_json jsonb_path_ops)"
        )


async def drop_gin_index(apps, schema_editor) -> None:
    if _is_postgres(schema_editor):
        await schema_editor._run_sql(f"DROP INDEX IF EXISTS {GIN_INDEX}")


def _id() -> fields.IntField:
    return fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)


def _account() -> fields.ForeignKeyField:
    return fields.ForeignKeyField(
        "models.Account", source_field="account_id", db_constraint=True, to_field="id",
        related_name=False, on_delete=OnDelete.CASCADE,
    )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("models", "0012_card_header_profile")]

    initial = False

    operations = [
        ops.CreateModel(
            name="CustomField",
            fields=[
                ("id", _id()),
                ("account", _account()),
                ("key", fields.CharField(max_length=63)),
                ("label", fields.CharField(max_length=120)),
                ("type", fields.CharField(max_length=16)),
                ("options", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("required", fields.BooleanField(default=False)),
                ("default_value", fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ("archived_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "custom_field",
                "app": "models",
                "unique_together": (("account", "key"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CustomFieldValue",
            fields=[
                ("id", _id()),
                ("field", fields.ForeignKeyField("models.CustomField", source_field="field_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),  # noqa: E501
                ("contact", fields.ForeignKeyField("models.Contact", source_field="contact_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),  # noqa: E501
                ("value_text", fields.CharField(max_length=2000, null=True)),
                ("value_number", fields.DecimalField(max_digits=30, decimal_places=10, null=True)),
                ("value_currency", fields.CharField(max_length=3, null=True)),
                ("value_date", fields.DateField(null=True)),
                ("value_ts", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("value_bool", fields.BooleanField(null=True)),
                ("value_json", fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "custom_field_value",
                "app": "models",
                "unique_together": (("field", "contact"),),
                "indexes": [
                    Index(fields=["contact_id"]),
                    Index(fields=["field_id", "value_text"]),
                    Index(fields=["field_id", "value_number"]),
                    Index(fields=["field_id", "value_date"]),
                    Index(fields=["field_id", "value_ts"]),
                    Index(fields=["field_id", "value_bool"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.RunPython(add_gin_index, drop_gin_index),
        ops.CreateModel(
            name="BackgroundJob",
            fields=[
                ("id", _id()),
                ("account", _account()),
                ("kind", fields.CharField(max_length=64)),
                ("status", fields.CharField(max_length=16, default="QUEUED")),
                ("params", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("cursor", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("step", fields.IntField(default=0)),
                ("total", fields.IntField(default=0)),
                ("done", fields.IntField(default=0)),
                ("skipped", fields.IntField(default=0)),
                ("failed", fields.IntField(default=0)),
                ("error", fields.TextField(null=True)),
                ("started_by", fields.ForeignKeyField("models.User", source_field="started_by_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.SET_NULL)),  # noqa: E501
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("finished_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "background_job",
                "app": "models",
                "indexes": [Index(fields=["account_id", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
