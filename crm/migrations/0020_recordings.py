"""Call recordings (issue 13: B2).

- call.provider_call_id: the telephony provider's id of the call (Twilio's CallSid), unique, so
  a recording callback finds its call; call.provider_recording_id: the provider's id of the
  recording stored from it (a repeated callback stores nothing twice).
- recording_share: persistent, revocable links to a recording that work without an API key
  until they expire; only the token's SHA-256 is stored (unique: the public route finds a share
  by it). (call_id, id) serves a page of calls' newest active share.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


def _fk(
    model: str, column: str, *, null: bool = False, on_delete: OnDelete = OnDelete.CASCADE
) -> fields.ForeignKeyField:
    return fields.ForeignKeyField(
        model, source_field=column, null=null, db_constraint=True, to_field="id", related_name=False,
        on_delete=on_delete,
    )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("models", "0019_attachments")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Call",
            name="provider_call_id",
            field=fields.CharField(max_length=64, null=True, unique=True),
        ),
        ops.AddField(
            model_name="Call",
            name="provider_recording_id",
            field=fields.CharField(max_length=64, null=True),
        ),
        ops.CreateModel(
            name="RecordingShare",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("account", _fk("models.Account", "account_id")),
                ("call", _fk("models.Call", "call_id")),
                ("attachment", _fk("models.Attachment", "attachment_id")),
                ("salt", fields.CharField(max_length=64)),
                ("token_hash", fields.CharField(max_length=64, unique=True)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("created_by", _fk("models.User", "created_by_id", null=True, on_delete=OnDelete.SET_NULL)),
                ("created_by_name", fields.CharField(max_length=120)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_by_name", fields.CharField(max_length=120, null=True)),
            ],
            options={
                "table": "recording_share",
                "app": "models",
                "indexes": [Index(fields=["call_id", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
