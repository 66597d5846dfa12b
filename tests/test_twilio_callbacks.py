"""Validly signed but malformed Twilio callbacks answer 400 with a reason (Twilio does not retry a
4xx), are logged as one warning without a traceback, and change nothing. Both routes, every
parameter they read."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from strawberry import relay

from crm.models import Contact, JourneyEvent, Message, MessageProviderId
from tests.conftest import Api, AppFactory, make_tenant
from tests.fakes.twilio_api import FakeTwilio, signed_headers

INBOUND = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"
ACME_NUMBER = "+14155550111"
MOBILE = "+14155550123"
SID = "SM" + "c" * 32
CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
SEND = "mutation($input: SendSmsInput!) { sendSms(input: $input) { id } }"
SET_NUMBER = (
    "mutation($input: SetAccountSmsNumberInput!) { setAccountSmsNumber(input: $input) { smsNumber } }"
)


@asynccontextmanager
async def twilio_app(running_app: AppFactory, twilio: FakeTwilio) -> AsyncIterator[tuple[Api, int]]:
    """Acme owns ACME_NUMBER and has one text sent to MOBILE (Twilio's sid is `twilio.sids[0]`)."""
    from tests.fakes.twilio_api import PUBLIC_URL

    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        await api.data(SET_NUMBER, {"input": {"number": ACME_NUMBER}})
        contact = (await api.data(CREATE, {"input": {"firstName": "Ada", "phone": MOBILE}}))["createContact"]
        await app.runtime.dispatcher.drain()
        sent = (await api.data(SEND, {"input": {"contactId": contact["id"], "body": "hello"}}))["sendSms"]
        await app.runtime.dispatcher.drain()
        yield api, int(relay.GlobalID.from_id(sent["id"]).node_id)


async def snapshot() -> dict[str, Any]:
    return {
        "messages": await Message.all().order_by("id").values("id", "status", "provider_id", "error_code"),
        "ids": await MessageProviderId.all().count(),
        "contacts": await Contact.all().count(),
        "journey": await JourneyEvent.all().count(),
    }


async def post(api: Api, path: str, params: dict[str, str]) -> Any:
    """POST a form to `path` (query included, exactly as Twilio requests it), signed by Twilio."""
    return await api.client.post(path, data=params, headers=signed_headers(path, params))


def inbound(**overrides: str) -> dict[str, str]:
    form = {"MessageSid": SID, "From": MOBILE, "To": ACME_NUMBER, "Body": "hi", "NumMedia": "0"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v != "<absent>"}


def status(**overrides: str) -> dict[str, str]:
    form = {"MessageSid": SID, "MessageStatus": "delivered"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v != "<absent>"}


LONG_SID = "SM" + "d" * 63  # 65 characters

MALFORMED = [
    # the status callback
    pytest.param(f"{STATUS}?message=%C2%B2", status(), "message", id="status-message-superscript-two"),
    pytest.param(f"{STATUS}?message=99999999999999999999", status(), "message", id="status-message-overflow"),
    pytest.param(f"{STATUS}?message=9223372036854775808", status(), "message", id="status-message-2**63"),
    pytest.param(f"{STATUS}?message=-1", status(), "message", id="status-message-negative"),
    pytest.param(f"{STATUS}?message=0", status(), "message", id="status-message-zero"),
    pytest.param(f"{STATUS}?message=%EF%BC%91", status(), "message", id="status-message-fullwidth-one"),
    pytest.param(f"{STATUS}?message=1%00", status(), "message", id="status-message-nul"),
    pytest.param(STATUS, status(MessageSid=LONG_SID), "MessageSid", id="status-sid-65-chars"),
    pytest.param(STATUS, status(MessageSid="SM\x00abc"), "MessageSid", id="status-sid-nul"),
    pytest.param(STATUS, status(MessageSid="SM../../x"), "MessageSid", id="status-sid-punctuation"),
    pytest.param(STATUS, status(MessageSid="<absent>"), "MessageSid", id="status-sid-missing"),
    pytest.param(
        STATUS, status(MessageSid="<absent>", SmsSid=LONG_SID), "SmsSid", id="status-smssid-65-chars"
    ),
    pytest.param(STATUS, status(MessageStatus="<absent>"), "MessageStatus", id="status-status-missing"),
    pytest.param(STATUS, status(MessageStatus="d" * 33), "MessageStatus", id="status-status-too-long"),
    pytest.param(STATUS, status(MessageStatus="sent\x00"), "MessageStatus", id="status-status-nul"),
    pytest.param(
        STATUS, status(MessageStatus="failed", ErrorCode="3000x"), "ErrorCode", id="status-code-letters"
    ),
    pytest.param(
        STATUS, status(MessageStatus="failed", ErrorCode="1" * 40), "ErrorCode", id="status-code-long"
    ),
    pytest.param(
        STATUS,
        status(MessageStatus="failed", ErrorMessage="x" * 2001),
        "ErrorMessage",
        id="status-error-long",
    ),
    pytest.param(
        STATUS, status(MessageStatus="failed", ErrorMessage="bad\x00"), "ErrorMessage", id="status-error-nul"
    ),
    # inbound texts
    pytest.param(INBOUND, inbound(MessageSid=LONG_SID), "MessageSid", id="inbound-sid-65-chars"),
    pytest.param(INBOUND, inbound(MessageSid="SM\x00"), "MessageSid", id="inbound-sid-nul"),
    pytest.param(INBOUND, inbound(To="+1" * 200), "To", id="inbound-to-too-long"),
    pytest.param(INBOUND, inbound(To=ACME_NUMBER + "\x00"), "To", id="inbound-to-nul"),
    pytest.param(INBOUND, inbound(From=MOBILE + "\x00"), "From", id="inbound-from-nul"),
    pytest.param(INBOUND, inbound(From="+1" * 200), "From", id="inbound-from-too-long"),
    pytest.param(INBOUND, inbound(To="<absent>"), "To", id="inbound-to-missing"),
    pytest.param(INBOUND, inbound(Body="x" * 1601), "Body", id="inbound-body-too-long"),
    pytest.param(INBOUND, inbound(Body="hi\x00there"), "Body", id="inbound-body-nul"),
]


@pytest.mark.parametrize(("path", "params", "named"), MALFORMED)
async def test_a_malformed_signed_callback_is_a_400_that_changes_nothing(
    running_app: AppFactory,
    twilio: FakeTwilio,
    caplog: pytest.LogCaptureFixture,
    path: str,
    params: dict[str, str],
    named: str,
) -> None:
    async with twilio_app(running_app, twilio) as (api, _):
        before = await snapshot()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="dossier"):
            response = await post(api, path, params)

        assert response.status_code == 400, response.text
        assert named in response.text and len(response.text) < 200  # a short reason naming the parameter
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and named in warnings[0].getMessage()
        assert warnings[0].exc_info is None  # a line, not a traceback
        assert await snapshot() == before


async def test_well_formed_callbacks_still_work(running_app: AppFactory, twilio: FakeTwilio) -> None:
    async with twilio_app(running_app, twilio) as (api, message_id):
        [sid] = twilio.sids
        # Twilio's intermediate statuses are acknowledged and ignored.
        assert (
            await post(
                api, f"{STATUS}?message={message_id}", status(MessageSid=sid, MessageStatus="accepted")
            )
        ).status_code == 200
        ok = status(
            MessageSid=sid, MessageStatus="undelivered", ErrorCode="30003", ErrorMessage="Unreachable"
        )
        assert (await post(api, f"{STATUS}?message={message_id}", ok)).status_code == 200
        message = await Message.get(id=message_id)
        assert (message.status, message.error_code) == ("UNDELIVERED", "30003")

        response = await post(api, INBOUND, inbound(Body="hello back"))
        assert response.status_code == 200 and "<Response/>" in response.text
        assert await Message.filter(direction="INBOUND", body="hello back").count() == 1
