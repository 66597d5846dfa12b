"""Attachments and call recordings (issue 13: B8, B2).

- attachment: a file on a card, or a call's recording (kind RECORDING, `call_id` set,
  `duration_seconds`). `storage_key` names the object in storage (crm/storage), unique; the
  object is written before the row. The account and contact CASCADE (the service deletes the
  objects after commit; the sweep catches what it could not), the call CASCADEs (a recording
  goes with its call), the uploader is SET NULL when their user goes.
- (contact_id, id) serves a card's attachments page, newest first; (call_id) a call's recording.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


def _fk(model: str, source: str, on_delete: OnDelete, *, null: bool = False) -> fields.ForeignKeyField:
    return fields.ForeignKeyField(
        model, source_field=source, null=null, db_constraint=True, to_field="id",
        related_name=False, on_delete=on_delete,
    )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("models", "0018_notifications")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Attachment",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("account", _fk("models.Account", "account_id", OnDelete.CASCADE)),
                (
                    "contact",
                    fields.ForeignKeyField(
                        "models.Contact",
                        source_field="contact_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="attachments",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("call", _fk("models.Call", "call_id", OnDelete.CASCADE, null=True)),
                ("kind", fields.CharField(max_length=12, default="FILE", db_default="FILE")),
                ("title", fields.CharField(max_length=200)),
                ("filename", fields.CharField(max_length=255)),
                ("content_type", fields.CharField(max_length=127)),
                ("size", fields.BigIntField()),
                ("sha256", fields.CharField(max_length=64)),
                ("storage_key", fields.CharField(max_length=255, unique=True)),
                ("duration_seconds", fields.IntField(null=True)),
                ("uploaded_by", _fk("models.User", "uploaded_by_id", OnDelete.SET_NULL, null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "attachment",
                "app": "models",
                "indexes": [Index(fields=["contact_id", "id"]), Index(fields=["call_id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
