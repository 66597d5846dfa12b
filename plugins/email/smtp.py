"""The SMTP email provider (`aiosmtplib`): implements the `send_email` provider hook.

Settings (all optional; email stays off until HOST and FROM are set):

- `DOSSIER_SMTP_HOST`: the server, e.g. `smtp.example.com`.
- `DOSSIER_SMTP_TLS`: `starttls` (default: connect in plain text, then upgrade with STARTTLS;
  the upgrade is required, never skipped), `tls` (implicit TLS from the first byte, "SMTPS"), or
  `none` (plain text; only for a relay on a trusted network). Certificates are always verified.
- `DOSSIER_SMTP_PORT`: defaults to 587 with `starttls`, 465 with `tls`, 25 with `none`.
- `DOSSIER_SMTP_USERNAME` / `DOSSIER_SMTP_PASSWORD`: log in (AUTH) when a username is set.
- `DOSSIER_SMTP_FROM`: the sender, `crm@example.com` or `Acme CRM <crm@example.com>`.
- `DOSSIER_SMTP_TIMEOUT`: seconds for connecting and for each server reply (default 20).

A malformed TLS mode, port or timeout stops start-up with a message naming the variable:
guessing could send mail in plain text.

Retries: the Message-ID of an email is chosen before its first try and stored with the message
(`crm.services.messages.keep_send_key`); a retry of an email whose earlier try was cut short
(its worker died after handing it over, or the server never answered) sends it again with the
same Message-ID. SMTP has no way to ask a server whether it already accepted a message, so the
retry is a second copy to the server; receivers that deduplicate by Message-ID (many mail
stores do, nothing in RFC 5322 requires it) show it once.

Errors: a permanent refusal of the message (a 5xx reply to the sender, a recipient or the
content) raises `SendRejected` with the SMTP code, so the message is marked failed at once.
Everything else is raised as it is and retried by the outbox: connection refused, timeouts,
4xx replies (greylisting, mailbox busy), and also failed logins and a server that does not
offer STARTTLS, which are the server's configuration, not the message's fault.
"""

from __future__ import annotations

import logging
import secrets
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib

from crm.contracts import EmailReceipt, OutboundEmail, SendRejected
from crm.services import messages
from plugins import hookimpl
from plugins.host import PluginHost

log = logging.getLogger("dossier.plugins.smtp")

TLS_MODES = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
DEFAULT_TIMEOUT = 20.0
PROVIDER_ID_MAX = 64  # Message.provider_id column


class SmtpSettingError(ValueError):
    """A DOSSIER_SMTP_* variable has a value that cannot be used."""


def _one_line(text: str) -> str:
    """Header values are one line: CR/LF (header injection) and runs of spaces become one space."""
    return " ".join(text.split())


def make_message_id(sender: str) -> str:
    """A unique Message-ID short enough for the message's provider id column."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "dossier.invalid"
    message_id = f"<{secrets.token_hex(12)}@{domain}>"
    return message_id if len(message_id) <= PROVIDER_ID_MAX else f"<{secrets.token_hex(12)}@dossier.invalid>"


class SmtpProvider:
    name = "smtp"

    def __init__(self) -> None:
        self.hostname: str | None = None
        self.port = DEFAULT_PORTS["starttls"]
        self.tls = "starttls"
        self.username: str | None = None
        self.password: str | None = None
        self.sender: str | None = None
        self.timeout = DEFAULT_TIMEOUT

    @property
    def configured(self) -> bool:
        return bool(self.hostname and self.sender)

    @hookimpl
    def startup(self, host: PluginHost) -> None:
        self.hostname = host.setting("SMTP_HOST")
        self.sender = host.setting("SMTP_FROM")
        self.username = host.setting("SMTP_USERNAME")
        self.password = host.setting("SMTP_PASSWORD", "")
        tls = (host.setting("SMTP_TLS") or "starttls").strip().lower()
        if tls not in TLS_MODES:
            raise SmtpSettingError(f"DOSSIER_SMTP_TLS must be one of {', '.join(TLS_MODES)}; got {tls!r}")
        self.tls = tls
        port = host.setting("SMTP_PORT")
        try:
            self.port = int(port) if port else DEFAULT_PORTS[tls]
            if not 0 < self.port < 65536:
                raise ValueError
        except ValueError:
            raise SmtpSettingError(f"DOSSIER_SMTP_PORT must be a TCP port number; got {port!r}") from None
        timeout = host.setting("SMTP_TIMEOUT")
        try:
            self.timeout = float(timeout) if timeout else DEFAULT_TIMEOUT
            if not self.timeout > 0:  # also refuses nan
                raise ValueError
        except ValueError:
            raise SmtpSettingError(f"DOSSIER_SMTP_TIMEOUT must be seconds > 0; got {timeout!r}") from None
        if self.sender and "@" not in parseaddr(self.sender)[1]:
            raise SmtpSettingError(
                "DOSSIER_SMTP_FROM must be an email address, e.g. Acme <crm@example.com>;"
                f" got {self.sender!r}"
            )
        if self.hostname and not self.sender:
            log.warning("DOSSIER_SMTP_HOST is set but DOSSIER_SMTP_FROM is not: email stays off")

    @hookimpl
    def capabilities(self) -> list[str]:
        return ["email"] if self.configured else []

    def build(self, message: OutboundEmail, message_id: str | None = None) -> EmailMessage:
        assert self.sender is not None
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = _one_line(message.subject)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = message_id or make_message_id(self.sender)
        mail.set_content(message.body)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        return mail

    async def _message_id(self, message: OutboundEmail) -> str:
        """The Message-ID every try of this message carries: stored before the first try."""
        assert self.sender is not None
        if message.message_key:  # fixed by the sender (a conversion): the same on every try
            return message.message_key
        fresh = make_message_id(self.sender)
        progress = await messages.send_progress(message.message_id)
        if progress is None:  # not a send the email plugin started (nothing to keep it with)
            return fresh
        if progress.resumed:
            log.info(
                "email message %s (attempt %s): an earlier try may have reached the server; sending"
                " again with the same Message-ID",
                message.message_id,
                progress.attempt,
            )
        return progress.key or await messages.keep_send_key(message.message_id, fresh)

    @hookimpl
    async def send_email(self, message: OutboundEmail) -> EmailReceipt | None:
        if not self.configured:
            return None
        mail = self.build(message, await self._message_id(message))
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password if self.username else None,
                use_tls=self.tls == "tls",
                start_tls=self.tls == "starttls",
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0] if exc.recipients else None
            if refusal is not None and refusal.code >= 500:
                raise SendRejected(str(refusal.code), _one_line(refusal.message)) from exc
            raise
        except (
            aiosmtplib.SMTPSenderRefused,
            aiosmtplib.SMTPRecipientRefused,
            aiosmtplib.SMTPDataError,
        ) as exc:
            if exc.code >= 500:
                raise SendRejected(str(exc.code), _one_line(exc.message)) from exc
            raise
        log.info(
            "email message %s accepted by %s as %s", message.message_id, self.hostname, mail["Message-ID"]
        )
        return EmailReceipt(provider=self.name, provider_id=str(mail["Message-ID"]))
