"""Reminder texts (C9): a due task or a coming call, texted to each user with a phone, in
accounts that switched it on (`notifyBySms`)."""

from __future__ import annotations

from crm.contracts import OutboundSms
from crm.events import ReminderEvent

MAX_BODY = 320  # two SMS segments: a reminder is a nudge, the app holds the rest


def reminder_texts(event: ReminderEvent) -> list[OutboundSms]:
    """One text per recipient who has a phone; none when the account has not enabled them."""
    if not event.notify_by_sms:
        return []
    body = f"{event.title}. {event.body}"[:MAX_BODY]
    return [
        OutboundSms(
            message_id=0,  # not a message of the card's thread: it goes to a user, not the contact
            account_id=event.account_id,
            contact_id=event.contact_id,
            to=person.phone,
            from_=None,
            body=body,
        )
        for person in event.recipients
        if person.phone
    ]
