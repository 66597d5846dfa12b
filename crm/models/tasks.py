"""Tasks and upcoming actions on a card (issue 13: B5): to-dos, meetings, reminders."""

from tortoise import fields
from tortoise.models import Model


class Task(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField("models.Contact", related_name="tasks", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=16)  # TASK | MEETING | COMMENT | CALL | EMAIL | REMINDER
    title = fields.CharField(max_length=200)
    body = fields.TextField(default="", db_default="")  # sanitised HTML, see crm.richtext
    text_length = fields.IntField(default=0, db_default=0)
    # UTC; `due_offset_minutes` keeps the offset the client gave, so the time reads back as written.
    due_at = fields.DatetimeField(null=True)
    due_offset_minutes = fields.SmallIntField(null=True)
    duration_minutes = fields.IntField(null=True)
    status = fields.CharField(max_length=12, default="OPEN", db_default="OPEN")  # OPEN | DONE | CANCELLED
    assignee = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    # The creator owns the task: reps change tasks they own or are assigned.
    owner = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    completed_at = fields.DatetimeField(null=True)
    completed_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    # Bumped on every due-time change: the due notification's outbox row carries the version
    # it was written for, so a row for an old due time finds itself stale (crm/services/reminders).
    due_version = fields.IntField(default=0, db_default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "task"
        indexes = (
            ("contact_id", "status", "due_at"),  # a card's tasks and its upcoming actions
            ("assignee_id", "status", "due_at"),  # myTasks
            ("status", "due_at", "contact_id"),  # the contacts table's overdue-task filter (migration 0022)
        )
