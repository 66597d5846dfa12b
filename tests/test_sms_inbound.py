"""Inbound SMS (C7): Twilio's signed webhook → the contact's thread, the journey and the live
`messages(contactId:)` subscription; STOP/START replies; unknown senders become leads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient
from strawberry import relay

from crm.journey import messages_channel
from crm.models import Account, Contact, Message
from dossier import Settings, create_app
from tests.conftest import Api, AppFactory, make_tenant
from tests.fakes.twilio_api import FROM_NUMBER, PUBLIC_URL, FakeTwilio, signed_headers

INBOUND = "/webhooks/twilio/sms"
ACME_NUMBER = "+14155550111"
GLOBEX_NUMBER = "+14155550100"
MOBILE = "+14155550123"
STRANGER = "+14155550198"
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
SEND = "mutation($input: SendSmsInput!) { sendSms(input: $input) { id } }"
SET_NUMBER = (
    "mutation($input: SetAccountSmsNumberInput!) { setAccountSmsNumber(input: $input) { smsNumber } }"
)
CARD = """
query($id: ID!) {
  contact(id: $id) {
    phone okToSms smsBlockedReason status
    messages(first: 50) { nodes { direction status from to body channel author { name } } }
    journey(first: 100, order: OLDEST_FIRST) { nodes { kind summary actor { kind name } } }
  }
}
"""
CONTACTS = "{ contacts(first: 50) { nodes { id phone displayName } } }"


@asynccontextmanager
async def twilio_app(running_app: AppFactory, twilio: FakeTwilio, **overrides: Any) -> AsyncIterator[Api]:
    """A started app with Twilio configured; Acme owns ACME_NUMBER."""
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL, **overrides) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        await api.data(SET_NUMBER, {"input": {"number": ACME_NUMBER}})
        yield api


def sid(n: int) -> str:
    return f"SM{n:032x}"


def inbound(body: str, *, sender: str = MOBILE, to: str = ACME_NUMBER, n: int = 1) -> dict[str, str]:
    """The form Twilio posts for an inbound text."""
    return {
        "MessageSid": sid(n),
        "SmsSid": sid(n),
        "AccountSid": "AC" + "f" * 32,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "FromCountry": "US",
    }


async def post(api: Api, params: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    if headers is None:
        headers = signed_headers(INBOUND, params)
    return await api.client.post(INBOUND, data=params, headers=headers)


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id}))["contact"]


def kinds(card_data: dict[str, Any], *wanted: str) -> list[str]:
    return [e["kind"] for e in card_data["journey"]["nodes"] if e["kind"] in wanted]


async def contact(api: Api, phone: str = MOBILE, *, textable: bool = True) -> str:
    created = await api.data(CREATE, {"input": {"firstName": "Ada", "phone": phone}})
    if textable:
        await api.runtime.dispatcher.drain()  # the fake says mobile: okToSms on
    return created["createContact"]["id"]


# --------------------------------------------------------------------------------------
# Into the thread and the journey
# --------------------------------------------------------------------------------------


async def test_an_inbound_text_lands_in_the_thread_newest_last(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await contact(api)
        await api.data(SEND, {"input": {"contactId": contact_id, "body": "Your quote is ready"}})
        await api.runtime.dispatcher.drain()

        response = await post(api, inbound("Thanks! When can you start?"))

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert response.text == TWIML
        after = await card(api, contact_id)
        assert [(m["direction"], m["body"]) for m in after["messages"]["nodes"]] == [
            ("OUTBOUND", "Your quote is ready"),
            ("INBOUND", "Thanks! When can you start?"),
        ]
        received = after["messages"]["nodes"][-1]
        assert received == {
            "direction": "INBOUND",
            "status": "RECEIVED",
            "from": MOBILE,
            "to": ACME_NUMBER,
            "body": "Thanks! When can you start?",
            "channel": "SMS",
            "author": None,
        }
        entry = after["journey"]["nodes"][-1]
        assert entry["kind"] == "SMS_RECEIVED"
        assert entry["summary"] == f"SMS from {MOBILE}: Thanks! When can you start?"
        assert entry["actor"] == {"kind": "PLUGIN", "name": "twilio"}
        assert after["okToSms"] is True


async def test_a_text_from_an_unknown_number_creates_a_lead(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        response = await post(api, inbound("Hi, is the house on Elm St still for sale?", sender=STRANGER))

        assert response.status_code == 200
        [lead] = (await api.data(CONTACTS))["contacts"]["nodes"]
        assert lead["phone"] == STRANGER
        after = await card(api, lead["id"])
        assert after["status"] == "lead"  # the account's first status
        assert [m["body"] for m in after["messages"]["nodes"]] == [
            "Hi, is the house on Elm St still for sale?"
        ]
        assert kinds(after, "CONTACT_CREATED", "SMS_RECEIVED") == ["CONTACT_CREATED", "SMS_RECEIVED"]
        created = after["journey"]["nodes"][0]
        assert created["summary"] == f"a text from an unknown number {STRANGER} created this lead"

        # Like every new contact, the lead's number is checked: a mobile may be texted back.
        await api.runtime.dispatcher.drain()
        assert twilio.lookups == [STRANGER]
        assert (await card(api, lead["id"]))["okToSms"] is True


async def test_a_retried_webhook_is_stored_once(running_app: AppFactory, twilio: FakeTwilio) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await contact(api)
        params = inbound("See you at 5", n=7)

        first, again = await post(api, params), await post(api, params)

        assert (first.status_code, again.status_code) == (200, 200)
        after = await card(api, contact_id)
        assert [m["body"] for m in after["messages"]["nodes"]] == ["See you at 5"]
        assert kinds(after, "SMS_RECEIVED") == ["SMS_RECEIVED"]
        assert await Message.filter(provider_id=sid(7)).count() == 1


async def test_texts_are_routed_to_the_account_that_owns_the_number(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        globex = await make_tenant("Globex")
        as_globex = api.as_(globex.admin_key)
        await as_globex.data(SET_NUMBER, {"input": {"number": GLOBEX_NUMBER}})
        acme_contact = await contact(api)
        globex_contact = await contact(as_globex)

        await post(api, inbound("for Globex", to=GLOBEX_NUMBER, n=1))
        await post(api, inbound("for Acme", to=ACME_NUMBER, n=2))

        assert [m["body"] for m in (await card(api, acme_contact))["messages"]["nodes"]] == ["for Acme"]
        assert [m["body"] for m in (await card(as_globex, globex_contact))["messages"]["nodes"]] == [
            "for Globex"
        ]


async def test_the_servers_default_number_reaches_the_only_account_without_its_own(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await contact(api)

        response = await post(api, inbound("hello", to=FROM_NUMBER))

        assert response.status_code == 200
        assert [m["body"] for m in (await card(api, contact_id))["messages"]["nodes"]] == ["hello"]


async def test_a_text_to_a_number_no_account_owns_is_refused(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await contact(api)
        # Two accounts without a number of their own share the default one: it is nobody's.
        await make_tenant("Globex")
        await make_tenant("Initech")

        for to in ("+14155559999", FROM_NUMBER):
            response = await post(api, inbound("hello?", to=to))
            assert response.status_code == 404
            assert to in response.text

        assert (await card(api, contact_id))["messages"]["nodes"] == []
        assert await Message.all().count() == 0


async def test_a_webhook_without_sender_or_recipient_is_refused(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        params = inbound("hello")
        del params["From"]

        response = await post(api, params)

        assert response.status_code == 400
        assert await Message.all().count() == 0


# --------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case", ["missing", "other-token", "request-url", "tampered-body", "added-param", "not-configured"]
)
async def test_an_unsigned_or_badly_signed_text_is_refused(
    running_app: AppFactory, twilio: FakeTwilio, case: str
) -> None:
    env = {} if case == "not-configured" else twilio.env()
    async with running_app(env=env, public_url=PUBLIC_URL) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        await api.data(SET_NUMBER, {"input": {"number": ACME_NUMBER}})
        contact_id = await contact(api, textable=False)
        before = await card(api, contact_id)
        params = inbound("STOP")
        headers = {
            "missing": {},
            "other-token": signed_headers(INBOUND, params, token="not-the-auth-token"),
            "request-url": signed_headers(INBOUND, params, public_url="http://dossier.test"),
            "tampered-body": signed_headers(INBOUND, {**params, "Body": "hello"}),
            "added-param": signed_headers(INBOUND, params),
            "not-configured": signed_headers(INBOUND, params),
        }[case]
        if case == "added-param":
            params = {**params, "Extra": "1"}

        response = await post(api, params, headers)

        assert response.status_code == 403
        assert await card(api, contact_id) == before
        assert await Message.all().count() == 0


# --------------------------------------------------------------------------------------
# STOP and START
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop ", "UNSUBSCRIBE", "cancel", "End", "quit", "STOPALL"]
)
async def test_an_opt_out_word_turns_sms_off(running_app: AppFactory, twilio: FakeTwilio, body: str) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await contact(api)

        assert (await post(api, inbound(body))).status_code == 200

        after = await card(api, contact_id)
        word = body.strip().upper()
        assert (after["okToSms"], after["smsBlockedReason"]) == (
            False,
            f"Replied {word}: unsubscribed from SMS",
        )
        assert kinds(after, "SMS_RECEIVED", "SMS_CONSENT_CHANGED")[-2:] == [
            "SMS_RECEIVED",
            "SMS_CONSENT_CHANGED",
        ]
        error = await api.error(SEND, {"input": {"contactId": contact_id, "body": "One more thing"}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "unsubscribed" in error["message"]


@pytest.mark.parametrize("body", ["please stop texting me", "STOP!", "stop stop", "Stopped"])
async def test_a_sentence_is_not_an_opt_out(running_app: AppFactory, twilio: FakeTwilio, body: str) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await contact(api)

        await post(api, inbound(body))

        after = await card(api, contact_id)
        assert after["okToSms"] is True
        assert [m["body"] for m in after["messages"]["nodes"]] == [body]
        assert kinds(after, "SMS_CONSENT_CHANGED") == []


@pytest.mark.parametrize("word", ["START", "start", "Yes", "UNSTOP"])
async def test_an_opt_in_word_turns_sms_back_on(
    running_app: AppFactory, twilio: FakeTwilio, word: str
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await contact(api)
        await post(api, inbound("STOP", n=1))
        assert (await card(api, contact_id))["okToSms"] is False

        await post(api, inbound(word, n=2))

        after = await card(api, contact_id)
        assert (after["okToSms"], after["smsBlockedReason"]) == (True, None)
        changed = [e for e in after["journey"]["nodes"] if e["kind"] == "SMS_CONSENT_CHANGED"]
        assert changed[-1]["summary"] == f"Replied {word.upper()}: subscribed to SMS again"
        await api.data(SEND, {"input": {"contactId": contact_id, "body": "Welcome back"}})


async def test_start_from_a_landline_does_not_turn_sms_on(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    twilio.line_types[MOBILE] = "landline"
    async with twilio_app(running_app, twilio) as api:
        contact_id = await contact(api)

        await post(api, inbound("START"))

        after = await card(api, contact_id)
        assert (after["okToSms"], after["smsBlockedReason"]) == (False, "Landline number, SMS not allowed")


# --------------------------------------------------------------------------------------
# Live: the messages subscription
# --------------------------------------------------------------------------------------


PROTOCOL = ["graphql-transport-ws"]
LIVE = "subscription($id: ID!) { messages(contactId: $id) { direction status from body } }"


@pytest.fixture
def client(settings: Settings, twilio: FakeTwilio) -> Iterator[TestClient]:
    app = create_app(replace(settings, env=twilio.env(), public_url=PUBLIC_URL))
    with TestClient(app) as started:
        yield started


def graphql(client: TestClient, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert not body.get("errors"), body
    return body["data"]


def test_the_messages_subscription_receives_an_inbound_text(client: TestClient) -> None:
    acme = client.portal.call(make_tenant, "Acme")
    graphql(client, acme.admin_key, SET_NUMBER, {"input": {"number": ACME_NUMBER}})
    contact_id = graphql(client, acme.admin_key, CREATE, {"input": {"firstName": "Ada", "phone": MOBILE}})[
        "createContact"
    ]["id"]

    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {acme.admin_key}"}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": LIVE, "variables": {"id": contact_id}}}
        )

        async def listening() -> None:  # subscribed before the text arrives, so it cannot be missed
            account = await Account.get(name="Acme")
            contact_pk = int(relay.GlobalID.from_id(contact_id).node_id)
            broker = client.app.state.dossier.broker  # type: ignore[attr-defined]
            async with asyncio.timeout(10):
                while await broker.listeners(messages_channel(account.id, contact_pk)) == 0:
                    await asyncio.sleep(0.01)

        client.portal.call(listening)
        params = inbound("On my way")
        response = client.post(INBOUND, data=params, headers=signed_headers(INBOUND, params))
        assert response.status_code == 200

        message = ws.receive_json()
        assert message["type"] == "next" and message["id"] == "1"
        assert message["payload"] == {
            "data": {
                "messages": {
                    "direction": "INBOUND",
                    "status": "RECEIVED",
                    "from": MOBILE,
                    "body": "On my way",
                }
            }
        }
        ws.send_json({"id": "1", "type": "complete"})

    assert client.portal.call(Contact.filter(phone=MOBILE).count) == 1
