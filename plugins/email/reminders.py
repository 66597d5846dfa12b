"""Reminder emails (C9): a due task or a coming call, mailed to each user it is for."""

from __future__ import annotations

from email.utils import parseaddr

from crm.contracts import OutboundEmail
from crm.events import Recipient, ReminderEvent


def reminder_email(event: ReminderEvent, person: Recipient, sender: str | None) -> OutboundEmail:
    """The email telling `person` about `event`. Its Message-ID is fixed by the event and the
    user, so a retry after an unknown outcome carries the same one (receivers that deduplicate
    by Message-ID show one copy)."""
    domain = parseaddr(sender or "")[1].rpartition("@")[2] or "dossier.invalid"
    return OutboundEmail(
        message_id=0,  # not a message of the card's thread: it goes to a user, not the contact
        account_id=event.account_id,
        contact_id=event.contact_id,
        to=person.email,
        subject=event.title,
        body=f"Hello {person.name},\n\n{event.body}\n\nContact: {event.contact.display_name}\n",
        message_key=f"<reminder.{event.id}.{person.user_id}@{domain}>",
    )
