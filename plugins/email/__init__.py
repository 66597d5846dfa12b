"""The email plugin: sends each queued email through the email provider (C4, B7).

`sendEmail` only stores the message (QUEUED) and writes an `email_queued` outbox row; this
plugin handles that row after commit: it hands the message to whichever `send_email`
provider answers first (the built-in one is `plugins.email.smtp.SmtpProvider`) and records
the outcome on the message and in the journey through `crm.services.messages`:

- accepted by the server: SENT, with the Message-ID as provider id (journal EMAIL_SENT);
- refused for good (`SendRejected`, e.g. SMTP 550): FAILED with the code, no retry (EMAIL_FAILED);
- no provider answered: FAILED, "no email provider";
- anything else (server down, timeout, 4xx): raised, so the outbox retries with backoff and
  journals PLUGIN_DELIVERY_FAILED; after the last attempt the message is marked FAILED.

Before the provider is called the message is marked SENDING (with the attempt number) in a
commit of its own, so a retry after a worker died mid-send knows the email may have gone out.
SMTP cannot be asked whether it did: the SMTP provider gives every try of one message the
same Message-ID (chosen and stored before the first try), which lets receivers that
deduplicate by Message-ID drop a second copy. Nothing in SMTP obliges them to, so an email
whose worker died after the server accepted it may arrive twice.

It mails due tasks and call reminders (`task_due`, `call_reminder`, C9) to the users they are
for (plugins/email/reminders.py). It also mails each conversion (`conversion_sent`, D11) to the
account's client address, as plain text and HTML (plugins/email/conversions.py), and records the
outcome on the conversion.
"""

from __future__ import annotations

import logging

from crm.contracts import OutboundEmail, SendRejected
from crm.events import CardEvent, ReminderEvent
from crm.services import conversions as conversion_service
from crm.services.messages import MessageStatus, set_message_status, start_send
from crm.wiring import wiring
from plugins import hookimpl
from plugins.base import HostedPlugin
from plugins.email.conversions import conversion_email
from plugins.email.reminders import reminder_email

log = logging.getLogger("dossier.plugins.email")

NO_PROVIDER = "no email provider"


class EmailPlugin(HostedPlugin):
    name = "email"

    @hookimpl
    async def email_queued(self, event: CardEvent) -> None:
        if self.host is None:
            raise RuntimeError("the email plugin was not started (its startup hook did not run)")
        subject = event.subject
        message_id = int(subject["messageId"])
        # Committed before the provider is called; a message already sent or failed is not handed over.
        if await start_send(self._actor(event), message_id) is None:
            return
        outbound = OutboundEmail(
            message_id=message_id,
            account_id=event.account_id,
            contact_id=event.contact_id,
            to=subject["to"],
            subject=subject.get("subject") or "",
            body=subject.get("body") or "",
        )
        try:
            receipt = await self.host.send_email(outbound)
        except SendRejected as exc:
            await set_message_status(
                self._actor(event),
                message_id,
                MessageStatus.FAILED,
                error_code=exc.code,
                error_message=exc.message,
            )
            return
        if receipt is None:
            await set_message_status(
                self._actor(event), message_id, MessageStatus.FAILED, error_message=NO_PROVIDER
            )
            return
        await set_message_status(
            self._actor(event), message_id, MessageStatus.SENT, provider_id=receipt.provider_id
        )

    @hookimpl
    async def conversion_sent(self, event: CardEvent) -> None:
        """Mail the conversion to the account's client address (`clientEmail`). No address,
        no provider or a permanent refusal: the conversion is FAILED with the reason (journal
        CONVERSION_EMAIL_FAILED); anything else is raised and retried by the outbox."""
        if self.host is None:
            raise RuntimeError("the email plugin was not started (its startup hook did not run)")
        conversion_id = int(event.subject["conversionId"])
        if await conversion_service.emailed_at(conversion_id) is not None:
            return  # a retry after the server took it
        actor = self._actor(event)
        to = await conversion_service.client_address(event.account_id)
        if not to:
            log.warning("conversion %s not emailed: %s", conversion_id, conversion_service.NO_CLIENT_ADDRESS)
            await conversion_service.record_email(
                actor, conversion_id, to=None, error=conversion_service.NO_CLIENT_ADDRESS
            )
            return
        try:
            receipt = await self.host.send_email(conversion_email(event, to, wiring.email_from))
        except SendRejected as exc:
            error = f"{to} refused it: {exc.code} {exc.message}"
            await conversion_service.record_email(actor, conversion_id, to=to, error=error)
            return
        if receipt is None:
            await conversion_service.record_email(actor, conversion_id, to=to, error=NO_PROVIDER)
            return
        await conversion_service.record_email(actor, conversion_id, to=to)

    @hookimpl
    async def task_due(self, event: ReminderEvent) -> None:
        await self._remind(event)

    @hookimpl
    async def call_reminder(self, event: ReminderEvent) -> None:
        await self._remind(event)

    async def _remind(self, event: ReminderEvent) -> None:
        """Mail each recipient (C9). A refused address is logged and skipped (retrying cannot
        help); anything else is raised, and the retry mails everyone again with the same
        Message-IDs (at least once, like every hook)."""
        if self.host is None:
            raise RuntimeError("the email plugin was not started (its startup hook did not run)")
        for person in event.recipients:
            if not person.email:
                continue
            try:
                receipt = await self.host.send_email(reminder_email(event, person, wiring.email_from))
            except SendRejected as exc:
                log.warning("reminder %s not mailed to %s: %s", event.id, person.email, exc)
                continue
            if receipt is None:
                log.info("reminder %s not mailed: %s", event.id, NO_PROVIDER)
                return

    @hookimpl
    async def event_dead_lettered(self, event: CardEvent, hook: str, error: str) -> None:
        if hook == "conversion_sent" and "conversionId" in event.subject:
            await conversion_service.record_email(
                self._actor(event), int(event.subject["conversionId"]), to=None, error=error
            )
            return
        if hook != "email_queued" or "messageId" not in event.subject:
            return
        await set_message_status(
            self._actor(event), int(event.subject["messageId"]), MessageStatus.FAILED, error_message=error
        )
