"""Phone verification (C2) and SMS consent (C3): every create, every phone change and `verifyPhone`
look the line type up through Twilio Lookup v2 (the real SDK against a fake on 127.0.0.1)."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry import relay

from tests.conftest import Api, AppFactory, make_tenant, twilio_app
from tests.fakes.twilio_api import PUBLIC_URL, FakeTwilio, signed_headers

MOBILE = "+14155550123"
LANDLINE = "+14155550199"
OTHER_MOBILE = "+14155550177"
ACCOUNT_NUMBER = "+14155550111"
LANDLINE_REASON = "Landline number, SMS not allowed"

CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id okToSms } }"
UPDATE = "mutation($input: UpdateContactInput!) { updateContact(input: $input) { id okToSms phone } }"
VERIFY = "mutation($input: VerifyPhoneInput!) { verifyPhone(input: $input) { phone okToSms } }"
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
    phone okToSms smsBlockedReason phoneLineType phoneCheckedAt
    journey(first: 100, order: OLDEST_FIRST) {
      nodes { kind summary actor { kind name } changes { field before after } }
    }
  }
}
"""


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id}))["contact"]


def entries(card_data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in card_data["journey"]["nodes"] if e["kind"] == kind]


def changes(entry: dict[str, Any]) -> dict[str, list[Any]]:
    return {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}


async def create(api: Api, **fields: Any) -> str:
    data = await api.data(CREATE, {"input": {"firstName": "Ada", **fields}})
    assert data["createContact"]["okToSms"] is False  # nothing is known until the check ran
    return data["createContact"]["id"]


# --------------------------------------------------------------------------------------
# On create
# --------------------------------------------------------------------------------------


async def test_a_new_mobile_number_turns_sms_on(running_app: AppFactory, twilio: FakeTwilio) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await create(api, phone="(415) 555-0123")

        await api.runtime.dispatcher.drain()

        assert twilio.lookups == [MOBILE]
        [lookup] = [r for r in twilio.requests if "/PhoneNumbers/" in r.path]
        assert lookup.method == "GET" and lookup.query == {"Fields": "line_type_intelligence"}
        assert lookup.auth == (twilio.account_sid, twilio.auth_token)
        after = await card(api, contact_id)
        assert after["okToSms"] is True
        assert after["phoneLineType"] == "mobile"
        assert after["phoneCheckedAt"] is not None
        assert after["smsBlockedReason"] is None
        [verified] = entries(after, "PHONE_VERIFIED")
        assert verified["summary"] == f"{MOBILE} checked: a mobile number, SMS allowed"
        assert verified["actor"] == {"kind": "PLUGIN", "name": "sms"}
        recorded = changes(verified)
        assert (recorded["phoneLineType"], recorded["okToSms"]) == ([None, "mobile"], [False, True])


async def test_a_new_landline_keeps_sms_off_with_the_reason(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    twilio.line_types[LANDLINE] = "landline"
    async with twilio_app(running_app, twilio) as api:
        contact_id = await create(api, phone=LANDLINE)

        await api.runtime.dispatcher.drain()

        after = await card(api, contact_id)
        assert after["okToSms"] is False
        assert after["smsBlockedReason"] == LANDLINE_REASON
        assert after["phoneLineType"] == "landline"
        assert after["phoneCheckedAt"] is not None
        [verified] = entries(after, "PHONE_VERIFIED")
        assert verified["summary"] == f"{LANDLINE} checked: {LANDLINE_REASON}"


@pytest.mark.parametrize("line_type", ["fixedVoip", "tollFree", "unknown"])
async def test_a_line_that_is_neither_mobile_nor_landline_leaves_sms_off(
    running_app: AppFactory, twilio: FakeTwilio, line_type: str
) -> None:
    twilio.line_types[MOBILE] = line_type
    async with twilio_app(running_app, twilio) as api:
        contact_id = await create(api, phone=MOBILE)

        await api.runtime.dispatcher.drain()

        after = await card(api, contact_id)
        assert (after["okToSms"], after["phoneLineType"]) == (False, line_type)
        assert after["smsBlockedReason"] is None
        assert len(entries(after, "PHONE_VERIFIED")) == 1


async def test_a_contact_without_a_phone_is_not_looked_up(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await create(api, email="ada@example.com")

        await api.runtime.dispatcher.drain()

        assert twilio.lookups == []
        after = await card(api, contact_id)
        assert entries(after, "PHONE_VERIFIED") == entries(after, "PHONE_CHECK_SKIPPED") == []
        assert after["phoneCheckedAt"] is None


# --------------------------------------------------------------------------------------
# On every phone change, and on request
# --------------------------------------------------------------------------------------


async def test_changing_the_phone_checks_the_new_number(running_app: AppFactory, twilio: FakeTwilio) -> None:
    twilio.line_types[LANDLINE] = "landline"
    async with twilio_app(running_app, twilio) as api:
        contact_id = await create(api, phone=MOBILE)
        await api.runtime.dispatcher.drain()
        assert (await card(api, contact_id))["okToSms"] is True

        updated = await api.data(UPDATE, {"input": {"id": contact_id, "phone": LANDLINE}})
        assert updated["updateContact"]["okToSms"] is False  # consent belonged to the old number
        await api.runtime.dispatcher.drain()

        assert twilio.lookups == [MOBILE, LANDLINE]
        after = await card(api, contact_id)
        assert (after["okToSms"], after["smsBlockedReason"]) == (False, LANDLINE_REASON)
        assert after["phoneLineType"] == "landline"

        # And back to a mobile number: SMS is on again.
        await api.data(UPDATE, {"input": {"id": contact_id, "phone": OTHER_MOBILE}})
        await api.runtime.dispatcher.drain()

        assert twilio.lookups == [MOBILE, LANDLINE, OTHER_MOBILE]
        after = await card(api, contact_id)
        assert (after["okToSms"], after["smsBlockedReason"], after["phoneLineType"]) == (True, None, "mobile")
        assert len(entries(after, "PHONE_VERIFIED")) == 3


async def test_changes_that_do_not_touch_the_phone_are_not_looked_up(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await create(api, phone=MOBILE)
        await api.runtime.dispatcher.drain()

        await api.data(UPDATE, {"input": {"id": contact_id, "lastName": "Lovelace"}})
        await api.data(UPDATE, {"input": {"id": contact_id, "phone": None}})  # removed: nothing to check
        await api.runtime.dispatcher.drain()

        assert twilio.lookups == [MOBILE]
        after = await card(api, contact_id)
        assert after["phone"] is None and after["okToSms"] is False


async def test_verify_phone_checks_again(running_app: AppFactory, twilio: FakeTwilio) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await create(api, phone=MOBILE)
        await api.runtime.dispatcher.drain()
        twilio.line_types[MOBILE] = "landline"  # the number was ported to a landline since

        verified = await api.data(VERIFY, {"input": {"contactId": contact_id}})
        assert verified["verifyPhone"] == {"phone": MOBILE, "okToSms": True}  # the check runs after
        await api.runtime.dispatcher.drain()

        assert twilio.lookups == [MOBILE, MOBILE]
        after = await card(api, contact_id)
        assert (after["okToSms"], after["smsBlockedReason"]) == (False, LANDLINE_REASON)
        kinds = [e["kind"] for e in after["journey"]["nodes"] if e["kind"].startswith("PHONE_")]
        assert kinds == ["PHONE_VERIFIED", "PHONE_CHECK_REQUESTED", "PHONE_VERIFIED"]
        requested = entries(after, "PHONE_CHECK_REQUESTED")[0]
        assert requested["actor"] == {"kind": "USER", "name": "Acme Admin"}


async def test_verify_phone_refuses_a_contact_without_a_phone_or_of_another_account(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        no_phone = await create(api, email="ada@example.com")
        with_phone = await create(api, phone=MOBILE)
        await api.runtime.dispatcher.drain()
        globex = await make_tenant("Globex")
        before = [await card(api, no_phone), await card(api, with_phone)]

        error = await api.error(VERIFY, {"input": {"contactId": no_phone}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"] == "the contact has no phone number to check"
        error = await api.error(VERIFY, {"input": {"contactId": with_phone}}, key=globex.admin_key)
        assert error["extensions"]["code"] == "NOT_FOUND"
        error = await api.error(VERIFY, {"input": {"contactId": str(relay.GlobalID("Contact", "999999"))}})
        assert error["extensions"]["code"] == "NOT_FOUND"

        await api.runtime.dispatcher.drain()
        assert twilio.lookups == [MOBILE]
        assert [await card(api, no_phone), await card(api, with_phone)] == before


# --------------------------------------------------------------------------------------
# Consent (C3): a user's switch and a STOP reply outrank a line check
# --------------------------------------------------------------------------------------


async def test_a_stop_reply_is_not_undone_by_a_mobile_check(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        await api.data(SET_NUMBER, {"input": {"number": ACCOUNT_NUMBER}})
        contact_id = await create(api, phone=MOBILE)
        await api.runtime.dispatcher.drain()
        params = {"From": MOBILE, "To": ACCOUNT_NUMBER, "Body": "STOP", "MessageSid": "SM" + "a" * 32}
        path = "/webhooks/twilio/sms"
        assert (
            await api.client.post(path, data=params, headers=signed_headers(path, params))
        ).status_code == 200
        stopped = await card(api, contact_id)
        assert (stopped["okToSms"], stopped["smsBlockedReason"]) == (
            False,
            "Replied STOP: unsubscribed from SMS",
        )

        await api.data(VERIFY, {"input": {"contactId": contact_id}})
        await api.runtime.dispatcher.drain()

        after = await card(api, contact_id)
        assert twilio.lookups == [MOBILE, MOBILE]
        assert (after["okToSms"], after["smsBlockedReason"]) == (False, "Replied STOP: unsubscribed from SMS")
        assert after["phoneLineType"] == "mobile"
        assert changes(entries(after, "PHONE_VERIFIED")[-1]) == {"phoneLineType": ["mobile", "mobile"]}


async def test_a_users_switch_is_kept_and_can_be_turned_back_on(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        contact_id = await create(api, phone=MOBILE)
        await api.runtime.dispatcher.drain()

        off = await api.data(
            CONSENT, {"input": {"contactId": contact_id, "okToSms": False, "reason": "no texts"}}
        )
        assert off["setSmsConsent"] == {
            "okToSms": False,
            "smsBlockedReason": "no texts",
            "phoneLineType": "mobile",
        }
        await api.data(VERIFY, {"input": {"contactId": contact_id}})
        await api.runtime.dispatcher.drain()
        assert (await card(api, contact_id))["okToSms"] is False  # the check does not override a person

        on = await api.data(CONSENT, {"input": {"contactId": contact_id, "okToSms": True}})
        assert on["setSmsConsent"] == {"okToSms": True, "smsBlockedReason": None, "phoneLineType": "mobile"}
        after = await card(api, contact_id)
        consent = entries(after, "SMS_CONSENT_CHANGED")
        assert [changes(e)["okToSms"] for e in consent] == [[True, False], [False, True]]
        assert consent[0]["summary"] == "Acme Admin turned SMS off: no texts"


async def test_consent_cannot_be_switched_on_for_a_landline_or_without_a_phone(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    twilio.line_types[LANDLINE] = "landline"
    async with twilio_app(running_app, twilio) as api:
        landline = await create(api, phone=LANDLINE)
        no_phone = await create(api, email="ada@example.com")
        await api.runtime.dispatcher.drain()
        before = [await card(api, landline), await card(api, no_phone)]

        error = await api.error(CONSENT, {"input": {"contactId": landline, "okToSms": True}})
        assert (error["extensions"]["code"], error["message"]) == ("BAD_USER_INPUT", LANDLINE_REASON)
        error = await api.error(CONSENT, {"input": {"contactId": no_phone, "okToSms": True}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"] == "the contact has no phone number to text"

        assert [await card(api, landline), await card(api, no_phone)] == before


# --------------------------------------------------------------------------------------
# When the lookup cannot run
# --------------------------------------------------------------------------------------


async def test_without_twilio_settings_checks_are_skipped_and_journaled(running_app: AppFactory) -> None:
    async with running_app(public_url=PUBLIC_URL) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await create(api, phone=MOBILE)
        await api.runtime.dispatcher.drain()
        await api.data(VERIFY, {"input": {"contactId": contact_id}})
        await api.runtime.dispatcher.drain()

        after = await card(api, contact_id)
        skipped = entries(after, "PHONE_CHECK_SKIPPED")
        assert len(skipped) == 2
        assert skipped[0]["summary"] == (
            f"{MOBILE} not checked: no phone lookup provider: set DOSSIER_TWILIO_ACCOUNT_SID, "
            "DOSSIER_TWILIO_AUTH_TOKEN and DOSSIER_TWILIO_FROM"
        )
        assert (after["okToSms"], after["phoneLineType"], after["phoneCheckedAt"]) == (False, None, None)
        assert entries(after, "PLUGIN_DELIVERY_FAILED") == []


async def test_a_lookup_twilio_refuses_is_skipped_with_its_code(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    twilio.fail_lookups(400, 21211)
    async with twilio_app(running_app, twilio) as api:
        contact_id = await create(api, phone=MOBILE)
        await api.runtime.dispatcher.drain()

        assert twilio.lookups == [MOBILE]  # a refusal is not retried
        after = await card(api, contact_id)
        [skipped] = entries(after, "PHONE_CHECK_SKIPPED")
        assert "21211" in skipped["summary"]
        assert (after["okToSms"], after["phoneLineType"]) == (False, None)


async def test_a_lookup_outage_is_retried_and_the_card_stays_as_it_was(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    twilio.fail_lookups(500, 20500, times=1)
    async with twilio_app(running_app, twilio) as api:
        contact_id = await create(api, phone=MOBILE)
        await api.runtime.dispatcher.drain()

        assert twilio.lookups == [MOBILE, MOBILE]  # failed once, retried, then answered
        after = await card(api, contact_id)
        [failure] = entries(after, "PLUGIN_DELIVERY_FAILED")
        assert "plugin sms failed on contact_created (attempt 1 of 3), retrying" in failure["summary"]
        assert (after["okToSms"], after["phoneLineType"]) == (True, "mobile")

        twilio.fail_lookups(500, 20500)  # down for good: three tries, then given up; nothing changes
        await api.data(VERIFY, {"input": {"contactId": contact_id}})
        await api.runtime.dispatcher.drain()
        after = await card(api, contact_id)
        assert len(entries(after, "PLUGIN_DELIVERY_FAILED")) == 4
        assert (after["okToSms"], after["phoneLineType"]) == (True, "mobile")
