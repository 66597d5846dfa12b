"""Outbound SMS end to end: GraphQL `sendSms` → outbox → the SMS plugin → the twilio SDK → a fake
Twilio on 127.0.0.1 → signed status callbacks back into Dossier. Consent rules, provider
refusals, outages and slowness, and a server without Twilio settings."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from strawberry import relay

from crm.clock import utcnow
from crm.models import Message, OutboxRow
from crm.services import messages
from plugins.sms.twilio import rebase
from tests.conftest import Api, AppFactory, make_tenant, twilio_app
from tests.fakes.twilio_api import FROM_NUMBER, PUBLIC_URL, FakeTwilio, signed_headers

MOBILE = "+14155550123"
LANDLINE = "+14155550199"
STATUS_PATH = "/webhooks/twilio/status"

CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
SEND = """
mutation($input: SendSmsInput!) {
  sendSms(input: $input) { id status direction channel to from body errorCode author { name } }
}
"""
CONSENT = """
mutation($input: SetSmsConsentInput!) {
  setSmsConsent(input: $input) { okToSms smsBlockedReason phoneLineType }
}
"""
SET_NUMBER = (
    "mutation($input: SetAccountSmsNumberInput!) { setAccountSmsNumber(input: $input) { smsNumber } }"
)
CARD = """
query($id: ID!) {
  contact(id: $id) {
    okToSms smsBlockedReason phoneLineType
    messages(first: 50) {
      nodes { id status direction to from body errorCode errorMessage sentAt deliveredAt }
    }
    journey(first: 100, order: OLDEST_FIRST) {
      nodes { kind summary actor { kind name } changes { field before after } }
    }
  }
}
"""


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id}))["contact"]


def kinds(card_data: dict[str, Any], *wanted: str) -> list[str]:
    found = [e["kind"] for e in card_data["journey"]["nodes"]]
    return [k for k in found if k in wanted] if wanted else found


async def textable_contact(api: Api, phone: str = MOBILE) -> str:
    """A contact whose mobile number was checked (through the fake), so okToSms is on."""
    contact_id = (await api.data(CREATE, {"input": {"firstName": "Ada", "phone": phone}}))["createContact"][
        "id"
    ]
    await api.runtime.dispatcher.drain()
    assert (await card(api, contact_id))["okToSms"] is True
    return contact_id


async def send(api: Api, contact_id: str, body: str = "Your quote is ready") -> dict[str, Any]:
    return (await api.data(SEND, {"input": {"contactId": contact_id, "body": body}}))["sendSms"]


def db_id(global_id: str) -> int:
    return int(relay.GlobalID.from_id(global_id).node_id)


async def post_status(
    api: Api, params: dict[str, str], headers: dict[str, str] | None = None, path: str = STATUS_PATH
) -> Any:
    if headers is None:
        headers = signed_headers(path, params)
    return await api.client.post(path, data=params, headers=headers)


async def sms_outbox_rows() -> list[OutboxRow]:
    return await OutboxRow.filter(hook="sms_queued", plugin="sms").order_by("id")


# --------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------


async def test_send_sms_queues_and_the_dispatcher_sends_it_through_twilio(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await textable_contact(api)

        queued = await send(api, contact_id, "Hi Ada, your quote is ready")
        assert queued["status"] == "QUEUED"
        assert queued["direction"] == "OUTBOUND" and queued["channel"] == "SMS"
        assert queued["to"] == MOBILE and queued["from"] == FROM_NUMBER
        assert queued["author"] == {"name": "Acme Admin"}
        assert twilio.sends == []  # the mutation only queued it

        await api.runtime.dispatcher.drain()

        [request] = twilio.sends
        assert request.method == "POST"
        assert request.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
        assert request.auth == (twilio.account_sid, twilio.auth_token)
        assert request.form == {
            "To": MOBILE,
            "From": FROM_NUMBER,
            "Body": "Hi Ada, your quote is ready",
            "StatusCallback": f"{PUBLIC_URL}{STATUS_PATH}?message={db_id(queued['id'])}",
        }
        after = await card(api, contact_id)
        [message] = after["messages"]["nodes"]
        assert message["id"] == queued["id"]
        assert message["status"] == "SENT" and message["sentAt"] is not None
        assert (await Message.get(id=db_id(queued["id"]))).provider_id == twilio.sids[0]
        assert kinds(after, "SMS_QUEUED", "SMS_SENT", "SMS_FAILED") == ["SMS_QUEUED", "SMS_SENT"]
        sent = next(e for e in after["journey"]["nodes"] if e["kind"] == "SMS_SENT")
        assert sent["actor"] == {"kind": "PLUGIN", "name": "sms"}

        # Draining again sends nothing twice.
        await api.runtime.dispatcher.drain()
        assert len(twilio.sends) == 1


async def test_the_accounts_own_number_is_the_sender(running_app: AppFactory, twilio: FakeTwilio) -> None:
    async with twilio_app(running_app, twilio) as api:
        await api.data(SET_NUMBER, {"input": {"number": "+14155550111"}})
        contact_id = await textable_contact(api)

        assert (await send(api, contact_id))["from"] == "+14155550111"
        await api.runtime.dispatcher.drain()

        assert twilio.sends[0].form["From"] == "+14155550111"


# --------------------------------------------------------------------------------------
# Status callbacks
# --------------------------------------------------------------------------------------


async def sent_message(api: Api, twilio: FakeTwilio) -> tuple[str, str, str]:
    """(contact id, message id, Twilio sid) of a text that has been sent."""
    contact_id = await textable_contact(api)
    message_id = (await send(api, contact_id))["id"]
    await api.runtime.dispatcher.drain()
    return contact_id, message_id, twilio.sids[-1]


async def test_a_signed_delivered_callback_marks_the_text_delivered(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id, _, sid = await sent_message(api, twilio)

        params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": twilio.account_sid}
        response = await post_status(api, params)

        assert response.status_code == 200
        after = await card(api, contact_id)
        [message] = after["messages"]["nodes"]
        assert message["status"] == "DELIVERED" and message["deliveredAt"] is not None
        assert kinds(after, "SMS_QUEUED", "SMS_SENT", "SMS_DELIVERED") == [
            "SMS_QUEUED",
            "SMS_SENT",
            "SMS_DELIVERED",
        ]
        delivered = after["journey"]["nodes"][-1]
        assert delivered["actor"] == {"kind": "PLUGIN", "name": "twilio"}

        # A late "sent" (callbacks may arrive out of order) never takes it back.
        response = await post_status(api, {"MessageSid": sid, "MessageStatus": "sent"})
        assert response.status_code == 200
        assert (await card(api, contact_id))["messages"]["nodes"][0]["status"] == "DELIVERED"


@pytest.mark.parametrize(("reported", "status"), [("failed", "FAILED"), ("undelivered", "UNDELIVERED")])
async def test_a_failed_callback_records_the_providers_error_code(
    running_app: AppFactory, twilio: FakeTwilio, reported: str, status: str
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id, _, sid = await sent_message(api, twilio)

        params = {
            "MessageSid": sid,
            "MessageStatus": reported,
            "ErrorCode": "30003",
            "ErrorMessage": "Unreachable destination handset",
        }
        assert (await post_status(api, params)).status_code == 200

        after = await card(api, contact_id)
        [message] = after["messages"]["nodes"]
        assert message["status"] == status
        assert message["errorCode"] == "30003"
        assert message["errorMessage"] == "Unreachable destination handset"
        failed = after["journey"]["nodes"][-1]
        assert failed["kind"] == "SMS_FAILED"
        assert "30003" in failed["summary"]
        assert after["okToSms"] is True  # an unreachable handset is not an opt-out


async def test_a_21610_callback_also_turns_sms_consent_off(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id, _, sid = await sent_message(api, twilio)

        params = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "21610"}
        assert (await post_status(api, params)).status_code == 200

        after = await card(api, contact_id)
        assert after["messages"]["nodes"][0]["status"] == "FAILED"
        assert after["okToSms"] is False
        assert "21610" in after["smsBlockedReason"]
        assert kinds(after, "SMS_CONSENT_CHANGED", "SMS_FAILED") == ["SMS_CONSENT_CHANGED", "SMS_FAILED"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, id="garbage"),
        pytest.param("other-token", id="signed-with-another-token"),
        pytest.param("request-url", id="signed-over-the-url-we-were-reached-at"),
        pytest.param("tampered", id="params-changed-after-signing"),
    ],
)
async def test_a_status_callback_without_a_valid_signature_is_refused(
    running_app: AppFactory, twilio: FakeTwilio, headers: Any
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id, _, sid = await sent_message(api, twilio)
        before = await card(api, contact_id)
        params = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "21610"}
        if headers == "other-token":
            headers = signed_headers(STATUS_PATH, params, token="not-the-auth-token")
        elif headers == "request-url":
            headers = signed_headers(STATUS_PATH, params, public_url="http://dossier.test")
        elif headers == "tampered":
            headers = signed_headers(STATUS_PATH, {**params, "MessageStatus": "delivered"})

        response = await post_status(api, params, headers)

        assert response.status_code == 403
        assert await card(api, contact_id) == before  # still SENT, consent untouched, no journey entry


async def test_a_callback_that_beats_the_send_finds_its_message_by_our_id(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    """Twilio may call back before the dispatcher has stored the sid: the URL carries our id."""
    async with twilio_app(running_app, twilio) as api:
        contact_id = await textable_contact(api)
        queued = await send(api, contact_id, "early bird")  # not sent yet: no sid stored
        path = f"{STATUS_PATH}?message={db_id(queued['id'])}"
        params = {"MessageSid": "SMearly0001", "MessageStatus": "delivered"}
        assert (await post_status(api, params, path=path)).status_code == 200
        [message] = (await card(api, contact_id))["messages"]["nodes"]
        assert message["status"] == "DELIVERED"
        # Another sid with our (signed) id is a second copy of the same message: kept with it,
        # and its failure does not undo the delivery.
        other = {"MessageSid": "SMother0002", "MessageStatus": "failed"}
        assert (await post_status(api, other, path=path)).status_code == 200
        assert (await card(api, contact_id))["messages"]["nodes"][0]["status"] == "DELIVERED"
        assert await messages.provider_ids(int(db_id(queued["id"]))) == ["SMearly0001", "SMother0002"]


async def test_a_callback_for_an_unknown_message_is_ignored(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id, _, _ = await sent_message(api, twilio)
        before = await card(api, contact_id)

        params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
        response = await post_status(api, params)

        assert response.status_code == 200
        assert await card(api, contact_id) == before


# --------------------------------------------------------------------------------------
# Consent: never send without it
# --------------------------------------------------------------------------------------


async def assert_nothing_queued(api: Api, contact_id: str) -> None:
    after = await card(api, contact_id)
    assert after["messages"]["nodes"] == []
    assert kinds(after, "SMS_QUEUED") == []
    assert await sms_outbox_rows() == []


async def test_sms_is_refused_when_the_contact_turned_it_off(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await textable_contact(api)
        await api.data(
            CONSENT, {"input": {"contactId": contact_id, "okToSms": False, "reason": "asked by phone"}}
        )

        error = await api.error(SEND, {"input": {"contactId": contact_id, "body": "Hello"}})

        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"] == "cannot text this contact: asked by phone"
        await assert_nothing_queued(api, contact_id)
        await api.runtime.dispatcher.drain()
        assert twilio.sends == []


async def test_sms_is_refused_to_a_landline_and_consent_cannot_be_forced_on(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    twilio.line_types[LANDLINE] = "landline"
    async with twilio_app(running_app, twilio) as api:
        created = await api.data(CREATE, {"input": {"firstName": "Grace", "phone": LANDLINE}})
        contact_id = created["createContact"]["id"]
        await api.runtime.dispatcher.drain()

        error = await api.error(SEND, {"input": {"contactId": contact_id, "body": "Hello"}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"] == "cannot text this contact: Landline number, SMS not allowed"

        before = await card(api, contact_id)
        error = await api.error(CONSENT, {"input": {"contactId": contact_id, "okToSms": True}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"] == "Landline number, SMS not allowed"
        assert await card(api, contact_id) == before
        assert before["okToSms"] is False
        await assert_nothing_queued(api, contact_id)


async def test_sms_is_refused_before_the_line_was_checked_and_without_a_phone(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        unchecked = (await api.data(CREATE, {"input": {"firstName": "Ada", "phone": MOBILE}}))[
            "createContact"
        ]["id"]
        no_phone = (await api.data(CREATE, {"input": {"firstName": "Bob"}}))["createContact"]["id"]

        error = await api.error(SEND, {"input": {"contactId": unchecked, "body": "Hello"}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "okToSms is off" in error["message"]
        error = await api.error(SEND, {"input": {"contactId": no_phone, "body": "Hello"}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"] == "cannot text this contact: the contact has no phone number"

        await assert_nothing_queued(api, unchecked)
        await assert_nothing_queued(api, no_phone)


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ("", "BAD_USER_INPUT", "body"),
        ("   ", "BAD_USER_INPUT", "body"),
        ("x" * 1601, "BAD_USER_INPUT", "1600"),
    ],
)
async def test_a_bad_body_is_refused(
    running_app: AppFactory, twilio: FakeTwilio, body: str, code: str, words: str
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await textable_contact(api)

        error = await api.error(SEND, {"input": {"contactId": contact_id, "body": body}})

        assert error["extensions"]["code"] == code
        assert words in error["message"]
        await assert_nothing_queued(api, contact_id)


async def test_texting_a_contact_of_another_account_or_no_contact_is_not_found(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await textable_contact(api)
        globex = await make_tenant("Globex")

        error = await api.error(
            SEND, {"input": {"contactId": contact_id, "body": "Hi"}}, key=globex.admin_key
        )
        assert error["extensions"]["code"] == "NOT_FOUND"
        missing = str(relay.GlobalID("Contact", "999999"))
        error = await api.error(SEND, {"input": {"contactId": missing, "body": "Hi"}})
        assert error["extensions"]["code"] == "NOT_FOUND"

        await assert_nothing_queued(api, contact_id)


# --------------------------------------------------------------------------------------
# Provider refusals, outages and slowness
# --------------------------------------------------------------------------------------


async def test_an_unsubscribed_recipient_fails_the_text_and_turns_consent_off(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await textable_contact(api)
        twilio.fail_sends(400, 21610)

        await send(api, contact_id)
        await api.runtime.dispatcher.drain()

        assert len(twilio.sends) == 1  # a refusal is final: not retried
        after = await card(api, contact_id)
        [message] = after["messages"]["nodes"]
        assert message["status"] == "FAILED"
        assert message["errorCode"] == "21610"
        assert message["errorMessage"] == "Attempt to send to unsubscribed recipient"
        assert after["okToSms"] is False
        assert after["smsBlockedReason"] == "The recipient opted out of SMS (provider error 21610)"
        assert kinds(after, "SMS_FAILED", "SMS_CONSENT_CHANGED", "PLUGIN_DELIVERY_FAILED") == [
            "SMS_CONSENT_CHANGED",
            "SMS_FAILED",
        ]
        [row] = await sms_outbox_rows()
        assert row.status == "DELIVERED"

        # And the next text is refused up front.
        error = await api.error(SEND, {"input": {"contactId": contact_id, "body": "Hello?"}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "opted out" in error["message"]


@pytest.mark.parametrize("code", [21211, 21614])
async def test_an_invalid_number_fails_the_text_once_and_keeps_consent(
    running_app: AppFactory, twilio: FakeTwilio, code: int
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await textable_contact(api)
        twilio.fail_sends(400, code)

        await send(api, contact_id)
        await api.runtime.dispatcher.drain()

        assert len(twilio.sends) == 1
        after = await card(api, contact_id)
        assert after["messages"]["nodes"][0]["status"] == "FAILED"
        assert after["messages"]["nodes"][0]["errorCode"] == str(code)
        assert after["okToSms"] is True
        failed = [e for e in after["journey"]["nodes"] if e["kind"] == "SMS_FAILED"]
        assert len(failed) == 1 and str(code) in failed[0]["summary"]


async def test_a_provider_outage_is_retried_then_the_text_fails(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:  # tests: 3 attempts, no wait between them
        contact_id = await textable_contact(api)
        twilio.fail_sends(500, 20500)

        queued = await send(api, contact_id)
        assert queued["status"] == "QUEUED"
        await api.runtime.dispatcher.drain()

        assert len(twilio.sends) == 3
        after = await card(api, contact_id)
        failures = [e for e in after["journey"]["nodes"] if e["kind"] == "PLUGIN_DELIVERY_FAILED"]
        assert [f["actor"]["name"] for f in failures] == ["sms", "sms", "sms"]
        assert "attempt 1 of 3), retrying" in failures[0]["summary"]
        assert "attempt 3 of 3), gave up (dead-lettered)" in failures[2]["summary"]
        assert "TwilioRestException" in failures[2]["summary"]
        [message] = after["messages"]["nodes"]
        assert message["status"] == "FAILED"
        assert message["errorMessage"].startswith("gave up: TwilioRestException")
        assert kinds(after, "SMS_QUEUED", "SMS_SENT", "SMS_FAILED") == ["SMS_QUEUED", "SMS_FAILED"]
        [row] = await sms_outbox_rows()
        assert (row.status, row.attempts) == ("DEAD", 3)


async def test_a_retry_waits_with_backoff_and_survives_a_restart(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    twilio.fail_sends(503, times=1)
    async with twilio_app(running_app, twilio, outbox_backoff_base=60.0) as api:
        contact_id = await textable_contact(api)
        await send(api, contact_id)
        await api.runtime.dispatcher.drain()

        assert len(twilio.sends) == 1
        after = await card(api, contact_id)
        # Handed to Twilio once, outcome not recorded as sent: a retry will ask before sending.
        assert after["messages"]["nodes"][0]["status"] == "SENDING"
        [failure] = [e for e in after["journey"]["nodes"] if e["kind"] == "PLUGIN_DELIVERY_FAILED"]
        assert "attempt 1 of 3), retrying in" in failure["summary"]
        [row] = await sms_outbox_rows()
        assert row.status == "PENDING"
        assert row.next_attempt_at > utcnow() + timedelta(seconds=25)  # jitter: between 30 and 60 s

        await api.runtime.dispatcher.drain()  # not due yet: nothing is sent again
        assert len(twilio.sends) == 1
        key = api.key

    # The app stops with the retry pending; a new one picks it up when it is due.
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as restarted:
        api = restarted.as_(key)  # type: ignore[arg-type]
        await OutboxRow.filter(hook="sms_queued", plugin="sms").update(
            next_attempt_at=utcnow()
        )  # time passes
        await api.runtime.dispatcher.drain()

        assert len(twilio.listings) == 2  # asked (with, then without the date filter): nothing there
        assert len(twilio.sends) == 2
        assert (await card(api, contact_id))["messages"]["nodes"][0]["status"] == "SENT"


async def test_a_slow_provider_never_holds_up_the_mutation(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio, run_dispatcher=True) as api:
        contact_id = await textable_contact(api)
        twilio.hold()  # Twilio takes as long as this test wants

        first = await send(api, contact_id, "first")
        await asyncio.to_thread(twilio.wait_for_sends, 1)  # the dispatcher is now waiting on Twilio
        second = await send(api, contact_id, "second")  # answered while the first send is in flight

        assert (first["status"], second["status"]) == ("QUEUED", "QUEUED")
        assert twilio.answered == 0
        # The first is with Twilio (SENDING, committed before the call); the second queued or
        # handed over too, depending on whether the dispatcher has reached it yet.
        shown = [m["status"] for m in (await card(api, contact_id))["messages"]["nodes"]]
        assert shown[0] == "SENDING" and shown[1] in ("QUEUED", "SENDING")

        twilio.release()
        await api.runtime.dispatcher.drain()

        assert [r.form["Body"] for r in twilio.sends] == ["first", "second"]
        assert [m["status"] for m in (await card(api, contact_id))["messages"]["nodes"]] == ["SENT", "SENT"]


# --------------------------------------------------------------------------------------
# No Twilio settings
# --------------------------------------------------------------------------------------


PLUGINS = "{ plugins { name builtin hooks } }"


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="none"),
        pytest.param({"DOSSIER_TWILIO_ACCOUNT_SID": "AC123", "DOSSIER_TWILIO_AUTH_TOKEN": "t"}, id="no-from"),
    ],
)
async def test_without_twilio_settings_sms_is_refused_clearly(
    running_app: AppFactory, env: dict[str, str]
) -> None:
    async with running_app(env=env, public_url=PUBLIC_URL) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        created = await api.data(CREATE, {"input": {"firstName": "Ada", "phone": MOBILE}})
        contact_id = created["createContact"]["id"]
        await api.runtime.dispatcher.drain()

        error = await api.error(SEND, {"input": {"contactId": contact_id, "body": "Hello"}})

        assert error["extensions"]["code"] == "NOT_CONFIGURED"
        for setting in ("DOSSIER_TWILIO_ACCOUNT_SID", "DOSSIER_TWILIO_AUTH_TOKEN", "DOSSIER_TWILIO_FROM"):
            assert setting in error["message"]
        await assert_nothing_queued(api, contact_id)
        listed = {p["name"]: p for p in (await api.data(PLUGINS))["plugins"]}
        assert listed["sms"]["builtin"] and "sms_queued" in listed["sms"]["hooks"]
        assert listed["twilio"]["builtin"] and "send_sms" in listed["twilio"]["hooks"]
        # The webhooks have nothing to check a signature against.
        params = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}
        assert (await post_status(api, params)).status_code == 403
        assert await OutboxRow.filter(status="DEAD").count() == 0


async def test_a_text_queued_before_twilio_was_removed_fails_with_a_reason(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await textable_contact(api)
        await send(api, contact_id)
        key = api.key

    async with running_app() as restarted:  # the operator removed the Twilio settings
        api = restarted.as_(key)  # type: ignore[arg-type]
        await api.runtime.dispatcher.drain()

        after = await card(api, contact_id)
        [message] = after["messages"]["nodes"]
        assert (message["status"], message["errorMessage"]) == ("FAILED", "no SMS provider")
        assert kinds(after, "SMS_FAILED", "PLUGIN_DELIVERY_FAILED") == ["SMS_FAILED"]
        assert twilio.sends == []


# --------------------------------------------------------------------------------------
# DOSSIER_TWILIO_BASE_URL
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/2010-04-01/Accounts/AC1/Messages.json",
        ),
        (
            "https://lookups.twilio.com/v2/PhoneNumbers/+14155550123?Fields=line_type_intelligence",
            "http://fake.example.com/twilio/",
            "http://fake.example.com/twilio/v2/PhoneNumbers/+14155550123?Fields=line_type_intelligence",
        ),
        ("https://api.twilio.com/2010-04-01/x", None, "https://api.twilio.com/2010-04-01/x"),
        ("https://example.com/elsewhere", "http://127.0.0.1:8080", "https://example.com/elsewhere"),
    ],
)
def test_the_base_url_replaces_every_twilio_host(url: str, base: str | None, expected: str) -> None:
    assert rebase(url, base) == expected
