"""The partner API: everything a Dossier plugin may import, from one stable module.

A plugin imports from here (and, in its tests, from `dossier.plugin.testing`) and from
nowhere else in Dossier: `crm`, `plugins` and `graph` are Dossier's own packages, whose
names and layout may change between releases (and `crm` is also the name of an unrelated
package on the public index). What is listed in `__all__` is the contract; docs/plugins.md
documents each name, and a test fails when the guide or the example plugin uses anything
else.

    from dossier.plugin import Actor, CardEvent, add_note, hookimpl
"""

from __future__ import annotations

from crm.actor import Actor, ActorKind
from crm.contracts import (
    CardAddress,
    CardContact,
    CardLink,
    EmailReceipt,
    OutboundEmail,
    OutboundSms,
    PhoneLine,
    PropertyFacts,
    SendRejected,
    SmsReceipt,
)
from crm.errors import BadInput, Conflict, DomainError, Forbidden, NotConfigured, NotFound
from crm.events import AccountEvent, ActorSnapshot, CardEvent, ContactSnapshot, Recipient, ReminderEvent
from crm.services.calls import CallOutcome, cancel_call, reschedule_call, schedule_call, set_call_outcome
from crm.services.chat import record_chat_message
from crm.services.contacts import assign_owners, create_contact, set_status, update_contact
from crm.services.deals import DealStatus, PaymentType, add_deal, update_deal
from crm.services.messages import (
    MessageStatus,
    SendProgress,
    account_for_number,
    keep_send_key,
    queue_email,
    queue_sms,
    receive_sms,
    request_phone_check,
    send_progress,
    set_message_status,
    set_sms_consent,
    start_send,
)
from crm.services.notes import add_note, delete_note, edit_note
from crm.services.recordings import RecordingUnavailable, store_recording_from_url
from crm.services.tags import add_tag, remove_tag
from crm.wiring import EventAudience
from graph.ids import MAX_DB_ID, global_id_text, parse_global_id
from plugins import hookimpl
from plugins.host import PluginHost

# The API's object types a plugin's ids can name (the GraphQL types implementing Node).
NODE_TYPES: frozenset[str] = frozenset(
    {
        "ApiKey",
        "Attachment",
        "BackgroundJob",
        "BulkJob",
        "Call",
        "Contact",
        "ContactMerge",
        "Conversion",
        "CustomField",
        "Deal",
        "Form",
        "Invoice",
        "Job",
        "JourneyEvent",
        "Lead",
        "Message",
        "Note",
        "Notification",
        "Quote",
        "RecordingShare",
        "Segment",
        "Tag",
        "Task",
        "User",
        "View",
        "WebhookDelivery",
        "WebhookEndpoint",
    }
)


def _check_type(type_name: str) -> None:
    if type_name not in NODE_TYPES:
        known = ", ".join(sorted(NODE_TYPES))
        raise ValueError(f"{type_name!r} is not a type of the Dossier API; one of {known}")


def global_id(type_name: str, local_id: int) -> str:
    """The id the GraphQL API shows for a database id: `global_id("Contact", event.contact_id)`
    is what `contact(id:)` takes and `Contact.id` answers (base64 of "Contact:<id>")."""
    _check_type(type_name)
    if isinstance(local_id, bool) or not isinstance(local_id, int) or not 1 <= local_id <= MAX_DB_ID:
        raise ValueError(f"{local_id!r} is not a database id (an integer from 1 to {MAX_DB_ID})")
    return global_id_text(type_name, local_id)


def local_id(value: str, type_name: str) -> int:
    """The database id inside a global id of the given type (what services and events use):
    `local_id(contact["id"], "Contact")`. ValueError for anything else, with the reason."""
    _check_type(type_name)
    try:
        found, number = parse_global_id(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an id of the Dossier API") from None
    if found != type_name:
        raise ValueError(f"{value!r} is a {found} id, not a {type_name} id")
    return number


__all__ = [
    "NODE_TYPES",
    "AccountEvent",
    "Actor",
    "ActorKind",
    "ActorSnapshot",
    "BadInput",
    "CallOutcome",
    "CardAddress",
    "CardContact",
    "CardEvent",
    "CardLink",
    "Conflict",
    "ContactSnapshot",
    "DealStatus",
    "DomainError",
    "EmailReceipt",
    "EventAudience",
    "Forbidden",
    "MessageStatus",
    "NotConfigured",
    "NotFound",
    "OutboundEmail",
    "OutboundSms",
    "PaymentType",
    "PhoneLine",
    "PluginHost",
    "PropertyFacts",
    "Recipient",
    "RecordingUnavailable",
    "ReminderEvent",
    "SendProgress",
    "SendRejected",
    "SmsReceipt",
    "account_for_number",
    "add_deal",
    "add_note",
    "add_tag",
    "assign_owners",
    "cancel_call",
    "create_contact",
    "delete_note",
    "edit_note",
    "global_id",
    "hookimpl",
    "keep_send_key",
    "local_id",
    "queue_email",
    "queue_sms",
    "receive_sms",
    "record_chat_message",
    "remove_tag",
    "request_phone_check",
    "reschedule_call",
    "schedule_call",
    "send_progress",
    "set_call_outcome",
    "set_message_status",
    "set_sms_consent",
    "set_status",
    "start_send",
    "store_recording_from_url",
    "update_contact",
    "update_deal",
]
