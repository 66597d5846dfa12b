"""Finding an incoming caller by phone (D10): any format, primary or secondary phone, national
numbers in the server's region, archived contacts too; an index lookup on the stored E.164."""

from __future__ import annotations

import pytest

from crm.models import Contact
from graph.ids import decode_id
from tests.conftest import Api, Tenant

CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
BY_PHONE = """query($phone: String!) {
  contactByPhone(phone: $phone) { id displayName phone secondaryPhone archivedAt tags { name } }
}"""
ARCHIVE = "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }"
TAG = "mutation($i: TagInput!) { addTag(input: $i) { id } }"


async def new_contact(api: Api, first: str, **fields: str) -> str:
    data = await api.data(CREATE, {"i": {"firstName": first, "lastName": "Caller", **fields}})
    return data["createContact"]["id"]


async def found(api: Api, phone: str) -> dict | None:
    return (await api.data(BY_PHONE, {"phone": phone}))["contactByPhone"]


async def test_a_phone_in_any_format_finds_its_contact_with_its_tags(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    us = await new_contact(rep, "Sam", phone="+1 415 555 0123")
    uk = await new_contact(rep, "Liz", phone="+44 20 7946 0958")
    await rep.data(TAG, {"i": {"contactId": us, "name": "VIP"}})
    for spelling in (
        "+1 (415) 555-0123",
        "415.555.0123",
        "(415) 555 0123",
        "1-415-555-0123",
        "+14155550123",
        "011 1 415 555 0123",  # the US international prefix
        "  415 555 0123 ",
    ):
        card = await found(rep, spelling)
        assert card is not None, spelling
        assert (card["id"], card["tags"]) == (us, [{"name": "VIP"}]), spelling
    for spelling in ("0044 20 7946 0958", "+44 20 7946 0958", "+442079460958", "00 44 (0)20 7946 0958"):
        card = await found(rep, spelling)
        assert card is not None and card["id"] == uk, spelling
    assert await found(rep, "+1 415 555 0199") is None  # a valid number nobody has


async def test_secondary_phones_archived_contacts_and_ties(api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    office = await new_contact(admin, "Office", phone="+14155550100", secondaryPhone="+14155550111")
    assert (await found(admin, "415-555-0111"))["id"] == office  # type: ignore[index]

    # A live contact before an archived one; a primary phone before a secondary one.
    old = await new_contact(admin, "Old", phone="+14155550122")
    await admin.data(ARCHIVE, {"i": {"ids": [old]}})
    archived = await found(admin, "4155550122")
    assert archived is not None and archived["id"] == old and archived["archivedAt"]
    new = await new_contact(admin, "New", secondaryPhone="+14155550122")
    assert (await found(admin, "4155550122"))["id"] == new  # type: ignore[index]
    primary = await new_contact(admin, "Primary", phone="+14155550122")
    assert (await found(admin, "4155550122"))["id"] == primary  # type: ignore[index]
    # Several live contacts with it as their primary phone: the newest.
    newest = await new_contact(admin, "Newest", phone="+14155550122")
    assert (await found(admin, "4155550122"))["id"] == newest  # type: ignore[index]


async def test_another_accounts_contact_is_never_found(api: Api, acme: Tenant, globex: Tenant) -> None:
    theirs = await new_contact(api.as_(globex.admin_key), "Eve", phone="+14155550177")
    assert await found(api.as_(acme.admin_key), "+14155550177") is None
    assert (await found(api.as_(globex.rep_key), "+14155550177"))["id"] == theirs  # type: ignore[index]


@pytest.mark.parametrize(
    ("phone", "words"),
    [
        ("", "phone is required"),
        ("   ", "phone is required"),
        ("hello", "not a phone number"),
        ("123", "not a valid phone number"),
        ("+1 415 555", "not a valid phone number"),
        ("0044 12", "not a valid phone number"),
        ("9" * 100, "phone"),
    ],
)
async def test_an_unparseable_phone_is_bad_input(as_admin: Api, phone: str, words: str) -> None:
    error = await as_admin.error(BY_PHONE, {"phone": phone})
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == "phone"
    assert words in error["message"], error


async def test_the_lookup_reads_only_the_matching_rows(
    api: Api, acme: Tenant, count_statements: type
) -> None:
    admin = api.as_(acme.admin_key)
    target = await new_contact(admin, "Target", phone="+14155550155")
    with count_statements() as counter:
        card = await found(admin, "(415) 555-0155")
    assert card is not None and card["id"] == target
    assert decode_id(target, "Contact") == (await Contact.get(phone="+14155550155")).id
    # The API-key lookup, the contact (owners joined in), its tags.
    assert counter.count <= 4, counter.statements
