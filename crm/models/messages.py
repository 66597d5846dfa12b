"""Messages on a card: the SMS thread and emails, outbound and inbound."""

from tortoise import fields
from tortoise.models import Model


class Message(Model):
    id = fields.BigIntField(primary_key=True)
    contact = fields.ForeignKeyField("models.Contact", related_name="messages", on_delete=fields.CASCADE)
    channel = fields.CharField(max_length=8)  # SMS | EMAIL
    direction = fields.CharField(max_length=8)  # OUTBOUND | INBOUND
    # QUEUED -> SENT -> DELIVERED, or FAILED / UNDELIVERED; RECEIVED for inbound.
    status = fields.CharField(max_length=12)
    to_address = fields.CharField(max_length=254)  # E.164 phone or email address
    from_address = fields.CharField(max_length=254, null=True)
    subject = fields.CharField(max_length=300, null=True)
    body = fields.TextField()
    provider_id = fields.CharField(max_length=64, null=True, unique=True)  # e.g. Twilio's SM... sid
    error_code = fields.CharField(max_length=32, null=True)
    error_message = fields.CharField(max_length=500, null=True)
    author = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    sent_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "message"
        indexes = (("contact_id", "channel", "id"),)
