"""The message thread, SMS consent and the account's SMS number, independent of any provider."""

from __future__ import annotations

from typing import Any

import pytest

from crm.models import Contact
from crm.services import messages
from tests.conftest import Api, Tenant

CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
THREAD = """
query($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $channel: Channel) {
  contact(id: $id) {
    messages(first: $first, after: $after, last: $last, before: $before, channel: $channel) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { body direction status channel from to } }
    }
  }
}
"""
CONSENT = """
mutation($i: SetSmsConsentInput!) {
  setSmsConsent(input: $i) { okToSms smsBlockedReason phoneLineType }
}
"""


async def _contact(api: Api, phone: str = "+14155550100") -> tuple[str, int]:
    data = await api.data(CREATE, {"i": {"firstName": "Tess", "phone": phone, "email": "tess@example.com"}})
    gid = data["createContact"]["id"]
    row = await Contact.get(phone=phone)
    return gid, row.id


async def _thread(api: Api, gid: str, **args: Any) -> dict[str, Any]:
    return (await api.data(THREAD, {"id": gid, **args}))["contact"]["messages"]


async def _receive(account_id: int, bodies: list[str], phone: str = "+14155550100") -> None:
    for i, body in enumerate(bodies):
        await messages.receive_sms(account_id, phone, "+14155559999", body, f"SM{phone[-4:]}{i:04d}", "test")


async def test_the_thread_reads_oldest_first_and_pages_both_ways(as_admin: Api, acme: Tenant) -> None:
    gid, _ = await _contact(as_admin)
    account_id = await _account_id(as_admin)
    await _receive(account_id, [f"message {i}" for i in range(7)])

    page = await _thread(as_admin, gid, first=3)
    assert [e["node"]["body"] for e in page["edges"]] == ["message 0", "message 1", "message 2"]
    assert page["pageInfo"]["hasNextPage"] and not page["pageInfo"]["hasPreviousPage"]
    page = await _thread(as_admin, gid, first=3, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["body"] for e in page["edges"]] == ["message 3", "message 4", "message 5"]

    newest = await _thread(as_admin, gid, last=2)
    assert [e["node"]["body"] for e in newest["edges"]] == ["message 5", "message 6"]  # newest last
    assert newest["pageInfo"]["hasPreviousPage"] and not newest["pageInfo"]["hasNextPage"]
    older = await _thread(as_admin, gid, last=2, before=newest["pageInfo"]["startCursor"])
    assert [e["node"]["body"] for e in older["edges"]] == ["message 3", "message 4"]
    node = newest["edges"][-1]["node"]
    assert node == {
        "body": "message 6",
        "direction": "INBOUND",
        "status": "RECEIVED",
        "channel": "SMS",
        "from": "+14155550100",
        "to": "+14155559999",
    }


async def test_thread_arguments_are_checked(as_admin: Api, acme: Tenant) -> None:
    gid, _ = await _contact(as_admin)
    error = await as_admin.error(THREAD, {"id": gid, "first": 2, "last": 2})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await as_admin.error(THREAD, {"id": gid, "last": 101})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "last"}
    error = await as_admin.error(THREAD, {"id": gid, "first": 2, "after": "bm90IGEgY3Vyc29y"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    empty = await _thread(as_admin, gid, channel="EMAIL")
    assert empty["edges"] == []


async def test_inbound_text_from_an_unknown_number_creates_a_lead(as_admin: Api, acme: Tenant) -> None:
    account_id = await _account_id(as_admin)
    await messages.receive_sms(
        account_id, "+14155550177", "+14155559999", "Hi, is this the bakery?", "SMnew", "test"
    )
    data = await as_admin.data(
        '{ contacts(first: 5, search: "5550177") { nodes { displayName phone status '
        "journey(first: 5, order: OLDEST_FIRST) { nodes { kind } } } } }"
    )
    (lead,) = data["contacts"]["nodes"]
    assert lead["displayName"] == "Guest" and lead["status"] == "lead"
    assert [n["kind"] for n in lead["journey"]["nodes"]] == ["CONTACT_CREATED", "SMS_RECEIVED"]


async def _account_id(api: Api) -> int:
    from crm.models import Account

    return (await Account.get(name="Acme")).id


async def test_stop_and_start_replies_switch_consent(as_admin: Api, acme: Tenant) -> None:
    gid, _ = await _contact(as_admin)
    await as_admin.data(CONSENT, {"i": {"contactId": gid, "okToSms": True}})
    account_id = await _account_id(as_admin)
    await _receive(account_id, ["stop"])
    card = await as_admin.data(
        "query($id: ID!) { contact(id: $id) { okToSms smsBlockedReason } }", {"id": gid}
    )
    assert card["contact"] == {"okToSms": False, "smsBlockedReason": "Replied STOP: unsubscribed from SMS"}
    await messages.receive_sms(account_id, "+14155550100", "+14155559999", "please stop texting", "SMx1", "t")
    card = await as_admin.data("query($id: ID!) { contact(id: $id) { okToSms } }", {"id": gid})
    assert card["contact"]["okToSms"] is False  # not a keyword: just a message
    await messages.receive_sms(account_id, "+14155550100", "+14155559999", " Start ", "SMx2", "t")
    card = await as_admin.data(
        "query($id: ID!) { contact(id: $id) { okToSms smsBlockedReason } }", {"id": gid}
    )
    assert card["contact"] == {"okToSms": True, "smsBlockedReason": None}


async def test_a_retried_inbound_webhook_is_stored_once(as_admin: Api, acme: Tenant) -> None:
    gid, _ = await _contact(as_admin)
    account_id = await _account_id(as_admin)
    for _ in range(2):
        await messages.receive_sms(account_id, "+14155550100", "+14155559999", "hello", "SMsame", "t")
    assert len((await _thread(as_admin, gid))["edges"]) == 1


async def test_sms_consent_switch_and_its_journey(as_admin: Api, acme: Tenant) -> None:
    gid, _ = await _contact(as_admin)
    on = await as_admin.data(CONSENT, {"i": {"contactId": gid, "okToSms": True}})
    assert on["setSmsConsent"]["okToSms"] is True
    off = await as_admin.data(
        CONSENT, {"i": {"contactId": gid, "okToSms": False, "reason": "asked by phone"}}
    )
    assert off["setSmsConsent"] == {
        "okToSms": False,
        "smsBlockedReason": "asked by phone",
        "phoneLineType": None,
    }
    data = await as_admin.data(
        "query($id: ID!) { contact(id: $id) { journey(first: 2, kinds: [SMS_CONSENT_CHANGED]) "
        "{ nodes { summary changes { field before after } } } } }",
        {"id": gid},
    )
    latest = data["contact"]["journey"]["nodes"][0]
    assert latest["summary"] == "Acme Admin turned SMS off: asked by phone"
    assert {"field": "okToSms", "before": True, "after": False} in latest["changes"]


async def test_a_landline_cannot_be_switched_on_and_no_phone_cannot_either(
    as_admin: Api, acme: Tenant
) -> None:
    gid, contact_id = await _contact(as_admin)
    await Contact.filter(id=contact_id).update(
        phone_line_type="landline", sms_blocked_reason=messages.LANDLINE_REASON
    )
    error = await as_admin.error(CONSENT, {"i": {"contactId": gid, "okToSms": True}})
    assert error["message"] == "Landline number, SMS not allowed"
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "okToSms"}
    data = await as_admin.data(CREATE, {"i": {"firstName": "No", "email": "no.phone@example.com"}})
    error = await as_admin.error(CONSENT, {"i": {"contactId": data["createContact"]["id"], "okToSms": True}})
    assert "no phone" in error["message"]


async def test_changing_the_phone_drops_consent_and_the_old_line_check(as_admin: Api, acme: Tenant) -> None:
    gid, contact_id = await _contact(as_admin)
    await as_admin.data(CONSENT, {"i": {"contactId": gid, "okToSms": True}})
    await Contact.filter(id=contact_id).update(phone_line_type="mobile")
    data = await as_admin.data(
        "mutation($i: UpdateContactInput!) { updateContact(input: $i) { okToSms phoneLineType phone } }",
        {"i": {"id": gid, "phone": "+14155550111"}},
    )
    assert data["updateContact"] == {"okToSms": False, "phoneLineType": None, "phone": "+14155550111"}


@pytest.mark.parametrize("role", ["manager", "rep"])
async def test_only_admins_set_the_account_sms_number(api: Api, acme: Tenant, role: str) -> None:
    mutation = "mutation($i: SetAccountSmsNumberInput!) { setAccountSmsNumber(input: $i) { smsNumber } }"
    key = acme.manager_key if role == "manager" else acme.rep_key
    error = await api.error(mutation, {"i": {"number": "+14155550199"}}, key=key)
    assert error["extensions"]["code"] == "FORBIDDEN"
    data = await api.data(mutation, {"i": {"number": "(415) 555-0199"}}, key=acme.admin_key)
    assert data["setAccountSmsNumber"]["smsNumber"] == "+14155550199"


async def test_inbound_texts_are_routed_by_the_number_they_were_sent_to(
    api: Api, acme: Tenant, globex: Tenant
) -> None:
    mutation = "mutation($i: SetAccountSmsNumberInput!) { setAccountSmsNumber(input: $i) { smsNumber } }"
    await api.data(mutation, {"i": {"number": "+14155550199"}}, key=acme.admin_key)
    await api.data(mutation, {"i": {"number": "+14155550198"}}, key=globex.admin_key)
    error = await api.error(mutation, {"i": {"number": "+14155550199"}}, key=globex.admin_key)
    assert error["extensions"]["code"] == "CONFLICT"
    acme_id, globex_id = (
        (await messages.account_for_number("+14155550199")),
        (await messages.account_for_number("+14155550198")),
    )
    assert acme_id != globex_id and acme_id is not None and globex_id is not None
    assert await messages.account_for_number("+14155550000") is None


async def test_send_without_a_provider_is_refused_with_a_code(as_admin: Api, acme: Tenant) -> None:
    gid, _ = await _contact(as_admin)
    await as_admin.data(CONSENT, {"i": {"contactId": gid, "okToSms": True}})
    error = await as_admin.error(
        "mutation($i: SendSmsInput!) { sendSms(input: $i) { id } }", {"i": {"contactId": gid, "body": "hi"}}
    )
    assert error["extensions"]["code"] == "NOT_CONFIGURED"
    assert "DOSSIER_TWILIO_ACCOUNT_SID" in error["message"]
    assert (await _thread(as_admin, gid))["edges"] == []
