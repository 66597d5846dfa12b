"""Signed outgoing webhooks: endpoints an admin registers, and every delivery attempt's outcome."""

from tortoise import fields
from tortoise.models import Model


class WebhookEndpoint(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField(
        "models.Account", related_name="webhook_endpoints", on_delete=fields.CASCADE
    )
    url = fields.CharField(max_length=1000)
    events = fields.JSONField(default=list)  # hook names, e.g. ["contact_created"]; empty = all
    secret = fields.CharField(max_length=80)  # HMAC-SHA256 key; shown to the admin on creation
    active = fields.BooleanField(default=True)
    description = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "webhook_endpoint"


class WebhookDelivery(Model):
    id = fields.BigIntField(primary_key=True)
    endpoint = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_id = fields.CharField(max_length=36)  # CardEvent.id: receivers dedupe on it
    event = fields.CharField(max_length=64)
    payload = fields.JSONField()
    status = fields.CharField(max_length=12, default="PENDING")  # PENDING | DELIVERED | FAILED
    attempts = fields.IntField(default=0)
    response_status = fields.IntField(null=True)
    error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_attempt_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_delivery"
        unique_together = (("endpoint", "event_id"),)
