"""Tortoise models, one module per card section. Tortoise discovers them from this package."""

from crm.models.accounts import Account, ApiKey, User
from crm.models.attachments import Attachment
from crm.models.billing import DocumentCounter, Invoice, Job, LineItem, Quote
from crm.models.calls import Call
from crm.models.contacts import Contact, ContactTag, FormAnswer, Tag, Utm
from crm.models.conversions import Conversion
from crm.models.custom_fields import CustomField, CustomFieldValue
from crm.models.deals import Deal
from crm.models.job_errors import JobError
from crm.models.jobs import BackgroundJob
from crm.models.journey import JourneyEvent
from crm.models.leads import Form, Lead
from crm.models.merges import Merge
from crm.models.messages import Message, MessageProviderId
from crm.models.notes import Note
from crm.models.notifications import Notification, ReminderReceipt
from crm.models.outbox import OutboxRow
from crm.models.profile import ContactProfile
from crm.models.property import PropertyFacts
from crm.models.recordings import RecordingShare
from crm.models.referrals import RewardEntry
from crm.models.segments import SavedView, Segment, SegmentMember
from crm.models.tasks import Task
from crm.models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "Account",
    "ApiKey",
    "Attachment",
    "BackgroundJob",
    "Call",
    "Contact",
    "ContactProfile",
    "ContactTag",
    "Conversion",
    "CustomField",
    "CustomFieldValue",
    "Deal",
    "DocumentCounter",
    "Form",
    "FormAnswer",
    "Invoice",
    "Job",
    "JobError",
    "JourneyEvent",
    "Lead",
    "LineItem",
    "Merge",
    "Message",
    "MessageProviderId",
    "Note",
    "Notification",
    "OutboxRow",
    "PropertyFacts",
    "Quote",
    "RecordingShare",
    "ReminderReceipt",
    "RewardEntry",
    "SavedView",
    "Segment",
    "SegmentMember",
    "Tag",
    "Task",
    "User",
    "Utm",
    "WebhookDelivery",
    "WebhookEndpoint",
]
