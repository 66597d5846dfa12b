"""Tasks and upcoming actions (issue 13: B5).

- task: a to-do, meeting, comment, call, email or reminder on a card. `due_at` is UTC and
  `due_offset_minutes` the offset the client wrote it with (dueAt reads back as written);
  `due_version` is bumped on every change to when (or whether) the task falls due, for the due
  notifications (crm/services/reminders.py). The creator owns it (`owner_id`); assignee, owner
  and completed_by are SET NULL when their user goes, the contact and account CASCADE.
- (contact_id, status, due_at) serves a card's tasks and its upcoming actions;
  (assignee_id, status, due_at) a user's open tasks by due time (myTasks).
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
    dependencies = [("models", "0016_referrals_rewards")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Task",
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
                        related_name="tasks",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("kind", fields.CharField(max_length=16)),
                ("title", fields.CharField(max_length=200)),
                ("body", fields.TextField(default="", db_default="")),
                ("text_length", fields.IntField(default=0, db_default=0)),
                ("due_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("due_offset_minutes", fields.SmallIntField(null=True)),
                ("duration_minutes", fields.IntField(null=True)),
                ("status", fields.CharField(max_length=12, default="OPEN", db_default="OPEN")),
                ("assignee", _fk("models.User", "assignee_id", OnDelete.SET_NULL, null=True)),
                ("owner", _fk("models.User", "owner_id", OnDelete.SET_NULL, null=True)),
                ("completed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("completed_by", _fk("models.User", "completed_by_id", OnDelete.SET_NULL, null=True)),
                ("due_version", fields.IntField(default=0, db_default=0)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "task",
                "app": "models",
                "indexes": [
                    Index(fields=["contact_id", "status", "due_at"]),
                    Index(fields=["assignee_id", "status", "due_at"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
