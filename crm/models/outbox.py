"""The outbox: one row per (event, plugin), written in the mutation's own transaction."""

from tortoise import fields
from tortoise.models import Model


class OutboxRow(Model):
    id = fields.BigIntField(primary_key=True)
    account_id = fields.IntField()
    contact_id = fields.IntField(null=True)
    hook = fields.CharField(max_length=64)  # the hookspec name, e.g. "contact_created"
    plugin = fields.CharField(max_length=120)  # the plugin that must receive it
    payload = fields.JSONField()  # the event snapshot, see crm.events
    status = fields.CharField(max_length=12, default="PENDING")  # PENDING | DELIVERED | DEAD
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    # A claim is a lease: a worker that dies mid-delivery loses it when it expires.
    locked_until = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        # contact_id: deleteContacts erases a card's rows (crm/services/lifecycle.py).
        indexes = (("status", "next_attempt_at"), ("contact_id",))
