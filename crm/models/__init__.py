"""Tortoise models, one module per card section. Tortoise discovers them from this package."""

from crm.models.accounts import Account, ApiKey, User
from crm.models.calls import Call
from crm.models.contacts import Contact, ContactTag, FormAnswer, Tag, Utm
from crm.models.conversions import Conversion
from crm.models.deals import Deal
from crm.models.journey import JourneyEvent
from crm.models.leads import Form, Lead
from crm.models.merges import Merge
from crm.models.messages import Message, MessageProviderId
from crm.models.notes import Note
from crm.models.outbox import OutboxRow
from crm.models.property import PropertyFacts
from crm.models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "Account",
    "ApiKey",
    "Call",
    "Contact",
    "ContactTag",
    "Conversion",
    "Deal",
    "Form",
    "FormAnswer",
    "JourneyEvent",
    "Lead",
    "Merge",
    "Message",
    "MessageProviderId",
    "Note",
    "OutboxRow",
    "PropertyFacts",
    "Tag",
    "User",
    "Utm",
    "WebhookDelivery",
    "WebhookEndpoint",
]
