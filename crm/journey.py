"""Journey kinds, the hook each one fires, and the JSON shape of a published entry."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class JourneyKind(StrEnum):
    CONTACT_CREATED = "CONTACT_CREATED"
    CONTACT_UPDATED = "CONTACT_UPDATED"
    STATUS_CHANGED = "STATUS_CHANGED"
    OWNER_CHANGED = "OWNER_CHANGED"
    TAG_ADDED = "TAG_ADDED"
    TAG_REMOVED = "TAG_REMOVED"
    CALL_SCHEDULED = "CALL_SCHEDULED"
    CALL_RESCHEDULED = "CALL_RESCHEDULED"
    CALL_CANCELLED = "CALL_CANCELLED"
    CALL_OUTCOME_SET = "CALL_OUTCOME_SET"
    DEAL_ADDED = "DEAL_ADDED"
    DEAL_UPDATED = "DEAL_UPDATED"
    NOTE_ADDED = "NOTE_ADDED"
    NOTE_EDITED = "NOTE_EDITED"
    NOTE_DELETED = "NOTE_DELETED"
    # Files on a card (crm/services/attachments.py): uploaded, deleted.
    ATTACHMENT_ADDED = "ATTACHMENT_ADDED"
    ATTACHMENT_DELETED = "ATTACHMENT_DELETED"
    SMS_QUEUED = "SMS_QUEUED"
    SMS_SENT = "SMS_SENT"
    SMS_DELIVERED = "SMS_DELIVERED"
    SMS_FAILED = "SMS_FAILED"
    SMS_RECEIVED = "SMS_RECEIVED"
    SMS_CONSENT_CHANGED = "SMS_CONSENT_CHANGED"
    PHONE_CHECK_REQUESTED = "PHONE_CHECK_REQUESTED"
    PHONE_VERIFIED = "PHONE_VERIFIED"
    PHONE_CHECK_SKIPPED = "PHONE_CHECK_SKIPPED"
    EMAIL_QUEUED = "EMAIL_QUEUED"
    EMAIL_SENT = "EMAIL_SENT"
    EMAIL_FAILED = "EMAIL_FAILED"
    LEAD_SUBMITTED = "LEAD_SUBMITTED"
    # Conversions (crm/services/conversions.py): sent to the client, held for a manager's
    # review, rejected by one; EMAILED / EMAIL_FAILED are the email plugin's outcome.
    CONVERSION_SENT = "CONVERSION_SENT"
    CONVERSION_HELD = "CONVERSION_HELD"
    CONVERSION_REJECTED = "CONVERSION_REJECTED"
    CONVERSION_EMAILED = "CONVERSION_EMAILED"
    CONVERSION_EMAIL_FAILED = "CONVERSION_EMAIL_FAILED"
    # The record's lifecycle (crm/services/lifecycle.py): duplicate, archive, restore,
    # delete; and calls logged after they happened (crm/services/call_log.py).
    CONTACT_DUPLICATED = "CONTACT_DUPLICATED"
    CONTACT_ARCHIVED = "CONTACT_ARCHIVED"
    CONTACT_RESTORED = "CONTACT_RESTORED"
    CONTACT_DELETED = "CONTACT_DELETED"
    CALL_LOGGED = "CALL_LOGGED"
    # mergeContacts (on the primary) / unmergeContacts (on the primary and each restored one).
    CONTACTS_MERGED = "CONTACTS_MERGED"
    CONTACT_UNMERGED = "CONTACT_UNMERGED"
    # setCustomFieldValues and applyCustomFieldToAll (crm/services/custom_fields.py).
    CUSTOM_FIELD_CHANGED = "CUSTOM_FIELD_CHANGED"
    # Chat messages a chat plugin recorded (crm/services/chat.py).
    CHAT_RECEIVED = "CHAT_RECEIVED"
    CHAT_SENT = "CHAT_SENT"
    # Referrals, rewards and opt-ins (crm/services/referrals.py, rewards.py, optins.py).
    INVITER_SET = "INVITER_SET"
    REWARD_EARNED = "REWARD_EARNED"
    REWARD_ISSUED = "REWARD_ISSUED"
    PROMO_REDEEMED = "PROMO_REDEEMED"
    OPT_IN_CHANGED = "OPT_IN_CHANGED"
    # Quotes, jobs and invoices (crm/services/billing.py).
    QUOTE_CREATED = "QUOTE_CREATED"
    QUOTE_UPDATED = "QUOTE_UPDATED"
    QUOTE_STATUS_CHANGED = "QUOTE_STATUS_CHANGED"
    JOB_CREATED = "JOB_CREATED"
    JOB_UPDATED = "JOB_UPDATED"
    JOB_STATUS_CHANGED = "JOB_STATUS_CHANGED"
    INVOICE_CREATED = "INVOICE_CREATED"
    INVOICE_UPDATED = "INVOICE_UPDATED"
    INVOICE_STATUS_CHANGED = "INVOICE_STATUS_CHANGED"
    INVOICE_PAYMENT_RECORDED = "INVOICE_PAYMENT_RECORDED"
    # Tasks (crm/services/tasks.py).
    TASK_CREATED = "TASK_CREATED"
    TASK_UPDATED = "TASK_UPDATED"
    TASK_COMPLETED = "TASK_COMPLETED"
    TASK_REOPENED = "TASK_REOPENED"
    TASK_CANCELLED = "TASK_CANCELLED"
    # Static segments' members (crm/services/segments.py): addToSegment, removeFromSegment,
    # createSegment with contactIds, the bulk action ADD_TO_SEGMENT.
    ADDED_TO_SEGMENT = "ADDED_TO_SEGMENT"
    REMOVED_FROM_SEGMENT = "REMOVED_FROM_SEGMENT"
    # Call recordings (crm/services/recordings.py).
    RECORDING_ATTACHED = "RECORDING_ATTACHED"
    RECORDING_SHARED = "RECORDING_SHARED"
    RECORDING_SHARE_REVOKED = "RECORDING_SHARE_REVOKED"
    # Written by the dispatcher, not by a mutation: a plugin failed to handle an event.
    PLUGIN_DELIVERY_FAILED = "PLUGIN_DELIVERY_FAILED"
    # A task fell due or a call is coming: the users were notified (crm/services/reminders.py).
    # Fires no hook of its own: the reminder fires task_due / call_reminder.
    NOTIFICATION_SENT = "NOTIFICATION_SENT"
    # A row of an import file created this contact or merged into it (crm/imports). Fires no
    # hook per contact: the import job fires contacts_imported once when it ends.
    CONTACT_IMPORTED = "CONTACT_IMPORTED"
    # exportContact: the contact's data was exported (a GDPR access request, crm/services/exports.py).
    CONTACT_EXPORTED = "CONTACT_EXPORTED"


# The hookspec (plugins/hookspecs.py) that each mutation's event fires. Kinds not listed
# fire nothing.
HOOK_FOR_KIND: dict[JourneyKind, str] = {
    JourneyKind.CONTACT_CREATED: "contact_created",
    JourneyKind.CONTACT_UPDATED: "contact_updated",
    JourneyKind.STATUS_CHANGED: "contact_status_changed",
    JourneyKind.OWNER_CHANGED: "contact_owners_changed",
    JourneyKind.TAG_ADDED: "tag_added",
    JourneyKind.TAG_REMOVED: "tag_removed",
    JourneyKind.CALL_SCHEDULED: "call_scheduled",
    JourneyKind.CALL_RESCHEDULED: "call_rescheduled",
    JourneyKind.CALL_CANCELLED: "call_cancelled",
    JourneyKind.CALL_OUTCOME_SET: "call_outcome_set",
    JourneyKind.DEAL_ADDED: "deal_added",
    JourneyKind.DEAL_UPDATED: "deal_updated",
    JourneyKind.NOTE_ADDED: "note_added",
    JourneyKind.NOTE_EDITED: "note_edited",
    JourneyKind.NOTE_DELETED: "note_deleted",
    JourneyKind.ATTACHMENT_ADDED: "attachment_added",
    JourneyKind.ATTACHMENT_DELETED: "attachment_deleted",
    JourneyKind.SMS_QUEUED: "sms_queued",
    JourneyKind.SMS_SENT: "sms_status_changed",
    JourneyKind.SMS_DELIVERED: "sms_status_changed",
    JourneyKind.SMS_FAILED: "sms_status_changed",
    JourneyKind.SMS_RECEIVED: "sms_received",
    JourneyKind.SMS_CONSENT_CHANGED: "sms_consent_changed",
    JourneyKind.PHONE_CHECK_REQUESTED: "phone_check_requested",
    JourneyKind.PHONE_VERIFIED: "phone_verified",
    JourneyKind.EMAIL_QUEUED: "email_queued",
    JourneyKind.EMAIL_SENT: "email_status_changed",
    JourneyKind.EMAIL_FAILED: "email_status_changed",
    JourneyKind.CONTACTS_MERGED: "contacts_merged",
    JourneyKind.CONTACT_UNMERGED: "contact_unmerged",
    JourneyKind.CONTACT_DUPLICATED: "contact_duplicated",
    JourneyKind.CONTACT_ARCHIVED: "contact_archived",
    JourneyKind.CONTACT_RESTORED: "contact_restored",
    JourneyKind.CONTACT_DELETED: "contact_deleted",
    JourneyKind.CALL_LOGGED: "call_logged",
    JourneyKind.CONVERSION_SENT: "conversion_sent",
    JourneyKind.CONVERSION_HELD: "conversion_held",
    JourneyKind.CONVERSION_REJECTED: "conversion_rejected",
    JourneyKind.LEAD_SUBMITTED: "lead_submitted",
    JourneyKind.QUOTE_CREATED: "quote_created",
    JourneyKind.QUOTE_UPDATED: "quote_updated",
    JourneyKind.QUOTE_STATUS_CHANGED: "quote_status_changed",
    JourneyKind.JOB_CREATED: "job_created",
    JourneyKind.JOB_UPDATED: "job_updated",
    JourneyKind.JOB_STATUS_CHANGED: "job_status_changed",
    JourneyKind.INVOICE_CREATED: "invoice_created",
    JourneyKind.INVOICE_UPDATED: "invoice_updated",
    JourneyKind.INVOICE_STATUS_CHANGED: "invoice_status_changed",
    JourneyKind.INVOICE_PAYMENT_RECORDED: "invoice_payment_recorded",
    JourneyKind.INVITER_SET: "inviter_set",
    JourneyKind.REWARD_EARNED: "reward_earned",
    JourneyKind.REWARD_ISSUED: "reward_issued",
    JourneyKind.PROMO_REDEEMED: "promo_redeemed",
    JourneyKind.OPT_IN_CHANGED: "opt_in_changed",
    JourneyKind.CHAT_RECEIVED: "chat_received",
    JourneyKind.CHAT_SENT: "chat_sent",
    JourneyKind.CUSTOM_FIELD_CHANGED: "custom_field_values_changed",
    JourneyKind.RECORDING_ATTACHED: "recording_attached",
    JourneyKind.RECORDING_SHARED: "recording_shared",
    JourneyKind.RECORDING_SHARE_REVOKED: "recording_share_revoked",
    JourneyKind.TASK_CREATED: "task_created",
    JourneyKind.TASK_UPDATED: "task_updated",
    JourneyKind.TASK_COMPLETED: "task_completed",
    JourneyKind.TASK_REOPENED: "task_reopened",
    JourneyKind.TASK_CANCELLED: "task_cancelled",
    JourneyKind.ADDED_TO_SEGMENT: "contact_added_to_segment",
    JourneyKind.REMOVED_FROM_SEGMENT: "contact_removed_from_segment",
    JourneyKind.CONTACT_EXPORTED: "contact_exported",
}

# Hooks whose events outgoing webhooks may subscribe to: every event hook above.
EVENT_HOOKS: tuple[str, ...] = tuple(dict.fromkeys(HOOK_FOR_KIND.values()))

# Columns a journey read returns; loaders and the live feed share this shape.
JOURNEY_COLUMNS = (
    "id",
    "contact_id",
    "kind",
    "occurred_at",
    "actor_kind",
    "actor_user_id",
    "actor_name",
    "summary",
    "changes",
    "subject_type",
    "subject_id",
)


def messages_channel(account_id: int, contact_id: int) -> str:
    """The live-update channel of one card's message threads."""
    return f"dossier:messages:{account_id}:{contact_id}"


def journey_channel(account_id: int, contact_id: int) -> str:
    """The live-update channel of one card's journey."""
    return f"dossier:journey:{account_id}:{contact_id}"


def to_message(row: dict[str, Any]) -> dict[str, Any]:
    """A journey row as JSON for the live broker (datetimes as ISO strings)."""
    message = {column: row[column] for column in JOURNEY_COLUMNS}
    message["occurred_at"] = row["occurred_at"].isoformat()
    return message
