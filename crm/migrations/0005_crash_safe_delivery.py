"""Crash-safe delivery: a message records that its send started (SENDING, the attempt, the
time, the key given to the provider), and every provider id a message ever got is kept."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0004_api_keys")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Message",
            name="send_attempts",
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name="Message",
            name="send_started_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Message",
            name="send_key",
            field=fields.CharField(null=True, max_length=254),
        ),
        ops.CreateModel(
            name="MessageProviderId",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "message",
                    fields.ForeignKeyField(
                        "models.Message",
                        source_field="message_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="provider_ids",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("provider_id", fields.CharField(unique=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "message_provider_id", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        # Outbound ids recorded before this migration: late callbacks for them still find their message.
        ops.RunSQL(
            "INSERT INTO message_provider_id (message_id, provider_id, created_at)"
            " SELECT id, provider_id, updated_at FROM message"
            " WHERE provider_id IS NOT NULL AND direction = 'OUTBOUND'",
            reverse_sql="SELECT 1",
        ),
    ]
