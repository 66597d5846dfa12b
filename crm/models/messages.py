"""Messages on a card: the SMS thread and emails, outbound and inbound."""

from tortoise import fields
from tortoise.models import Model


class Message(Model):
    id = fields.BigIntField(primary_key=True)
    contact = fields.ForeignKeyField("models.Contact", related_name="messages", on_delete=fields.CASCADE)
    channel = fields.CharField(max_length=8)  # SMS | EMAIL | CHAT (crm/services/chat.py)
    direction = fields.CharField(max_length=8)  # OUTBOUND | INBOUND
    # QUEUED -> SENDING -> SENT -> DELIVERED, or FAILED / UNDELIVERED; RECEIVED for inbound.
    # SENDING is committed before the provider is called, so a retry knows a send may have gone out.
    status = fields.CharField(max_length=12)
    to_address = fields.CharField(max_length=254)  # E.164 phone or email address
    from_address = fields.CharField(max_length=254, null=True)
    subject = fields.CharField(max_length=300, null=True)
    body = fields.TextField()
    # The provider's id (e.g. Twilio's SM... sid) the message is known by: the first one recorded.
    # Every id an outbound message ever got is in MessageProviderId, for late status callbacks.
    provider_id = fields.CharField(max_length=64, null=True, unique=True)
    error_code = fields.CharField(max_length=32, null=True)
    error_message = fields.CharField(max_length=500, null=True)
    author = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    sent_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    # Outbound sends: how many times a send was started, when the first one started (a retry
    # asks the provider for anything sent since then) and the key the provider was given, kept
    # across tries (an email's Message-ID).
    send_attempts = fields.IntField(default=0, db_default=0)
    send_started_at = fields.DatetimeField(null=True)
    send_key = fields.CharField(max_length=254, null=True)

    class Meta:
        table = "message"
        # The thread by channel; the communication history by time.
        # (created_at, contact_id): the contacts table's lastInteraction filter (migration 0022).
        indexes = (
            ("contact_id", "channel", "id"),
            ("contact_id", "created_at"),
            ("created_at", "contact_id"),
        )


# One provider id an outbound message got. Usually one per message; two when a provider that
# cannot be asked took the same message twice. Unique, so a status callback finds its message.
# (A comment, not a docstring: tortoise would store a docstring as the table's description.)
class MessageProviderId(Model):
    id = fields.BigIntField(primary_key=True)
    message = fields.ForeignKeyField("models.Message", related_name="provider_ids", on_delete=fields.CASCADE)
    provider_id = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "message_provider_id"
