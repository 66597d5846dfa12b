"""Live journey updates over graphql-transport-ws, through the real ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from strawberry import relay

from crm.journey import journey_channel
from crm.models import Account, User
from dossier import Settings, create_app
from tests.conftest import Tenant, make_tenant

PROTOCOL = ["graphql-transport-ws"]
JOURNEY = "subscription($id: ID!) { journey(contactId: $id) { kind summary actor { name } } }"
CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
ADD_TAG = "mutation($input: TagInput!) { addTag(input: $input) { id } }"
SET_STATUS = "mutation($input: SetContactStatusInput!) { setContactStatus(input: $input) { status } }"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app, started (lifespan run) in the TestClient's own event loop."""
    with TestClient(create_app(settings)) as started:
        yield started


def tenant(client: TestClient, name: str) -> Tenant:
    return client.portal.call(make_tenant, name)


def graphql(client: TestClient, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def create_contact(client: TestClient, key: str, first_name: str) -> str:
    data = graphql(client, key, CREATE, {"input": {"firstName": first_name}})
    return data["createContact"]["id"]


def wait_for_listener(client: TestClient, account_name: str, contact_id: str) -> None:
    """Block until the subscription is registered with the broker, so no event is missed."""
    broker = client.app.state.dossier.broker  # type: ignore[attr-defined]

    async def listening() -> None:
        account_id = (await Account.get(name=account_name)).id
        channel = journey_channel(account_id, int(relay.GlobalID.from_id(contact_id).node_id))
        async with asyncio.timeout(10):
            while await broker.listeners(channel) == 0:
                await asyncio.sleep(0.01)

    client.portal.call(listening)


def connect(ws: Any, key: str | None) -> dict[str, Any]:
    """Send connection_init with the key (or with no key) and return the server's answer."""
    payload = {"Authorization": f"Bearer {key}"} if key else {}
    ws.send_json({"type": "connection_init", "payload": payload})
    return ws.receive_json()


def subscribe(ws: Any, contact_id: str, op_id: str = "1") -> None:
    ws.send_json(
        {"id": op_id, "type": "subscribe", "payload": {"query": JOURNEY, "variables": {"id": contact_id}}}
    )


def test_a_subscriber_receives_its_contacts_events_in_order(client: TestClient) -> None:
    acme = tenant(client, "Acme")
    watched = create_contact(client, acme.admin_key, "Ada")
    other = create_contact(client, acme.admin_key, "Grace")

    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        assert connect(ws, acme.admin_key) == {"type": "connection_ack"}
        subscribe(ws, watched)
        wait_for_listener(client, "Acme", watched)

        # The other card changes first: if its event leaked, it would be the first message.
        graphql(client, acme.admin_key, ADD_TAG, {"input": {"contactId": other, "name": "Cold"}})
        graphql(client, acme.admin_key, ADD_TAG, {"input": {"contactId": watched, "name": "VIP"}})
        graphql(
            client, acme.manager_key, SET_STATUS, {"input": {"contactId": watched, "status": "qualified"}}
        )

        first = ws.receive_json()
        assert first["type"] == "next" and first["id"] == "1"
        assert first["payload"] == {
            "data": {
                "journey": {
                    "kind": "TAG_ADDED",
                    "summary": "Acme Admin tagged the contact VIP",
                    "actor": {"name": "Acme Admin"},
                }
            }
        }
        second = ws.receive_json()
        assert second["type"] == "next"
        assert second["payload"]["data"]["journey"] == {
            "kind": "STATUS_CHANGED",
            "summary": "Acme Manager set the status to qualified",
            "actor": {"name": "Acme Manager"},
        }

        ws.send_json({"id": "1", "type": "complete"})
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # nothing else was queued for us


def test_a_long_lived_subscription_sees_a_renamed_user(client: TestClient) -> None:
    acme = tenant(client, "Acme")
    watched = create_contact(client, acme.admin_key, "Ada")
    query = "subscription($id: ID!) { journey(contactId: $id) { summary actor { name user { name } } } }"

    async def rename(name: str) -> None:
        await User.filter(id=acme.user_ids["admin"]).update(name=name)

    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        assert connect(ws, acme.admin_key) == {"type": "connection_ack"}
        ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"id": watched}}}
        )
        wait_for_listener(client, "Acme", watched)

        graphql(client, acme.admin_key, ADD_TAG, {"input": {"contactId": watched, "name": "VIP"}})
        first = ws.receive_json()["payload"]["data"]["journey"]
        assert first["actor"] == {"name": "Acme Admin", "user": {"name": "Acme Admin"}}

        client.portal.call(rename, "Acme Boss")
        graphql(client, acme.admin_key, ADD_TAG, {"input": {"contactId": watched, "name": "Hot"}})
        second = ws.receive_json()["payload"]["data"]["journey"]
        # The entry keeps the name it was made under; the user is today's.
        assert second["actor"]["user"] == {"name": "Acme Boss"}


@pytest.mark.parametrize("key", ["dsk_not_a_real_key", None], ids=["bad-key", "no-key"])
def test_connection_init_without_a_valid_key_is_rejected(client: TestClient, key: str | None) -> None:
    tenant(client, "Acme")
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"} if key else {}}
        )
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4403


def test_subscribing_before_connection_init_is_refused(client: TestClient) -> None:
    acme = tenant(client, "Acme")
    contact = create_contact(client, acme.admin_key, "Ada")
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        subscribe(ws, contact)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401


def operation_errors(ws: Any) -> list[dict[str, Any]]:
    message = ws.receive_json()
    assert message["id"] == "1"
    if message["type"] == "error":
        return message["payload"]
    assert message["type"] == "next", message
    assert message["payload"].get("data") is None
    return message["payload"]["errors"]


def test_another_accounts_contact_is_not_found(client: TestClient) -> None:
    acme, globex = tenant(client, "Acme"), tenant(client, "Globex")
    theirs = create_contact(client, globex.admin_key, "Hank")
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        assert connect(ws, acme.admin_key)["type"] == "connection_ack"
        subscribe(ws, theirs)
        errors = operation_errors(ws)
    assert len(errors) == 1
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert "Hank" not in errors[0]["message"]


@pytest.mark.parametrize(
    ("contact_id", "expected"),
    [("not-an-id", "not a valid Contact id"), (str(relay.GlobalID("User", "1")), "not a Contact id")],
    ids=["garbage", "wrong-type"],
)
def test_a_malformed_contact_id_is_bad_input(client: TestClient, contact_id: str, expected: str) -> None:
    acme = tenant(client, "Acme")
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        assert connect(ws, acme.admin_key)["type"] == "connection_ack"
        subscribe(ws, contact_id)
        errors = operation_errors(ws)
    assert len(errors) == 1
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert expected in errors[0]["message"]
