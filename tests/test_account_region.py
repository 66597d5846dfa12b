"""The account's region for national phone numbers (issue 11 follow-up, D10).

`Account.region` (updateAccountSettings, admins) decides how numbers written without a country
code are read by every path that parses a phone for the account: createContact/updateContact,
submitLead, contactByPhone, inbound SMS (the account found from the To number) and the
account's SMS number. Null restores the server's DOSSIER_DEFAULT_REGION.
"""

from __future__ import annotations

import pytest

from crm import regions
from crm.models import Account, Contact
from crm.services import messages
from tests.conftest import Api, AppFactory, Tenant, make_tenant

SETTINGS = """mutation($input: UpdateAccountSettingsInput!) {
  updateAccountSettings(input: $input) { clientEmail region phoneRegion }
}"""
VIEWER = "{ viewer { account { region phoneRegion } } }"
CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id phone } }"
UPDATE = "mutation($i: UpdateContactInput!) { updateContact(input: $i) { id secondaryPhone } }"
BY_PHONE = "query($phone: String!) { contactByPhone(phone: $phone) { id phone } }"
SUBMIT = """mutation($input: SubmitLeadInput!) {
  submitLead(input: $input) { lead { matchReason contact { id } } }
}"""
GB_NATIONAL, GB_E164 = "020 7946 0000", "+442079460000"
US_NATIONAL, US_E164 = "415.555.0123", "+14155550123"


async def set_region(admin: Api, region: str | None) -> dict:
    return (await admin.data(SETTINGS, {"input": {"region": region}}))["updateAccountSettings"]


async def account_id(name: str) -> int:
    return (await Account.get(name=name)).id


async def test_a_gb_account_reads_national_numbers_as_gb_beside_a_us_account(
    api: Api, acme: Tenant, globex: Tenant
) -> None:
    uk, us = api.as_(acme.admin_key), api.as_(globex.admin_key)
    assert await set_region(uk, "gb") == {"clientEmail": None, "region": "GB", "phoneRegion": "GB"}
    assert (await uk.data(VIEWER))["viewer"]["account"] == {"region": "GB", "phoneRegion": "GB"}
    assert (await us.data(VIEWER))["viewer"]["account"] == {"region": None, "phoneRegion": "US"}

    # createContact stores a national GB number as E.164; contactByPhone finds it in any spelling.
    made = (await uk.data(CREATE, {"i": {"firstName": "Liz", "phone": GB_NATIONAL}}))["createContact"]
    assert made["phone"] == GB_E164
    for spelling in (GB_NATIONAL, "02079460000", "+44 20 7946 0000", "0044 20 7946 0000"):
        assert (await uk.data(BY_PHONE, {"phone": spelling}))["contactByPhone"] == made, spelling
    # The same server still reads the US account's national numbers as US.
    sam = (await us.data(CREATE, {"i": {"firstName": "Sam", "phone": US_NATIONAL}}))["createContact"]
    assert sam["phone"] == US_E164
    assert (await us.data(BY_PHONE, {"phone": US_NATIONAL}))["contactByPhone"] == sam
    # ...and a US national number means nothing in GB: not a number, with the field named.
    error = await uk.error(BY_PHONE, {"phone": US_NATIONAL})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "phone" in error["message"]
    error = await uk.error(CREATE, {"i": {"firstName": "X", "phone": US_NATIONAL}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "phone" in error["message"]

    # updateContact and submitLead read the account's region too.
    updated = await uk.data(UPDATE, {"i": {"id": made["id"], "secondaryPhone": "020 7946 0001"}})
    assert updated["updateContact"]["secondaryPhone"] == "+442079460001"
    lead = await uk.data(SUBMIT, {"input": {"formName": "Callback", "phone": GB_NATIONAL}})
    assert lead["submitLead"]["lead"] == {"matchReason": "PHONE", "contact": {"id": made["id"]}}


async def test_an_inbound_text_is_read_in_the_region_of_the_account_it_was_sent_to(
    api: Api, acme: Tenant, globex: Tenant
) -> None:
    uk, us = api.as_(acme.admin_key), api.as_(globex.admin_key)
    await set_region(uk, "GB")
    liz = (await uk.data(CREATE, {"i": {"firstName": "Liz", "phone": GB_E164}}))["createContact"]
    await uk.data(
        "mutation($i: SetAccountSmsNumberInput!) { setAccountSmsNumber(input: $i) { smsNumber } }",
        {"i": {"number": "020 7946 0999"}},
    )
    assert await messages.account_for_number("+442079460999") == await account_id("Acme")

    await messages.receive_sms(await account_id("Acme"), GB_NATIONAL, "+442079460999", "hi", "SMgb1", "test")
    await messages.receive_sms(await account_id("Globex"), US_NATIONAL, "+14155559999", "hi", "SMus1", "test")
    assert await Contact.filter(phone=GB_E164).count() == 1  # threaded on Liz, no new lead
    assert (await Contact.get(phone=US_E164)).account_id == await account_id("Globex")
    threads = await uk.data(
        "query($id: ID!) { contact(id: $id) { journey(first: 5) { nodes { kind } } } }", {"id": liz["id"]}
    )
    assert "SMS_RECEIVED" in [n["kind"] for n in threads["contact"]["journey"]["nodes"]]
    assert (await us.data(BY_PHONE, {"phone": US_NATIONAL}))["contactByPhone"]["phone"] == US_E164


@pytest.mark.parametrize("bad", ["XX", "UK", "United Kingdom", "001", "g"])
async def test_an_unknown_region_is_refused_and_changes_nothing(api: Api, acme: Tenant, bad: str) -> None:
    admin = api.as_(acme.admin_key)
    await admin.data(SETTINGS, {"input": {"region": "GB", "clientEmail": "leads@example.com"}})
    error = await admin.error(SETTINGS, {"input": {"region": bad, "clientEmail": "other@example.com"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "region" in error["message"] and "GB" in error["message"] and "ISO 3166-1" in error["message"]
    account = await Account.get(name="Acme")
    assert (account.region, account.client_email) == ("GB", "leads@example.com")
    assert (await admin.data(VIEWER))["viewer"]["account"]["region"] == "GB"


async def test_only_admins_set_the_region(api: Api, acme: Tenant) -> None:
    for key in (acme.rep_key, acme.manager_key):
        error = await api.as_(key).error(SETTINGS, {"input": {"region": "GB"}})
        assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await Account.get(name="Acme")).region is None
    assert (await api.as_(acme.rep_key).data(VIEWER))["viewer"]["account"]["phoneRegion"] == "US"


async def test_null_restores_the_server_default_and_leaving_it_out_keeps_it(api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    await set_region(admin, "GB")
    kept = await admin.data(SETTINGS, {"input": {"clientEmail": "leads@example.com"}})
    assert kept["updateAccountSettings"] == {
        "clientEmail": "leads@example.com",
        "region": "GB",
        "phoneRegion": "GB",
    }
    assert await set_region(admin, None) == {
        "clientEmail": "leads@example.com",
        "region": None,
        "phoneRegion": "US",
    }
    assert (await Account.get(name="Acme")).region is None
    made = (await admin.data(CREATE, {"i": {"firstName": "Sam", "phone": US_NATIONAL}}))["createContact"]
    assert made["phone"] == US_E164
    error = await admin.error(CREATE, {"i": {"firstName": "Liz", "phone": GB_NATIONAL}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_server_default_is_dossier_default_region(running_app: AppFactory) -> None:
    async with running_app(default_region="GB") as api:
        tenant = await make_tenant("Acme")
        admin = api.as_(tenant.admin_key)
        assert (await admin.data(VIEWER))["viewer"]["account"] == {"region": None, "phoneRegion": "GB"}
        made = (await admin.data(CREATE, {"i": {"firstName": "Liz", "phone": GB_NATIONAL}}))["createContact"]
        assert made["phone"] == GB_E164
        await set_region(admin, "US")
        made = (await admin.data(CREATE, {"i": {"firstName": "Sam", "phone": US_NATIONAL}}))["createContact"]
        assert made["phone"] == US_E164


async def test_the_cache_is_refreshed_by_the_update_and_expires(
    api: Api, acme: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api.as_(acme.admin_key)
    acme_id = await account_id("Acme")
    assert await regions.phone_region(acme_id) == "US"
    await set_region(admin, "GB")
    assert await regions.phone_region(acme_id) == "GB"  # this process at once
    # Another worker's write (here: straight to the row) is seen once the entry expires.
    await Account.filter(id=acme_id).update(region="DE")
    assert await regions.phone_region(acme_id) == "GB"
    monkeypatch.setattr(regions, "TTL_SECONDS", 0.0)
    regions.remember(acme_id, "GB")
    assert await regions.phone_region(acme_id) == "DE"


async def test_a_lookup_reads_the_region_once_per_ttl_not_per_request(
    api: Api, acme: Tenant, count_statements: type
) -> None:
    admin = api.as_(acme.admin_key)
    await set_region(admin, "GB")
    await admin.data(CREATE, {"i": {"firstName": "Liz", "phone": GB_E164}})
    regions.clear()  # as a freshly started worker
    with count_statements() as cold:
        assert (await admin.data(BY_PHONE, {"phone": GB_NATIONAL}))["contactByPhone"]["phone"] == GB_E164
    with count_statements() as warm:
        assert (await admin.data(BY_PHONE, {"phone": GB_NATIONAL}))["contactByPhone"]["phone"] == GB_E164
    region_reads = [s for s in cold.statements if '"region"' in s or "region" in s.split("FROM")[0]]
    assert len(region_reads) == 1, cold.statements
    assert warm.count == cold.count - 1, (cold.statements, warm.statements)
    assert not [s for s in warm.statements if "region" in s.split("FROM")[0]], warm.statements
