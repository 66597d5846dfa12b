"""A real SMTP server for tests (aiosmtpd on 127.0.0.1) that records what it received.

It can refuse a recipient for good or for now (`refuse["bob@example.com"] = "550 5.1.1 No such
user"`), greylist one for a number of tries (451), require a login (`users`), and take a
message but hang up before answering (`handler.drop_after_data = n`, the next n messages): the
client cannot tell whether it was accepted, as when a worker dies mid-send.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> "550 ..." reply
    greylist: dict[str, int] = field(default_factory=dict)  # recipient -> how many more times to say 451
    users: dict[str, str] = field(default_factory=dict)  # login -> password; empty: no AUTH
    logins: list[tuple[str, bool]] = field(default_factory=list)
    drop_after_data: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        if self.greylist.get(address, 0) > 0:
            self.greylist[address] -= 1
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, login))  # type: ignore[arg-type]
        if self.drop_after_data > 0:
            self.drop_after_data -= 1
            server.transport.close()  # stored, but the client never hears "250"
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        ok = self.users.get(login) == password
        self.logins.append((login, ok))
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


class FakeSmtpServer:
    """`with FakeSmtpServer() as smtp:` then `smtp.port`, `smtp.received`."""

    def __init__(self, *, users: dict[str, str] | None = None) -> None:
        self.handler = RecordingHandler(users=dict(users or {}))
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if users:
            kwargs = {
                "authenticator": self.handler.authenticate,
                "auth_required": True,
                "auth_require_tls": False,  # loopback only: no certificate to offer
            }
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def refuse(self) -> dict[str, str]:
        return self.handler.refuse

    @property
    def greylist(self) -> dict[str, int]:
        return self.handler.greylist

    def env(self, **extra: str) -> dict[str, str]:
        """Settings pointing Dossier at this server (plain SMTP: the test server has no TLS)."""
        return {
            "DOSSIER_SMTP_HOST": "127.0.0.1",
            "DOSSIER_SMTP_PORT": str(self.port),
            "DOSSIER_SMTP_TLS": "none",
            "DOSSIER_SMTP_FROM": "Acme CRM <crm@example.com>",
            **extra,
        }

    def __enter__(self) -> FakeSmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
