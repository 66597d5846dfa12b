"""Query cost, the wall-clock limit per request and the response size cap (issue 9, item 1)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import parse
from starlette.testclient import TestClient

import graph.context
from crm import uow as uow_module
from dossier import Settings, create_app
from graph.cost import DEFAULT_COST_LIMIT, LIST_BOUNDS, document_cost, unbounded_fields
from graph.resolvers import queries as query_resolvers
from graph.resolvers.loaders import Loaders
from graph.schema import schema as dossier_schema
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.test_subscriptions import wait_for_listener

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "graph" / "example_card_query.graphql").read_text()
CARD_FRAGMENT = EXAMPLE[EXAMPLE.index("fragment Card on Contact") :]
_readme_card = re.search(r"```graphql\n(query Card\(.*?)```", (ROOT / "README.md").read_text(), re.S)
assert _readme_card is not None, "README.md lost its card query"
README_CARD = _readme_card.group(1)
PAGE_OF_50 = "query Page { contacts(first: 50) { nodes { ...Card } } }\n" + CARD_FRAGMENT
# Every section of a card at its largest page: what a client showing everything reads.
FULLEST_CARD = """
fragment Fullest on Contact {
  id displayName firstName lastName businessName title contactType email secondaryEmail phone
  secondaryPhone ipAddress status subStatus convertedAt okToSms smsBlockedReason phoneLineType
  phoneCheckedAt createdAt updatedAt lastBookedEvent
  address { street city state zip country }
  setterOwner { id name email role } closerOwner { id name } assignedTo { id name }
  tags { id name } utms { source medium campaign term content capturedAt }
  formAnswers { question answer form answeredAt }
  journey(first: 100) {
    totalCount pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node { id kind occurredAt summary actor { kind name user { name } } changes { field before after } }
    }
  }
  upcoming: calls(when: UPCOMING) { id eventName scheduledAt endsAt status badges bookedBy { name } }
  past: calls(when: PAST) { id eventName scheduledAt outcome recordingUrl badges bookedBy { name } }
  deals { id productName amount currency paymentType status recurring closedAt createdBy { name } }
  notes { id body text textLength createdAt author { name } }
  messages(last: 20) { nodes { id channel direction status body createdAt author { name } } }
  links { kind label url }
}
"""
FULLEST_PAGE_OF_50 = "query { contacts(first: 50) { nodes { ...Fullest } } }" + FULLEST_CARD
VARIABLE_PAGE = "query Page($n: Int = 5) { contacts(first: $n) { nodes { ...Card } } }\n" + CARD_FRAGMENT

# The attack (24 GB before it was killed) and its twin through notes.
CALLS_ATTACK = (
    "query($c: ID!) { contact(id: $c) { calls { id contact { calls { id contact { calls { id contact {"
    " calls { id contact { calls { id contact { id } } } } } } } } } } } }"
)
NOTES_ATTACK = (
    "query($c: ID!) { contact(id: $c) { notes { contact { notes { contact { notes { id } } } } } } }"
)

CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
SCHEDULE = "mutation($i: ScheduleCallInput!) { scheduleCall(input: $i) { id } }"
ADD_NOTE = "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }"
NOTES = "query($c: ID!) { contact(id: $c) { notes { body } journey(first: 50) { nodes { kind } } } }"

SCHEMA = dossier_schema._schema


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    return document_cost(SCHEMA, parse(query), variables)


async def _contact(api: Api, calls: int = 2, notes: int = 2) -> str:
    contact_id = (await api.data(CREATE, {"i": {"firstName": "Ada", "email": "ada@example.com"}}))[
        "createContact"
    ]["id"]
    start = datetime.now(UTC) + timedelta(days=1)
    for n in range(calls):
        at = (start + timedelta(hours=n)).isoformat()
        await api.data(
            SCHEDULE, {"i": {"contactId": contact_id, "scheduledAt": at, "eventName": f"Call {n}"}}
        )
    for n in range(notes):
        await api.data(ADD_NOTE, {"i": {"contactId": contact_id, "body": f"<p>note {n}</p>"}})
    return contact_id


@pytest.fixture
def as_rep(api: Api, acme: Tenant) -> Api:
    return api.as_(acme.rep_key)


@pytest.fixture
def loaders_built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every resolver that reads data goes through the request's Loaders: none built, none ran."""
    built: list[int] = []

    class Recording(Loaders):
        def __init__(self, account_id: int) -> None:
            built.append(account_id)
            super().__init__(account_id)

    monkeypatch.setattr(graph.context, "Loaders", Recording)
    return built


def _costly(body: dict[str, Any], limit: int = DEFAULT_COST_LIMIT) -> dict[str, Any]:
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY", error
    assert error["extensions"]["limit"] == limit
    assert error["extensions"]["cost"] > limit
    assert f"{error['extensions']['cost']:,}" in error["message"] and "`first`" in error["message"]
    return error


# --------------------------------------------------------------------------------------
# Refused before anything runs
# --------------------------------------------------------------------------------------


async def test_nested_lists_within_the_depth_limit_are_refused_before_anything_runs(
    as_rep: Api, as_admin: Api, loaders_built: list[int]
) -> None:
    contact_id = await _contact(as_admin)
    loaders_built.clear()
    for attack in (CALLS_ATTACK, NOTES_ATTACK):
        error = _costly(await as_rep.post(attack, {"c": contact_id}))
        assert error["extensions"]["cost"] == cost(attack)
    assert loaders_built == []
    # The probe sees a query that does run.
    data = await as_rep.data("query($c: ID!) { contact(id: $c) { calls { id } } }", {"c": contact_id})
    assert len(data["contact"]["calls"]) == 2 and loaders_built


async def test_a_refused_mutation_changes_nothing(as_admin: Api) -> None:
    contact_id = await _contact(as_admin, calls=0, notes=0)
    nested = "contact { notes { contact { notes { contact { notes { id } } } } } }"
    body = await as_admin.post(
        f"mutation($i: AddNoteInput!) {{ addNote(input: $i) {{ id {nested} }} }}",
        {"i": {"contactId": contact_id, "body": "<p>never saved</p>"}},
    )
    _costly(body)
    contact = (await as_admin.data(NOTES, {"c": contact_id}))["contact"]
    assert contact["notes"] == []
    assert [e["kind"] for e in contact["journey"]["nodes"]] == ["CONTACT_CREATED"]


async def test_get_requests_and_persisted_queries_are_costed_too(as_rep: Api, as_admin: Api) -> None:
    contact_id = await _contact(as_admin, calls=0, notes=0)
    headers = {"Authorization": f"Bearer {as_rep.key}"}
    response = await as_rep.client.get(
        "/graphql", params={"query": NOTES_ATTACK, "variables": f'{{"c": "{contact_id}"}}'}, headers=headers
    )
    _costly(response.json())
    digest = hashlib.sha256(CALLS_ATTACK.encode()).hexdigest()
    response = await as_rep.client.post(
        "/graphql",
        json={
            "query": CALLS_ATTACK,
            "variables": {"c": contact_id},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
        },
        headers=headers,
    )
    _costly(response.json())


def test_a_subscription_is_costed_per_event(settings: Settings) -> None:
    nested = "contact { notes { contact { notes { contact { notes { id } } } } } }"
    with TestClient(create_app(settings)) as client:
        acme = client.portal.call(make_tenant, "Acme")
        contact_id = client.post(
            "/graphql",
            json={"query": CREATE, "variables": {"i": {"firstName": "Ada"}}},
            headers={"Authorization": f"Bearer {acme.rep_key}"},
        ).json()["data"]["createContact"]["id"]
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {acme.rep_key}"}})
            assert ws.receive_json()["type"] == "connection_ack"
            query = f"subscription($c: ID!) {{ messages(contactId: $c) {{ id {nested} }} }}"
            ws.send_json(
                {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"c": contact_id}}}
            )
            message = ws.receive_json()
    assert message["type"] == "error", message
    (error,) = message["payload"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"


# --------------------------------------------------------------------------------------
# Allowed: the card, a page of cards
# --------------------------------------------------------------------------------------


async def test_the_card_queries_and_a_page_of_50_cards_stay_allowed(as_rep: Api, as_admin: Api) -> None:
    ids = [await _contact(as_admin) for _ in range(2)]
    allowed = (
        (EXAMPLE, {"id": ids[0]}),
        (README_CARD, {"id": ids[0]}),
        (PAGE_OF_50, {}),
        (FULLEST_PAGE_OF_50, {}),
    )
    for query, variables in allowed:
        assert cost(query, variables) <= DEFAULT_COST_LIMIT
        data = await as_rep.data(query, variables)
        assert data
    page = await as_rep.data(PAGE_OF_50)
    assert len(page["contacts"]["nodes"]) == 2
    assert all(len(node["notes"]) == 2 for node in page["contacts"]["nodes"])


async def test_a_variable_first_changes_the_cost(running_app: AppFactory) -> None:
    per_card = cost("{ contact(id: 1) { ...Card } }\n" + CARD_FRAGMENT)
    page_of = {n: 1 + n * per_card for n in (5, 10, 50)}
    assert cost(VARIABLE_PAGE) == page_of[5]  # the variable's default
    assert cost(VARIABLE_PAGE, {"n": 10}) == page_of[10]
    assert cost(VARIABLE_PAGE, {"n": 5000}) == cost(VARIABLE_PAGE, {"n": 100})  # first is at most 100
    limit = page_of[10] + 1
    async with running_app(query_cost_limit=limit) as api:
        tenant = await make_tenant("Acme")
        body = await api.post(VARIABLE_PAGE, {"n": 10}, key=tenant.rep_key)
        assert body.get("errors") is None and body["data"]["contacts"]["nodes"] == []
        body = await api.post(VARIABLE_PAGE, {"n": 50}, key=tenant.rep_key)
        assert _costly(body, limit)["extensions"]["cost"] == page_of[50]


# --------------------------------------------------------------------------------------
# How a document is counted
# --------------------------------------------------------------------------------------


def test_aliases_fragments_and_directives_are_counted() -> None:
    page = "contacts(first: 10) { nodes { id } }"
    assert cost(f"{{ {page} }}") == 1 + 10
    assert cost(f"{{ a: {page} b: {page} }}") == 2 * (1 + 10)  # each alias
    assert cost(f"{{ {page} {page} }}") == 1 + 10  # the same key is one field
    # Fields under one key merge: each contact is one object with its assignee.
    assert cost(f"{{ {page} contacts(first: 10) {{ nodes {{ assignedTo {{ id }} }} }} }}") == 1 + 10 * 2
    assert (
        cost(
            "{ ...F } fragment F on Query { contacts(first: 10) { nodes { ...C } } }"
            " fragment C on Contact { id }"
        )
        == 11
    )
    assert cost("{ contacts(first: 10) { nodes { ... on Contact { calls { id } } } } }") == 1 + 10 * (1 + 100)
    # Skipped or not, it is counted.
    assert cost("query($no: Boolean!) { contacts(first: 10) @include(if: $no) { nodes { id } } }") == 11
    # Edges take the connection's page; a journey event's changes are bounded.
    assert cost("{ contacts(first: 3) { edges { node { id } } pageInfo { hasNextPage } } }") == 1 + 3 * 2 + 1
    assert cost("query($c: ID!) { contact(id: $c) { journey { nodes { changes { field } } } } }") == (
        1 + 1 + 20 * (1 + LIST_BOUNDS["JourneyEvent.changes"])
    )
    # Contact.messages has no default page: it counts the most it may return; `last` sizes it too.
    assert cost("query($c: ID!) { contact(id: $c) { messages { nodes { id } } } }") == 1 + 1 + 100
    assert cost("query($c: ID!) { contact(id: $c) { messages(last: 3) { nodes { id } } } }") == 1 + 1 + 3
    # An interface: the most expensive type its fragments can match.
    assert (
        cost(
            "query($c: ID!) { node(id: $c) { id ... on Contact { calls { id } } ..."
            " on Note { contact { id } } } }"
        )
        == 1 + 100
    )
    # A subscription per event, a mutation by its selection, introspection a fixed amount.
    assert cost("subscription($c: ID!) { journey(contactId: $c) { actor { name } changes { field } } }") == (
        1 + 1 + LIST_BOUNDS["JourneyEvent.changes"]
    )
    assert (
        cost('mutation { addNote(input: {contactId: "x", body: "y"}) { contact { notes { id } } } }') == 102
    )
    assert cost("{ __schema { types { fields { name } } } }") == cost('{ __type(name: "Contact") { name } }')


@strawberry.type
class Item:
    name: str


@strawberry.type(name="Query")
class UnboundedQuery:
    @strawberry.field
    def items(self) -> list[Item]:
        return []

    @strawberry.field
    def page(self, first: int = 10) -> list[Item]:
        return []


def test_every_list_field_declares_its_bound() -> None:
    assert unbounded_fields(SCHEMA) == []

    problems = unbounded_fields(strawberry.Schema(query=UnboundedQuery)._schema)
    assert [p.split(":")[0] for p in problems] == ["Query.items", "Query.page"]


# --------------------------------------------------------------------------------------
# The wall-clock limit
# --------------------------------------------------------------------------------------


async def _post(api: Api, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    # Bounded here so that a server with no deadline fails the test rather than hanging it.
    async with asyncio.timeout(10):
        response = await api.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}", "X-Request-ID": "req-slow"},
        )
    return response.json()


# Long enough that the set-up requests (a cold first createContact on a loaded CI machine) finish
# under it; the operations under test hang forever, so the deadline is what ends them.
DEADLINE = 1.5


def _timed_out(body: dict[str, Any]) -> None:
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "REQUEST_TIMEOUT", "requestId": "req-slow"}
    assert f"{DEADLINE} s" in error["message"]


async def test_a_query_running_past_the_deadline_is_cancelled(
    running_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cancelled = asyncio.Event()

    async def stuck(*args: object) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with running_app(request_timeout=DEADLINE) as api:
        tenant = await make_tenant("Acme")
        contact_id = await _contact(api.as_(tenant.admin_key), calls=0, notes=0)
        monkeypatch.setattr(query_resolvers, "load_contact", stuck)
        _timed_out(
            await _post(api, tenant.rep_key, "query($c: ID!) { contact(id: $c) { id } }", {"c": contact_id})
        )
        assert cancelled.is_set()


async def test_a_mutation_cancelled_inside_its_transaction_writes_nothing(
    running_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = uow_module.UnitOfWork.record

    async def record_then_hang(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The note row and its journey entry are written; the commit never comes.
        await record(self, *args, **kwargs)
        await asyncio.Event().wait()

    async with running_app(request_timeout=DEADLINE) as api:
        tenant = await make_tenant("Acme")
        admin = api.as_(tenant.admin_key)
        contact_id = await _contact(admin, calls=0, notes=0)
        monkeypatch.setattr(uow_module.UnitOfWork, "record", record_then_hang)
        body = await _post(
            api, tenant.rep_key, ADD_NOTE, {"i": {"contactId": contact_id, "body": "<p>half</p>"}}
        )
        _timed_out(body)
        monkeypatch.undo()
        contact = (await admin.data(NOTES, {"c": contact_id}))["contact"]
        assert contact["notes"] == []
        assert [e["kind"] for e in contact["journey"]["nodes"]] == ["CONTACT_CREATED"]
        # The connection the cancelled transaction held is usable again.
        await admin.data(ADD_NOTE, {"i": {"contactId": contact_id, "body": "<p>whole</p>"}})
        contact = (await admin.data(NOTES, {"c": contact_id}))["contact"]
        assert [n["body"] for n in contact["notes"]] == ["<p>whole</p>"]


def test_a_query_over_a_websocket_has_the_same_deadline(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queries and mutations sent over the socket are cancelled at the deadline too; the socket
    stays open and a subscription on it is no request (it waits for events as long as it likes)."""

    async def stuck(*args: object) -> None:
        await asyncio.Event().wait()

    with TestClient(create_app(replace(settings, request_timeout=DEADLINE))) as client:
        acme = client.portal.call(make_tenant, "Acme")
        contact_id = client.post(
            "/graphql",
            json={"query": CREATE, "variables": {"i": {"firstName": "Ada"}}},
            headers={"Authorization": f"Bearer {acme.rep_key}"},
        ).json()["data"]["createContact"]["id"]
        with client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers={"X-Request-ID": "req-slow"}
        ) as ws:
            ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {acme.rep_key}"}})
            assert ws.receive_json()["type"] == "connection_ack"
            subscription = "subscription($c: ID!) { journey(contactId: $c) { kind } }"
            ws.send_json(
                {
                    "id": "live",
                    "type": "subscribe",
                    "payload": {"query": subscription, "variables": {"c": contact_id}},
                }
            )
            wait_for_listener(client, "Acme", contact_id)
            monkeypatch.setattr(query_resolvers, "load_contact", stuck)
            query = "query($c: ID!) { contact(id: $c) { id } }"
            ws.send_json(
                {
                    "id": "slow",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": {"c": contact_id}},
                }
            )
            message = ws.receive_json()
            assert (message["type"], message["id"]) == ("next", "slow"), message
            _timed_out(message["payload"])
            assert ws.receive_json() == {"type": "complete", "id": "slow"}
            monkeypatch.undo()
            # The subscription outlived the deadline: a change now still reaches it.
            client.post(
                "/graphql",
                json={"query": ADD_NOTE, "variables": {"i": {"contactId": contact_id, "body": "<p>hi</p>"}}},
                headers={"Authorization": f"Bearer {acme.rep_key}"},
            )
            event = ws.receive_json()
            assert (event["type"], event["id"]) == ("next", "live"), event
            assert event["payload"]["data"]["journey"]["kind"] == "NOTE_ADDED"


# --------------------------------------------------------------------------------------
# The response size cap
# --------------------------------------------------------------------------------------

BIG = "{ __schema { types { name description fields { name description } } } }"


def _too_large(payload: dict[str, Any], limit: int) -> None:
    assert payload["data"] is None, payload
    (error,) = payload["errors"]
    assert error["extensions"]["code"] == "RESPONSE_TOO_LARGE"
    assert error["extensions"]["limit"] == limit and error["extensions"]["size"] > limit
    assert error["extensions"]["requestId"] not in ("", "-")
    assert f"{limit:,}" in error["message"]


async def test_a_response_over_the_cap_is_one_error(running_app: AppFactory) -> None:
    async with running_app(max_response_bytes=4096) as api:
        tenant = await make_tenant("Acme")
        _too_large(await api.post(BIG, key=tenant.rep_key), 4096)
        data = await api.data("{ viewer { user { name } } }", key=tenant.rep_key)
        assert data["viewer"]["user"]["name"] == "Acme Rep"


@pytest.fixture
def small_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(replace(settings, max_response_bytes=4096))) as started:
        yield started


def test_a_websocket_message_over_the_cap_is_one_error(small_client: TestClient) -> None:
    acme = small_client.portal.call(make_tenant, "Acme")
    with small_client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {acme.rep_key}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": BIG}})
        message = ws.receive_json()
        assert (message["type"], message["id"]) == ("next", "1")
        _too_large(message["payload"], 4096)
        assert ws.receive_json() == {"type": "complete", "id": "1"}


async def test_the_whole_lists_the_budget_counts_on_cannot_outgrow_their_bounds(
    as_admin: Api, acme: Tenant
) -> None:
    """`viewer { account { tags } }` and `users` are read whole: the services refuse the row past
    the bound `LIST_BOUNDS` gives them, so the cost of reading them is a true upper bound."""
    from crm.models import Account, Tag, User
    from crm.services import accounts as account_service
    from crm.services.accounts import MAX_USERS
    from crm.services.tags import MAX_TAGS

    assert LIST_BOUNDS["Account.tags"] == MAX_TAGS and LIST_BOUNDS["Query.users"] == MAX_USERS
    account = await Account.get(name=acme.name)
    await Tag.bulk_create([Tag(account_id=account.id, key=f"t{i}", name=f"t{i}") for i in range(MAX_TAGS)])
    contact = (await as_admin.data('mutation { createContact(input: {firstName: "Ada"}) { id } }'))[
        "createContact"
    ]["id"]
    add = "mutation($i: TagInput!) { addTag(input: $i) { tags(first: 5) { name } } }"
    error = await as_admin.error(add, {"i": {"contactId": contact, "name": "one too many"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert str(MAX_TAGS) in error["message"]
    assert not await Tag.filter(account_id=account.id, key="one too many").exists()
    # A tag the account already has is still added.
    tagged = await as_admin.data(add, {"i": {"contactId": contact, "name": "T7"}})
    assert tagged["addTag"]["tags"] == [{"name": "t7"}]

    users = await User.filter(account_id=account.id).count()
    await User.bulk_create(
        [
            User(account_id=account.id, name=f"U{i}", email=f"u{i}@acme.example.com", role="rep")
            for i in range(MAX_USERS - users)
        ]
    )
    with pytest.raises(account_service.Conflict):
        await account_service.create_user(acme.name, "Late", "late@acme.example.com", "rep")
    assert await User.filter(account_id=account.id).count() == MAX_USERS
