"""The SMS plugin: sends queued texts and checks phone line types, through whichever provider answers.

It knows no provider: `host.send_sms` and `host.lookup_phone_line` reach the first provider
plugin that answers (Twilio, `plugins.sms.twilio`, when configured). Without one, a queued text
is marked FAILED ("no SMS provider") and a line check is journaled as skipped; nothing crashes.

Handlers run in the outbox dispatcher after commit, at least once. A send is made safe to
repeat: the text is marked SENDING (with the attempt number) in a commit of its own *before*
the provider is called, and SENT with the provider's id after it answers. A retry of a text
left SENDING (its worker died mid-call, or the call timed out) hands it to the provider again
as a resumed send (`crm.services.messages.send_progress`); a provider that can be asked, such
as Twilio, first looks for the text it may already have taken and returns that instead of
sending a second copy. A text that is SENT, DELIVERED or FAILED is never handed over again.

A provider's permanent refusal
(`SendRejected`) marks the text FAILED with the provider's code (and turns consent off when the
recipient unsubscribed); anything else raised is retried with backoff, and after the last try
`event_dead_lettered` marks the text FAILED.
"""

from __future__ import annotations

import logging

from crm.contracts import OutboundSms, SendRejected
from crm.events import CardEvent, ReminderEvent
from crm.services import messages
from crm.services.messages import MessageStatus
from plugins import hookimpl
from plugins.base import HostedPlugin
from plugins.sms.reminders import reminder_texts

log = logging.getLogger("dossier.plugins.sms")

NO_SMS_PROVIDER = "no SMS provider"
# A receipt's provider status that is already an outcome (a resumed send finding its text).
_ADOPTED = {
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
}
NO_LOOKUP_PROVIDER = (
    "no phone lookup provider: set DOSSIER_TWILIO_ACCOUNT_SID, DOSSIER_TWILIO_AUTH_TOKEN "
    "and DOSSIER_TWILIO_FROM"
)


class SmsPlugin(HostedPlugin):
    name = "sms"

    # -- sending -----------------------------------------------------------------------

    @hookimpl
    async def sms_queued(self, event: CardEvent) -> None:
        message_id = int(event.subject.get("messageId") or event.subject_id or 0)
        actor = self._actor(event)
        # Committed before the provider is called: a retry knows this text may have gone out.
        progress = await messages.start_send(actor, message_id)
        if progress is None:
            status = await messages.message_status(event.account_id, message_id)
            log.info("message %s is %s, not waiting to be sent: not sent again", message_id, status)
            return
        outbound = OutboundSms(
            message_id=message_id,
            account_id=event.account_id,
            contact_id=event.contact_id,
            to=event.subject["to"],
            from_=event.subject.get("from"),
            body=event.subject["body"],
        )
        try:
            receipt = await self.host.send_sms(outbound) if self.host is not None else None
        except SendRejected as refused:
            if refused.unsubscribed:
                await messages.sms_unsubscribed(
                    actor,
                    event.contact_id,
                    f"The recipient opted out of SMS (provider error {refused.code})",
                )
            await messages.set_message_status(
                actor,
                message_id,
                MessageStatus.FAILED,
                error_code=refused.code,
                error_message=refused.message,
            )
            return
        if receipt is None:
            await messages.set_message_status(
                actor, message_id, MessageStatus.FAILED, error_message=NO_SMS_PROVIDER
            )
            return
        # A resumed send may find the text already delivered (or failed): adopt what the provider says.
        status = _ADOPTED.get(receipt.status.lower(), MessageStatus.SENT)
        await messages.set_message_status(actor, message_id, status, provider_id=receipt.provider_id)

    @hookimpl
    async def event_dead_lettered(self, event: CardEvent, hook: str, error: str) -> None:
        if hook != "sms_queued":
            return  # a failed line check is already in the journey; the card stays as it was
        message_id = int(event.subject.get("messageId") or event.subject_id or 0)
        await messages.set_message_status(
            self._actor(event), message_id, MessageStatus.FAILED, error_message=f"gave up: {error}"
        )

    # -- reminders (C9) -----------------------------------------------------------------

    @hookimpl
    async def task_due(self, event: ReminderEvent) -> None:
        await self._remind(event)

    @hookimpl
    async def call_reminder(self, event: ReminderEvent) -> None:
        await self._remind(event)

    async def _remind(self, event: ReminderEvent) -> None:
        """Text each recipient with a phone when the account enabled it (`notifyBySms`). A
        refused number is logged and skipped; anything else is raised and retried (at least
        once, like every hook: a retry may text a recipient again)."""
        for text in reminder_texts(event):
            try:
                receipt = await self.host.send_sms(text) if self.host is not None else None
            except SendRejected as refused:
                log.warning("reminder %s not texted to %s: %s", event.id, text.to, refused)
                continue
            if receipt is None:
                log.info("reminder %s not texted: %s", event.id, NO_SMS_PROVIDER)
                return

    # -- line checks -------------------------------------------------------------------

    @hookimpl
    async def contact_created(self, event: CardEvent) -> None:
        if event.contact.phone:
            await self._check_line(event, event.contact.phone)

    @hookimpl
    async def contact_updated(self, event: CardEvent) -> None:
        change = event.changes.get("phone")
        if change and change[1]:
            await self._check_line(event, change[1])

    @hookimpl
    async def phone_check_requested(self, event: CardEvent) -> None:
        phone = event.subject.get("phone") or event.contact.phone
        if phone:
            await self._check_line(event, phone)

    async def _check_line(self, event: CardEvent, phone: str) -> None:
        actor = self._actor(event)
        try:
            line = await self.host.lookup_phone_line(phone) if self.host is not None else None
        except SendRejected as refused:
            await messages.record_phone_check_skipped(
                actor, event.contact_id, phone, f"the lookup was refused ({refused.code}: {refused.message})"
            )
            return
        if line is None:
            await messages.record_phone_check_skipped(actor, event.contact_id, phone, NO_LOOKUP_PROVIDER)
            return
        await messages.record_phone_check(actor, event.contact_id, phone, line.line_type, line.carrier)
