"""Email (B7, C4): sendEmail queues at once; the email plugin sends over SMTP after commit.

The SMTP provider runs its real aiosmtplib path against an aiosmtpd server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from strawberry import relay

from crm import outbox
from crm.clock import utcnow
from crm.models import Contact, Message, OutboxRow
from crm.services import messages as message_service
from plugins.email.smtp import SmtpProvider, SmtpSettingError
from plugins.host import PluginHost
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.fakes.smtp import FakeSmtpServer, free_port

CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
SEND = """
mutation($input: SendEmailInput!) {
  sendEmail(input: $input) { id status channel direction to subject body sentAt errorCode }
}
"""
CARD = """
query($id: ID!, $channel: Channel) {
  contact(id: $id) {
    messages(channel: $channel) {
      nodes { id channel direction status to from subject body errorCode errorMessage sentAt }
    }
    journey(first: 50, order: OLDEST_FIRST) { nodes { kind summary actor { kind name } } }
  }
}
"""
# The test server offers AUTH without TLS: on loopback only, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

EMAIL_KINDS = {"EMAIL_QUEUED", "EMAIL_SENT", "EMAIL_FAILED", "PLUGIN_DELIVERY_FAILED"}


def db_id(global_id: str) -> int:
    return int(relay.GlobalID.from_id(global_id).node_id)


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


class Mail:
    """A started app wired to an SMTP server, an account, and helpers to look at a card."""

    def __init__(self, api: Api, tenant: Tenant) -> None:
        self.api = api.as_(tenant.admin_key)
        self.tenant = tenant

    async def contact(self, **fields: Any) -> str:
        values = {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", **fields}
        data = await self.api.data(CREATE, {"input": values})
        return str(data["createContact"]["id"])

    async def send(self, contact_id: str, subject: str = "Your quote", body: str = "Hello Ann") -> dict:
        data = await self.api.data(
            SEND, {"input": {"contactId": contact_id, "subject": subject, "body": body}}
        )
        return dict(data["sendEmail"])

    async def drain(self) -> None:
        await self.api.runtime.dispatcher.drain()

    async def card(self, contact_id: str, channel: str | None = None) -> dict:
        data = await self.api.data(CARD, {"id": contact_id, "channel": channel})
        return dict(data["contact"])

    async def email_journey(self, contact_id: str) -> list[dict]:
        card = await self.card(contact_id)
        return [e for e in card["journey"]["nodes"] if e["kind"] in EMAIL_KINDS]


async def start(running_app: AppFactory, env: dict[str, str]) -> AsyncIterator[Mail]:
    async with running_app(env=env) as api:
        yield Mail(api, await make_tenant("Acme"))


@pytest.fixture
async def mail(running_app: AppFactory, smtp: FakeSmtpServer) -> AsyncIterator[Mail]:
    async for started in start(running_app, smtp.env()):
        yield started


# --------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------


async def test_send_email_is_queued_at_once_then_delivered_over_smtp(
    mail: Mail, smtp: FakeSmtpServer
) -> None:
    contact = await mail.contact()
    sent = await mail.send(contact, "Crème brûlée ☕ quote", "Hello Ann,\n\nYour quote: 1 200 €.\n")

    # The mutation only stores the message; nothing has reached the server yet.
    assert sent["status"] == "QUEUED"
    assert (sent["channel"], sent["direction"], sent["to"]) == ("EMAIL", "OUTBOUND", "ann@example.com")
    assert sent["sentAt"] is None
    assert smtp.received == []

    await mail.drain()

    assert len(smtp.received) == 1
    got = smtp.received[0]
    assert got.mail_from == "crm@example.com"
    assert got.rcpt_tos == ["ann@example.com"]
    assert got.message["From"] == "Acme CRM <crm@example.com>"
    assert got.message["To"] == "ann@example.com"
    assert got.message["Subject"] == "Crème brûlée ☕ quote"
    assert got.message["Date"]
    assert got.message.get_content_type() == "text/plain"
    assert got.message.get_content().replace("\r\n", "\n") == "Hello Ann,\n\nYour quote: 1 200 €.\n"
    message_id = got.message["Message-ID"]
    assert message_id.startswith("<") and message_id.endswith("@example.com>")

    card = await mail.card(contact, "EMAIL")
    [message] = card["messages"]["nodes"]
    assert message["id"] == sent["id"]
    assert message["status"] == "SENT"
    assert message["sentAt"] is not None
    assert message["errorCode"] is None
    stored = await Message.get(id=db_id(sent["id"]))
    assert stored.provider_id == message_id  # the Message-ID links the row to what was sent

    journey = await mail.email_journey(contact)
    assert [e["kind"] for e in journey] == ["EMAIL_QUEUED", "EMAIL_SENT"]
    assert journey[0]["actor"]["kind"] == "USER"
    assert journey[1]["actor"] == {"kind": "PLUGIN", "name": "email"}
    assert "Crème brûlée" in journey[1]["summary"]

    # Delivered once: another drain sends nothing again.
    await mail.drain()
    assert len(smtp.received) == 1


async def test_subject_cannot_inject_headers(mail: Mail, smtp: FakeSmtpServer) -> None:
    contact = await mail.contact()
    body = await mail.api.post(
        SEND, {"input": {"contactId": contact, "subject": "Hello\r\nBcc: eve@example.com", "body": "Body"}}
    )
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "subject"}
    await mail.drain()
    assert smtp.received == []
    assert (await mail.card(contact))["messages"]["nodes"] == []


async def test_the_sender_is_recorded_on_the_message(mail: Mail, smtp: FakeSmtpServer) -> None:
    contact = await mail.contact()
    await mail.send(contact, "Hello", "Body")
    await mail.drain()
    [got] = smtp.received
    [message] = (await mail.card(contact))["messages"]["nodes"]
    assert message["from"] and message["from"] in got.message["From"]


async def test_email_and_sms_share_one_thread(mail: Mail, smtp: FakeSmtpServer) -> None:
    contact = await mail.contact(phone="+14155550123")
    stored = await Contact.get(id=db_id(contact))
    await message_service.receive_sms(
        stored.account_id,  # type: ignore[attr-defined]
        "+14155550123",
        "+14155550999",
        "Can you email me the quote?",
        "SM0001",
        "test",
    )
    sent = await mail.send(contact, "The quote", "Attached below.")
    await mail.drain()

    thread = (await mail.card(contact))["messages"]["nodes"]
    assert [(m["channel"], m["direction"]) for m in thread] == [("SMS", "INBOUND"), ("EMAIL", "OUTBOUND")]
    assert thread[0]["body"] == "Can you email me the quote?"
    assert thread[1]["id"] == sent["id"] and thread[1]["status"] == "SENT"

    emails = (await mail.card(contact, "EMAIL"))["messages"]["nodes"]
    assert [m["id"] for m in emails] == [sent["id"]]
    texts = (await mail.card(contact, "SMS"))["messages"]["nodes"]
    assert [m["body"] for m in texts] == ["Can you email me the quote?"]


async def test_login_with_username_and_password(running_app: AppFactory) -> None:
    with FakeSmtpServer(users={"crm": "s3cret pass"}) as smtp:
        env = smtp.env(DOSSIER_SMTP_USERNAME="crm", DOSSIER_SMTP_PASSWORD="s3cret pass")
        async for mail in start(running_app, env):
            contact = await mail.contact()
            await mail.send(contact)
            await mail.drain()

            [got] = smtp.received
            assert got.login == "crm"
            assert smtp.handler.logins == [("crm", True)]
            [message] = (await mail.card(contact, "EMAIL"))["messages"]["nodes"]
            assert message["status"] == "SENT"


async def test_wrong_password_is_retried_then_failed_and_nothing_sent(running_app: AppFactory) -> None:
    with FakeSmtpServer(users={"crm": "s3cret"}) as smtp:
        env = smtp.env(DOSSIER_SMTP_USERNAME="crm", DOSSIER_SMTP_PASSWORD="wrong")
        async for mail in start(running_app, env):
            contact = await mail.contact()
            await mail.send(contact)
            await mail.drain()

            assert smtp.received == []
            # Each attempt tried to log in (settings can be fixed between tries) and none got in.
            assert {ok for _, ok in smtp.handler.logins} == {False} and len(smtp.handler.logins) >= 3
            [message] = (await mail.card(contact, "EMAIL"))["messages"]["nodes"]
            assert message["status"] == "FAILED"
            assert "535" in message["errorMessage"]
            kinds = [e["kind"] for e in await mail.email_journey(contact)]
            assert kinds[0] == "EMAIL_QUEUED"
            assert sorted(kinds[1:]) == ["EMAIL_FAILED", *["PLUGIN_DELIVERY_FAILED"] * 3]


# --------------------------------------------------------------------------------------
# Failures: permanent refusals fail at once, everything else is retried
# --------------------------------------------------------------------------------------


async def test_recipient_refused_for_good_fails_at_once_with_the_code(
    mail: Mail, smtp: FakeSmtpServer
) -> None:
    smtp.refuse["ann@example.com"] = "550 5.1.1 No such user here"
    contact = await mail.contact()
    await mail.send(contact)
    await mail.drain()

    assert smtp.received == []
    [message] = (await mail.card(contact, "EMAIL"))["messages"]["nodes"]
    assert message["status"] == "FAILED"
    assert message["errorCode"] == "550"
    assert "No such user here" in message["errorMessage"]
    assert message["sentAt"] is None
    journey = await mail.email_journey(contact)
    assert [e["kind"] for e in journey] == ["EMAIL_QUEUED", "EMAIL_FAILED"]  # no retry
    assert "550" in journey[-1]["summary"]


async def test_greylisting_is_retried_and_the_email_sent_once(mail: Mail, smtp: FakeSmtpServer) -> None:
    smtp.greylist["ann@example.com"] = 1
    contact = await mail.contact()
    await mail.send(contact)
    await mail.drain()

    assert len(smtp.received) == 1
    [message] = (await mail.card(contact, "EMAIL"))["messages"]["nodes"]
    assert message["status"] == "SENT"
    journey = await mail.email_journey(contact)
    assert [e["kind"] for e in journey] == ["EMAIL_QUEUED", "PLUGIN_DELIVERY_FAILED", "EMAIL_SENT"]
    assert "451" in journey[1]["summary"] and "attempt 1 of 3" in journey[1]["summary"]


async def test_server_down_is_retried_journaled_and_finally_failed(running_app: AppFactory) -> None:
    env = {
        "DOSSIER_SMTP_HOST": "127.0.0.1",
        "DOSSIER_SMTP_PORT": str(free_port()),  # nothing listens there
        "DOSSIER_SMTP_TLS": "none",
        "DOSSIER_SMTP_FROM": "crm@example.com",
    }
    async for mail in start(running_app, env):
        contact = await mail.contact()
        sent = await mail.send(contact)
        assert sent["status"] == "QUEUED"  # the mutation does not wait for the server

        await mail.drain()

        journey = await mail.email_journey(contact)
        kinds = [e["kind"] for e in journey]
        assert kinds[0] == "EMAIL_QUEUED"
        assert sorted(kinds[1:]) == ["EMAIL_FAILED", *["PLUGIN_DELIVERY_FAILED"] * 3]
        failures = [e["summary"] for e in journey if e["kind"] == "PLUGIN_DELIVERY_FAILED"]
        assert "attempt 1 of 3" in failures[0] and "retrying" in failures[0]
        assert "attempt 3 of 3" in failures[2] and "gave up" in failures[2]
        assert all(e["actor"] == {"kind": "PLUGIN", "name": "email"} for e in journey[1:])
        [message] = (await mail.card(contact, "EMAIL"))["messages"]["nodes"]
        assert message["status"] == "FAILED"
        assert "connect" in message["errorMessage"].lower()


async def test_starttls_by_default_never_falls_back_to_plain_text(running_app: AppFactory) -> None:
    with FakeSmtpServer() as smtp:  # offers no STARTTLS
        env = {k: v for k, v in smtp.env().items() if k != "DOSSIER_SMTP_TLS"}
        async for mail in start(running_app, env):
            contact = await mail.contact()
            await mail.send(contact)
            await mail.drain()

            assert smtp.received == []
            [message] = (await mail.card(contact, "EMAIL"))["messages"]["nodes"]
            assert message["status"] == "FAILED"
            assert "STARTTLS" in message["errorMessage"]


# --------------------------------------------------------------------------------------
# Bad input changes nothing
# --------------------------------------------------------------------------------------


async def _nothing_queued(mail: Mail, contact: str, smtp: FakeSmtpServer) -> None:
    await mail.drain()
    card = await mail.card(contact)
    assert card["messages"]["nodes"] == []
    assert [e for e in card["journey"]["nodes"] if e["kind"] in EMAIL_KINDS] == []
    assert smtp.received == []


async def test_contact_without_email_is_refused(mail: Mail, smtp: FakeSmtpServer) -> None:
    contact = await mail.contact(email=None, phone="+14155550123")
    error = await mail.api.error(SEND, {"input": {"contactId": contact, "subject": "Hi", "body": "Hello"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "no email address" in error["message"]
    await _nothing_queued(mail, contact, smtp)


@pytest.mark.parametrize(
    ("subject", "body", "field"),
    [
        ("", "Hello", "subject"),
        ("   ", "Hello", "subject"),
        ("Hi", " \n ", "body"),
        ("x" * 301, "Hi", "subject"),
    ],
)
async def test_empty_or_oversized_fields_are_refused(
    mail: Mail, smtp: FakeSmtpServer, subject: str, body: str, field: str
) -> None:
    contact = await mail.contact()
    error = await mail.api.error(SEND, {"input": {"contactId": contact, "subject": subject, "body": body}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(field)
    await _nothing_queued(mail, contact, smtp)


async def test_another_accounts_contact_is_not_found(mail: Mail, smtp: FakeSmtpServer) -> None:
    contact = await mail.contact()
    globex = await make_tenant("Globex")
    error = await mail.api.error(
        SEND, {"input": {"contactId": contact, "subject": "Hi", "body": "Hello"}}, key=globex.admin_key
    )
    assert error["extensions"]["code"] == "NOT_FOUND"
    await _nothing_queued(mail, contact, smtp)


@pytest.mark.parametrize(
    "env",
    [{}, {"DOSSIER_SMTP_HOST": "127.0.0.1"}, {"DOSSIER_SMTP_FROM": "crm@example.com"}],
    ids=["nothing", "no-from", "no-host"],
)
async def test_not_configured_is_refused_with_the_setting_to_fix(
    running_app: AppFactory, env: dict[str, str]
) -> None:
    async for mail in start(running_app, env):
        contact = await mail.contact()
        error = await mail.api.error(
            SEND, {"input": {"contactId": contact, "subject": "Hi", "body": "Hello"}}
        )
        assert error["extensions"]["code"] == "NOT_CONFIGURED"
        assert "DOSSIER_SMTP_HOST" in error["message"]
        await mail.drain()
        card = await mail.card(contact)
        assert card["messages"]["nodes"] == []
        assert not [e for e in card["journey"]["nodes"] if e["kind"] in EMAIL_KINDS]


async def test_plugins_are_listed(mail: Mail) -> None:
    data = await mail.api.data("{ plugins { name builtin hooks } }")
    listed = {p["name"]: p for p in data["plugins"]}
    assert listed["email"]["builtin"] and {"email_queued", "event_dead_lettered"} <= set(
        listed["email"]["hooks"]
    )
    assert listed["smtp"]["builtin"] and "send_email" in listed["smtp"]["hooks"]


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


def _provider(**env: str) -> SmtpProvider:
    provider = SmtpProvider()
    host = PluginHost(env={f"DOSSIER_{k}": v for k, v in env.items()}, http=httpx.AsyncClient(), pm=None)  # type: ignore[arg-type]
    provider.startup(host)
    return provider


@pytest.mark.parametrize(
    ("tls", "port"), [(None, 587), ("starttls", 587), ("STARTTLS", 587), ("tls", 465), ("none", 25)]
)
def test_port_defaults_follow_the_tls_mode(tls: str | None, port: int) -> None:
    env = {"SMTP_HOST": "smtp.example.com", "SMTP_FROM": "crm@example.com"}
    provider = _provider(**env, **({"SMTP_TLS": tls} if tls else {}))
    assert provider.port == port
    assert provider.capabilities() == ["email"]
    assert _provider(**env, SMTP_TLS=tls or "starttls", SMTP_PORT="2525").port == 2525


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SMTP_TLS": "ssl"}, "DOSSIER_SMTP_TLS"),
        ({"SMTP_PORT": "smtp"}, "DOSSIER_SMTP_PORT"),
        ({"SMTP_PORT": "70000"}, "DOSSIER_SMTP_PORT"),
        ({"SMTP_TIMEOUT": "-1"}, "DOSSIER_SMTP_TIMEOUT"),
        ({"SMTP_FROM": "not an address"}, "DOSSIER_SMTP_FROM"),
    ],
)
def test_malformed_settings_fail_at_start_up_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SmtpSettingError, match=variable):
        _provider(SMTP_HOST="smtp.example.com", **{"SMTP_FROM": "crm@example.com", **env})


def test_unconfigured_provider_answers_nothing() -> None:
    provider = _provider()
    assert provider.capabilities() == []


async def test_a_requeued_email_that_was_already_sent_is_not_sent_again(
    mail: Mail, smtp: FakeSmtpServer
) -> None:
    contact = await mail.contact()
    await mail.send(contact, "Once", "Only once")
    await mail.drain()
    assert len(smtp.received) == 1
    # An operator requeues the (delivered) row, or a worker died after the send: no second email.
    rows = await OutboxRow.filter(hook="email_queued", plugin="email")
    await OutboxRow.filter(id__in=[r.id for r in rows]).update(
        status=outbox.PENDING, next_attempt_at=utcnow()
    )
    await mail.drain()
    assert len(smtp.received) == 1
