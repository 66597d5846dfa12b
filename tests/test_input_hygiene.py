"""Hostile input that used to reach the database or overflow: far-future times, characters no
database stores, spoofing characters in names, non-canonical ids, and "Did you mean"
suggestions that spelled the schema out with introspection off (issue 9, items 4, 5 and 10)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from crm.errors import BadInput
from crm.models import Call as CallModel
from crm.models import Contact as ContactModel
from crm.models import Note as NoteModel
from crm.models import WebhookEndpoint as EndpointModel
from crm.services import calls as call_service
from crm.services.contacts import clean_identity
from graph.ids import decode_id, encode_cursor, global_id_text
from tests.conftest import Api, AppFactory, Tenant, make_tenant

CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id firstName } }"
UPDATE_CONTACT = "mutation($i: UpdateContactInput!) { updateContact(input: $i) { id firstName } }"
SCHEDULE = "mutation($i: ScheduleCallInput!) { scheduleCall(input: $i) { id scheduledAt endsAt } }"
CREATE_ENDPOINT = "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }"
ADD_NOTE = "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }"
ADD_TAG = "mutation($i: TagInput!) { addTag(input: $i) { id } }"
SEARCH = "query($s: String) { contacts(search: $s) { totalCount } }"
CALLS = "query($id: ID!) { contact(id: $id) { calls(when: ALL) { scheduledAt endsAt } } }"


async def raw_post(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Post with json.dumps' ASCII escapes, so a lone surrogate travels as the JSON escape
    "\\udfff" (httpx would refuse to encode it as UTF-8)."""
    response = await api.client.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
    )
    return response.json()


async def raw_error(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    errors = (await raw_post(api, query, variables)).get("errors") or []
    assert len(errors) == 1, errors
    return errors[0]


async def new_contact(api: Api, first_name: str = "Ada") -> str:
    return (await api.data(CREATE_CONTACT, {"i": {"firstName": first_name}}))["createContact"]["id"]


def bad_input(error: dict[str, Any], field: str) -> None:
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == field, error
    assert field in error["message"], error


# --------------------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------------------

FAR_FUTURE = ["9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-12:00", "2201-01-01T00:00:00Z"]


@pytest.mark.parametrize("when", FAR_FUTURE)
async def test_a_far_future_call_is_refused_and_leaves_no_call_behind(
    as_admin: Api, acme: Tenant, when: str
) -> None:
    contact = await new_contact(as_admin)
    error = await as_admin.error(
        SCHEDULE, {"i": {"contactId": contact, "scheduledAt": when, "eventName": "Demo"}}
    )
    bad_input(error, "scheduledAt")
    assert "1900" in error["message"] and "2200" in error["message"]
    inline = (
        f'mutation {{ scheduleCall(input: {{contactId: "{contact}", scheduledAt: "{when}", eventName: "D"}})'
        " { id } }"
    )
    bad_input(await as_admin.error(inline), "scheduledAt")
    assert await CallModel.all().count() == 0
    # The card still answers for everyone.
    assert (await as_admin.data(CALLS, {"id": contact}))["contact"]["calls"] == []


async def test_times_inside_the_range_are_still_accepted(as_admin: Api, acme: Tenant) -> None:
    contact = await new_contact(as_admin)
    data = await as_admin.data(
        SCHEDULE,
        {"i": {"contactId": contact, "scheduledAt": "2200-12-31T10:00:00-12:00", "eventName": "Late"}},
    )
    assert data["scheduleCall"]["endsAt"] == "2200-12-31T22:30:00+00:00"


async def test_services_refuse_out_of_range_times_too(as_admin: Api, acme: Tenant) -> None:
    # Service callers (CLI, jobs, plugins) do not pass through GraphQL: crm.clock bounds them.
    contact = await new_contact(as_admin)
    actor = await _actor(acme.admin_key)
    for when in (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), datetime.fromisoformat(FAR_FUTURE[1])):
        with pytest.raises(BadInput) as raised:
            await call_service.schedule_call(actor, decode_id(contact, "Contact"), when, "Demo")
        assert raised.value.field == "scheduledAt"
    assert await CallModel.all().count() == 0


async def test_a_stored_far_future_call_does_not_break_the_card(as_admin: Api, acme: Tenant) -> None:
    # A row written before times were bounded: endsAt would overflow datetime.
    contact = await new_contact(as_admin)
    await CallModel.create(
        contact_id=decode_id(contact, "Contact"),
        event_name="Legacy",
        scheduled_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        duration_minutes=30,
        booked_by_id=acme.user_ids["admin"],
    )
    calls = (await as_admin.data(CALLS, {"id": contact}))["contact"]["calls"]
    assert calls == [
        {"scheduledAt": "9999-12-31T23:59:59+00:00", "endsAt": "9999-12-31T23:59:59.999999+00:00"}
    ]


async def _actor(key: str) -> Any:
    from crm.services.accounts import authenticate

    actor = await authenticate(key)
    assert actor is not None
    return actor


# --------------------------------------------------------------------------------------
# Characters no database stores
# --------------------------------------------------------------------------------------

SURROGATE, NUL = "\udfff", "\x00"


@pytest.mark.parametrize("char", [SURROGATE, NUL], ids=["surrogate", "nul"])
async def test_unstorable_characters_are_refused_in_every_string_input(
    as_admin: Api, acme: Tenant, char: str
) -> None:
    contact = await new_contact(as_admin)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (CREATE_CONTACT, {"i": {"firstName": f"A{char}"}}, "firstName"),
        # Nested input object.
        (CREATE_CONTACT, {"i": {"firstName": "A", "address": {"street": f"1 {char} St"}}}, "street"),
        (CREATE_CONTACT, {"i": {"firstName": "A", "utm": {"source": char}}}, "source"),
        (UPDATE_CONTACT, {"i": {"id": contact, "lastName": f"L{char}"}}, "lastName"),
        (ADD_NOTE, {"i": {"contactId": contact, "body": f"<p>x{char}</p>"}}, "body"),
        (ADD_TAG, {"i": {"contactId": contact, "name": f"t{char}"}}, "name"),
        # A list inside an input.
        (
            CREATE_ENDPOINT,
            {"i": {"url": "https://example.com/h", "events": ["contact_created", char]}},
            "events",
        ),
        (CREATE_ENDPOINT, {"i": {"url": f"https://example.com/{char}"}}, "url"),
        (SEARCH, {"s": f"ada{char}"}, "search"),
        # An ID argument.
        ("query($id: ID!) { contact(id: $id) { id } }", {"id": f"{contact}{char}"}, "id"),
    ]
    for query, variables, field in cases:
        bad_input(await raw_error(as_admin, query, variables), field)
    assert await ContactModel.all().count() == 1
    assert await NoteModel.all().count() == 0
    assert await EndpointModel.all().count() == 0
    card = "query($id: ID!) { contact(id: $id) { lastName tags { name } } }"
    first = await as_admin.data(card, {"id": contact})
    assert first["contact"] == {"lastName": None, "tags": []}


async def test_nul_in_inline_literals_is_refused(as_admin: Api, acme: Tenant) -> None:
    bad_input(await as_admin.error('{ contacts(search: "ada\\u0000") { totalCount } }'), "search")
    bad_input(
        await as_admin.error(
            'mutation { createWebhookEndpoint(input: {url: "https://e.com/\\u0000"}) { secret } }'
        ),
        "url",
    )
    bad_input(
        await as_admin.error('mutation { createContact(input: {address: {city: "a\\u0000"}}) { id } }'),
        "city",
    )
    assert await EndpointModel.all().count() == 0
    assert await ContactModel.all().count() == 0


async def test_a_lone_surrogate_in_a_document_is_a_parse_error(as_admin: Api, acme: Tenant) -> None:
    # GraphQL's lexer refuses a lone surrogate, escaped or raw, before anything runs.
    for literal in ('"\\udfff"', f'"{SURROGATE}"'):
        error = await raw_error(
            as_admin, f"mutation {{ createContact(input: {{firstName: {literal}}}) {{ id }} }}", {}
        )
        assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED", error
    assert await ContactModel.all().count() == 0


SPOOFING = {
    "right-to-left override": "Ada\u202eSmith",
    "isolate": "Ada\u2066x\u2069",
    "zero-width space": "A\u200bda",
    "zero-width joiner": "A\u200dda",
    "word joiner": "A\u2060da",
    "byte order mark": "A\ufeffda",
    "C1 control": "A\u0085da",
    "C0 control": "A\x07da",
    "newline": "Ada\nSmith",
}


@pytest.mark.parametrize("name", list(SPOOFING.values()), ids=list(SPOOFING))
async def test_names_refuse_invisible_and_reordering_characters(
    as_admin: Api, acme: Tenant, name: str
) -> None:
    bad_input(await as_admin.error(CREATE_CONTACT, {"i": {"firstName": name}}), "firstName")
    bad_input(await as_admin.error(CREATE_CONTACT, {"i": {"businessName": name}}), "businessName")
    contact = await new_contact(as_admin, "Ada")
    bad_input(await as_admin.error(UPDATE_CONTACT, {"i": {"id": contact, "title": name}}), "title")
    assert [c.first_name for c in await ContactModel.all()] == ["Ada"]


def test_identity_text_of_services_and_free_text_differ() -> None:
    with pytest.raises(BadInput) as raised:
        clean_identity({"last_name": "Smith\u202e"}, region="US")
    assert raised.value.field == "lastName"
    # Accented, CJK and emoji names stay welcome.
    assert clean_identity({"first_name": "Zoë 李 👩"}, region="US") == {"first_name": "Zoë 李 👩"}


async def test_account_and_user_names_refuse_spoofing(api: Api) -> None:
    from crm.services import accounts

    with pytest.raises(BadInput) as raised:
        await accounts.create_account("Acme\u202e", "a@acme.example.com")
    assert raised.value.field == "name"
    await make_tenant("Acme")
    with pytest.raises(BadInput):
        await accounts.create_user("Acme", "Bob\u200b", "bob@acme.example.com", "rep")


async def test_notes_keep_their_newlines(as_admin: Api, acme: Tenant) -> None:
    contact = await new_contact(as_admin)
    await as_admin.data(ADD_NOTE, {"i": {"contactId": contact, "body": "<p>one</p>\n<p>two</p>"}})
    assert await NoteModel.all().count() == 1


# --------------------------------------------------------------------------------------
# Ids and cursors: only the canonical text
# --------------------------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def non_canonical(type_name: str, number: int) -> dict[str, str]:
    canonical = global_id_text(type_name, number)
    return {
        "leading zero": _b64(f"{type_name}:0{number}"),
        "space": _b64(f"{type_name}: {number}"),
        "full-width digit": _b64(f"{type_name}:" + "".join(chr(0xFF10 + int(d)) for d in str(number))),
        "plus sign": _b64(f"{type_name}:+{number}"),
        "trailing newline": _b64(f"{type_name}:{number}\n"),
        "tab": _b64(f"{type_name}:\t{number}"),
        "extra padding": canonical + "=",
        "newline after the id": canonical + "\n",
        "space before the id": " " + canonical,
        "padding added": canonical + "==",
    }


async def test_only_canonical_ids_name_an_object(as_admin: Api, acme: Tenant) -> None:
    contact = await new_contact(as_admin)
    number = decode_id(contact, "Contact")
    assert contact == global_id_text("Contact", number)
    by_id = "query($id: ID!) { contact(id: $id) { id } }"
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await as_admin.data(by_id, {"id": contact}))["contact"]["id"] == contact
    assert (await as_admin.data(node, {"id": contact}))["node"]["id"] == contact
    forms = non_canonical("Contact", number)
    for name, value in forms.items():
        assert value != contact, name
        bad_input(await as_admin.error(by_id, {"id": value}), "id")
        error = await as_admin.error(node, {"id": value})
        assert error["extensions"]["code"] == "NOT_FOUND", (name, error)
        error = await as_admin.error(UPDATE_CONTACT, {"i": {"id": value, "firstName": "Eve"}})
        bad_input(error, "id")
    assert [c.first_name for c in await ContactModel.all()] == ["Ada"]


async def test_non_canonical_base64_bits_are_refused(as_admin: Api, acme: Tenant) -> None:
    # "Contact:10" is ten bytes: its last base64 character before "==" has four spare bits.
    for i in range(10):
        await new_contact(as_admin, f"C{i}")
    canonical = global_id_text("Contact", 10)
    assert canonical.endswith("==")
    sloppy = canonical[:-3] + chr(ord(canonical[-3]) + 1) + "=="
    assert base64.b64decode(sloppy) == base64.b64decode(canonical)
    bad_input(await as_admin.error("query($id: ID!) { contact(id: $id) { id } }", {"id": sloppy}), "id")


async def test_only_canonical_cursors_continue_a_list(as_admin: Api, acme: Tenant) -> None:
    for name in ("A", "B", "C"):
        await new_contact(as_admin, name)
    page = "query($after: String) { contacts(first: 1, after: $after) { edges { cursor } } }"
    cursor = (await as_admin.data(page))["contacts"]["edges"][0]["cursor"]
    assert (await as_admin.data(page, {"after": cursor}))["contacts"]["edges"]
    position = base64.urlsafe_b64decode(cursor).decode().split(":", 1)[1]
    assert cursor == encode_cursor("contact", int(position))
    for sloppy in (
        cursor + "=",
        cursor + "\n",
        base64.urlsafe_b64encode(f"contact:0{position}".encode()).decode(),
    ):
        bad_input(await as_admin.error(page, {"after": sloppy}), "after")


# --------------------------------------------------------------------------------------
# Suggestions
# --------------------------------------------------------------------------------------

MISSPELT = [
    ('{ contac(id: "x") { id } }', None),  # a root field
    ("{ viewer { usr { name } } }", None),  # a field
    ("mutation($i: CreateContactInput!) { createContact(input: $i) { id } }", {"i": {"firstNam": "A"}}),
    ("{ contacts(frist: 1) { totalCount } }", None),  # an argument
    ('{ contact(id: "x") { calls(when: UPCOMIN) { id } } }', None),  # an enum value
    ('query($w: CallWhen!) { contact(id: "x") { calls(when: $w) { id } } }', {"w": "UPCOMIN"}),
    ("query($x: CreateContactInputt) { viewer { user { name } } }", None),  # a type
]


async def test_suggestions_are_hidden_when_introspection_is_off(running_app: AppFactory) -> None:
    async with running_app(introspection=False) as api:
        tenant = await make_tenant("Acme")
        for query, variables in MISSPELT:
            body = await api.post(query, variables, key=tenant.admin_key)
            messages = " ".join(e["message"] for e in body["errors"])
            assert "Did you mean" not in messages, (query, messages)
            for name in ("contact", "user", "firstName", "first", "UPCOMING", "CreateContactInput"):
                if name not in query:  # the schema's names that the client did not write
                    assert f"'{name}'" not in messages, (query, messages)


async def test_suggestions_help_while_introspection_is_on(api: Api) -> None:
    tenant = await make_tenant("Acme")
    for query, variables in MISSPELT:
        body = await api.post(query, variables, key=tenant.admin_key)
        messages = " ".join(e["message"] for e in body["errors"])
        assert "Did you mean" in messages, (query, messages)
