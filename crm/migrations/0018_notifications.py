"""Notifications: the in-app inbox and once-per-due-time receipts (issue 13: C9).

- notification: one per (user, due task or coming call); (user_id, id) serves a user's inbox
  newest first, (user_id, read_at, id) the unread ones and their count. task_id / call_id are
  plain ids: a task or call only goes with its card, and the card's delete cascades here.
- reminder_receipt: (kind, subject_id, version) unique -- a due time notifies once, even when
  its outbox row is delivered twice (crm/services/reminders.py).
- app_user.phone (E.164) and account.notify_by_sms: reminders texted to users who have a phone,
  in accounts whose admins switched it on.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


def _id() -> fields.IntField:
    return fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)


def _fk(model: str, source: str) -> fields.ForeignKeyField:
    return fields.ForeignKeyField(
        model, source_field=source, db_constraint=True, to_field="id",
        related_name=False, on_delete=OnDelete.CASCADE,
    )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("models", "0017_tasks")]

    initial = False

    operations = [
        ops.AddField(model_name="User", name="phone", field=fields.CharField(max_length=20, null=True)),
        ops.AddField(
            model_name="Account",
            name="notify_by_sms",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.CreateModel(
            name="Notification",
            fields=[
                ("id", _id()),
                ("account", _fk("models.Account", "account_id")),
                ("user", _fk("models.User", "user_id")),
                ("kind", fields.CharField(max_length=16)),
                ("title", fields.CharField(max_length=200)),
                ("body", fields.CharField(max_length=1000, default="", db_default="")),
                ("contact", _fk("models.Contact", "contact_id")),
                ("task_id", fields.IntField(null=True)),
                ("call_id", fields.IntField(null=True)),
                ("due_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("read_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "notification",
                "app": "models",
                "indexes": [Index(fields=["user_id", "id"]), Index(fields=["user_id", "read_at", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ReminderReceipt",
            fields=[
                ("id", _id()),
                ("account_id", fields.IntField()),
                ("kind", fields.CharField(max_length=16)),
                ("subject_id", fields.IntField()),
                ("version", fields.CharField(max_length=40)),
                ("sent_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "reminder_receipt",
                "app": "models",
                "unique_together": (("kind", "subject_id", "version"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
