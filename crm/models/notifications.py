"""The in-app inbox (issue 13: C9): notifications of due tasks and coming calls, per user.

`ReminderReceipt` is what makes a due time notify once: one row per (kind, task or call, version),
unique, written in the same transaction as the notifications it stands for
(crm/services/reminders.py).
"""

from tortoise import fields
from tortoise.models import Model


class Notification(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=16)  # TASK_DUE | CALL_REMINDER
    title = fields.CharField(max_length=200)
    body = fields.CharField(max_length=1000, default="", db_default="")
    # Deleting a card deletes its notifications; a task or call only goes with its card, so the
    # plain ids below never outlive what they name (and need no constraint on another part's table).
    contact = fields.ForeignKeyField("models.Contact", related_name=False, on_delete=fields.CASCADE)
    task_id = fields.IntField(null=True)
    call_id = fields.IntField(null=True)
    # The due time it announces: the task's due time or the call's start.
    due_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        # (user_id, id): a user's inbox newest first; (user_id, read_at, id): unread ones and their count.
        indexes = (("user_id", "id"), ("user_id", "read_at", "id"))


class ReminderReceipt(Model):
    id = fields.IntField(primary_key=True)
    account_id = fields.IntField()
    kind = fields.CharField(max_length=16)  # TASK_DUE | CALL_REMINDER
    subject_id = fields.IntField()  # the task's or the call's id
    # The due version the notification was for: Task.due_version, or the call's start (ISO 8601).
    version = fields.CharField(max_length=40)
    sent_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reminder_receipt"
        unique_together = (("kind", "subject_id", "version"),)
