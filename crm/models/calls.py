"""Calls booked with a contact: upcoming or past, with an outcome once they happened."""

from tortoise import fields
from tortoise.models import Model


class Call(Model):
    id = fields.IntField(primary_key=True)
    contact = fields.ForeignKeyField("models.Contact", related_name="calls", on_delete=fields.CASCADE)
    event_name = fields.CharField(max_length=200)
    scheduled_at = fields.DatetimeField()
    duration_minutes = fields.IntField()
    status = fields.CharField(max_length=16, default="SCHEDULED")  # SCHEDULED | CANCELLED
    outcome = fields.CharField(max_length=32, null=True)
    outcome_at = fields.DatetimeField(null=True)
    recording_url = fields.CharField(max_length=1000, null=True)
    # A call logged after it happened (logCall): INBOUND | OUTBOUND; NULL for a booked call.
    direction = fields.CharField(max_length=16, null=True)
    duration_seconds = fields.IntField(null=True)
    summary = fields.TextField(null=True)
    cancel_reason = fields.CharField(max_length=500, null=True)
    cancelled_at = fields.DatetimeField(null=True)
    reschedule_count = fields.IntField(default=0)
    # The telephony provider's id of the call (Twilio's CallSid), so the provider's recording
    # callback finds it; and the provider's id of the recording stored from it, so a repeated
    # callback stores nothing twice (crm/services/recordings.py).
    provider_call_id = fields.CharField(max_length=64, null=True, unique=True)
    provider_recording_id = fields.CharField(max_length=64, null=True)
    booked_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "call"
        # The card's calls: loaded by contact; the communication history walks them by time.
        # (scheduled_at | outcome, ..., contact_id): the contacts table's call filters (migration 0022).
        indexes = (
            ("contact_id",),
            ("contact_id", "scheduled_at"),
            ("scheduled_at", "contact_id"),
            ("outcome", "scheduled_at", "contact_id"),
        )
