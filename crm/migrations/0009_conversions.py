"""Send to client / send to manager (issue 11, D11).

- conversion: a card's summary sent to the account's client, or held for a manager's review
  (crm/models/conversions.py). Indexed for a card's conversions (contact_id, id), the root
  list newest first (account_id, id) and its status filter (account_id, status, id).
- account.client_email: where the built-in email plugin sends conversions.
- Statuses may carry "routing" (CLIENT | MANAGER) in account.statuses (JSON): no column.
"""

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0008_contact_lifecycle")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Account",
            name="client_email",
            field=fields.CharField(max_length=254, null=True),
        ),
        ops.CreateModel(
            name="Conversion",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("account", fields.ForeignKeyField("models.Account", source_field="account_id", db_constraint=True, to_field="id", related_name="conversions", on_delete=OnDelete.CASCADE)),
                ("contact", fields.ForeignKeyField("models.Contact", source_field="contact_id", db_constraint=True, to_field="id", related_name="conversions", on_delete=OnDelete.CASCADE)),
                ("status", fields.CharField(max_length=16)),
                ("routing", fields.CharField(max_length=8)),
                ("summary", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("extra_fields", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("reason", fields.CharField(null=True, max_length=500)),
                ("error", fields.CharField(null=True, max_length=500)),
                ("created_by", fields.ForeignKeyField("models.User", source_field="created_by_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.SET_NULL)),
                ("reviewed_by", fields.ForeignKeyField("models.User", source_field="reviewed_by_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.SET_NULL)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("reviewed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("sent_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("emailed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "conversion",
                "app": "models",
                "indexes": [
                    Index(fields=["contact_id", "id"]),
                    Index(fields=["account_id", "status", "id"]),
                    Index(fields=["account_id", "id"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
