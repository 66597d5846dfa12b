"""Conversions (D11): a card's summary sent to the account's client, or held for a manager.

A conversion is made when a contact reaches a status whose routing is CLIENT or MANAGER, or
when a user sends the card by hand (`sendToClient`). Its `summary` is a snapshot of the card
as it was then (name, email, phone, rep, media source, campaign, status); `extra_fields` are
what the user added or changed. A CLIENT conversion is SENT at once; a MANAGER one waits in
PENDING_REVIEW until a manager approves (SENT) or rejects (REJECTED) it. FAILED: the email to
the client could not be delivered (no client address, a refusal, or the retries gave up).
"""

from tortoise import fields
from tortoise.models import Model


# (A comment, not a docstring: tortoise would store a docstring as the table's description.)
class Conversion(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name="conversions", on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField("models.Contact", related_name="conversions", on_delete=fields.CASCADE)
    status = fields.CharField(max_length=16)  # PENDING_REVIEW | SENT | REJECTED | FAILED
    routing = fields.CharField(max_length=8)  # CLIENT | MANAGER
    # {"name", "email", "phone", "rep", "mediaSource", "campaign", "status", "subStatus"} as of creation.
    summary = fields.JSONField(default=dict)
    # [{"name": str, "value": str}, ...]: the fields the user added or changed (sendToClient).
    extra_fields = fields.JSONField(default=list)
    reason = fields.CharField(max_length=500, null=True)  # why a manager rejected it
    error = fields.CharField(max_length=500, null=True)  # why the email to the client failed
    created_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    reviewed_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    reviewed_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)  # released to the client (the conversion_sent event)
    emailed_at = fields.DatetimeField(null=True)  # the client's email server accepted it

    class Meta:
        table = "conversion"
        indexes = (("contact_id", "id"), ("account_id", "status", "id"), ("account_id", "id"))
