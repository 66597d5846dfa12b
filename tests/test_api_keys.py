"""API keys: listing, creating and revoking them (API and CLI), lastUsedAt, their hooks, and
revocation that reaches open WebSockets (closed with 4403) in one process and across
processes through Redis; `serve --demo` reusing its key."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from strawberry import relay

from crm.clock import utcnow
from crm.events import AccountEvent
from crm.journey import journey_channel
from crm.models import ApiKey, Contact, JourneyEvent, OutboxRow, User
from crm.services import accounts
from dossier import Settings, create_app
from dossier.cli import main
from graph.live_auth import REVOKED, ROLE_CHANGED, LiveAuth
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.fakes.smtp import free_port

KEY_FIELDS = "id name prefix user { id name } createdAt lastUsedAt revokedAt"
KEYS = f"query($all: Boolean! = true) {{ apiKeys(includeRevoked: $all) {{ {KEY_FIELDS} }} }}"
CREATE_KEY = (
    "mutation($input: CreateApiKeyInput!) {"
    f" createApiKey(input: $input) {{ key apiKey {{ {KEY_FIELDS} }} }} }}"
)
REVOKE_KEY = f"mutation($input: RevokeApiKeyInput!) {{ revokeApiKey(input: $input) {{ {KEY_FIELDS} }} }}"
NODE = "query($id: ID!) { node(id: $id) { id ... on ApiKey { name prefix } } }"
VIEWER = "{ viewer { user { name role } } }"
CREATE_CONTACT = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
ADD_TAG = "mutation($input: TagInput!) { addTag(input: $input) { id } }"
JOURNEY = "subscription($id: ID!) { journey(contactId: $id) { kind summary } }"
PROTOCOL = ["graphql-transport-ws"]
ROOT = Path(__file__).resolve().parent.parent


def gid(type_name: str, node_id: int) -> str:
    return str(relay.GlobalID(type_name, str(node_id)))


def db_id(global_id: str) -> int:
    return int(relay.GlobalID.from_id(global_id).node_id)


async def key_rows() -> list[tuple[int, Any]]:
    return sorted(await ApiKey.all().values_list("id", "revoked_at"))  # type: ignore[arg-type]


async def create_key(api: Api, admin_key: str, user_id: int, name: str) -> dict[str, Any]:
    data = await api.data(
        CREATE_KEY, {"input": {"userId": gid("User", user_id), "name": name}}, key=admin_key
    )
    return data["createApiKey"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------


async def test_an_admin_lists_creates_and_revokes_keys(api: Api, acme: Tenant) -> None:
    listed = (await api.data(KEYS, key=acme.admin_key))["apiKeys"]
    assert [(k["name"], k["user"]["name"], k["revokedAt"]) for k in listed] == [  # newest first
        ("created with the user", "Acme Rep", None),
        ("created with the user", "Acme Manager", None),
        ("created with the account", "Acme Admin", None),
    ]
    assert [k["prefix"] for k in listed] == [acme.rep_key[:12], acme.manager_key[:12], acme.admin_key[:12]]

    created = await create_key(api, acme.admin_key, acme.user_ids["rep"], "  Zapier  ")
    key, api_key = created["key"], created["apiKey"]
    assert key.startswith("dsk_") and api_key["prefix"] == key[:12]
    assert api_key["name"] == "Zapier" and api_key["user"]["name"] == "Acme Rep"
    assert api_key["lastUsedAt"] is None and api_key["revokedAt"] is None
    assert (await api.data(VIEWER, key=key))["viewer"]["user"] == {"name": "Acme Rep", "role": "REP"}

    # Shown once: nothing readable afterwards holds the key or its hash.
    everything = json.dumps(await api.post(KEYS, key=acme.admin_key))
    node = await api.data(NODE, {"id": api_key["id"]}, key=acme.admin_key)
    assert node["node"] == {"id": api_key["id"], "name": "Zapier", "prefix": key[:12]}
    for secret in (key, accounts.hash_key(key), key[12:]):
        assert secret not in everything and secret not in json.dumps(node)

    revoked = (await api.data(REVOKE_KEY, {"input": {"id": api_key["id"]}}, key=acme.admin_key))[
        "revokeApiKey"
    ]
    assert revoked["id"] == api_key["id"] and revoked["revokedAt"] is not None
    refused = await api.client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {key}"}
    )
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # Revoking twice changes nothing and answers the same.
    again = (await api.data(REVOKE_KEY, {"input": {"id": api_key["id"]}}, key=acme.admin_key))["revokeApiKey"]
    assert again["revokedAt"] == revoked["revokedAt"]

    working = (await api.data(KEYS, {"all": False}, key=acme.admin_key))["apiKeys"]
    assert api_key["id"] not in [k["id"] for k in working] and len(working) == 3
    assert len((await api.data(KEYS, key=acme.admin_key))["apiKeys"]) == 4


@pytest.mark.parametrize("role", ["manager", "rep"])
async def test_only_admins_see_and_manage_keys(api: Api, acme: Tenant, role: str) -> None:
    caller = getattr(acme, f"{role}_key")
    before = await key_rows()
    admin_key_id = before[0][0]
    attempts = [
        (KEYS, {}),
        (NODE, {"id": gid("ApiKey", admin_key_id)}),
        (CREATE_KEY, {"input": {"userId": gid("User", acme.user_ids[role]), "name": "mine"}}),
        (REVOKE_KEY, {"input": {"id": gid("ApiKey", admin_key_id)}}),
    ]
    for query, variables in attempts:
        error = await api.error(query, variables, key=caller)
        assert error["extensions"]["code"] == "FORBIDDEN", (query, error)
    assert await key_rows() == before
    assert (await api.data(VIEWER, key=acme.admin_key))["viewer"]["user"]["role"] == "ADMIN"


async def test_another_accounts_users_and_keys_are_not_found(api: Api, acme: Tenant, globex: Tenant) -> None:
    before = await key_rows()
    globex_key_id = (await ApiKey.filter(user_id=globex.user_ids["rep"]).values_list("id", flat=True))[0]
    unknown_user = max(globex.user_ids.values()) + 100
    for user_id in (globex.user_ids["rep"], unknown_user):  # theirs answers exactly like none at all
        error = await api.error(
            CREATE_KEY, {"input": {"userId": gid("User", user_id), "name": "sneaky"}}, key=acme.admin_key
        )
        assert error["extensions"]["code"] == "NOT_FOUND"
        assert error["message"] == f"no user with id {user_id} in this account"
    for query, variables in (
        (REVOKE_KEY, {"input": {"id": gid("ApiKey", globex_key_id)}}),
        (NODE, {"id": gid("ApiKey", globex_key_id)}),
    ):
        error = await api.error(query, variables, key=acme.admin_key)
        assert error["extensions"]["code"] == "NOT_FOUND", error
    assert await key_rows() == before
    assert (await api.data(VIEWER, key=globex.rep_key))["viewer"]["user"]["name"] == "Globex Rep"


async def test_a_key_needs_a_name_and_a_user_id(api: Api, acme: Tenant) -> None:
    before = await key_rows()
    user = gid("User", acme.user_ids["rep"])
    for name in ("", "   ", "x" * 121, "a\x00b"):
        error = await api.error(CREATE_KEY, {"input": {"userId": user, "name": name}}, key=acme.admin_key)
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == "name", (
            name
        )
    contact_id = gid("Contact", 1)
    error = await api.error(CREATE_KEY, {"input": {"userId": contact_id, "name": "x"}}, key=acme.admin_key)
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == "userId"
    error = await api.error(REVOKE_KEY, {"input": {"id": user}}, key=acme.admin_key)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await key_rows() == before


async def test_the_last_working_admin_key_cannot_be_revoked_through_the_api(api: Api, acme: Tenant) -> None:
    own = (await api.data(KEYS, key=acme.admin_key))["apiKeys"][-1]  # the oldest: the admin's
    error = await api.error(REVOKE_KEY, {"input": {"id": own["id"]}}, key=acme.admin_key)
    assert error["extensions"]["code"] == "CONFLICT" and "last working admin key" in error["message"]
    assert (await api.data(VIEWER, key=acme.admin_key))["viewer"]["user"]["role"] == "ADMIN"

    spare = await create_key(api, acme.admin_key, acme.user_ids["admin"], "spare")
    # With a spare, an admin may revoke the very key the request came with; it stops at once.
    revoked = await api.data(REVOKE_KEY, {"input": {"id": own["id"]}}, key=acme.admin_key)
    assert revoked["revokeApiKey"]["revokedAt"] is not None
    assert (await api.post(VIEWER, key=acme.admin_key))["errors"][0]["extensions"][
        "code"
    ] == "UNAUTHENTICATED"
    assert (await api.data(VIEWER, key=spare["key"]))["viewer"]["user"]["role"] == "ADMIN"


async def last_used(api: Api, admin_key: str, key_id: str) -> str | None:
    rows = (await api.data(KEYS, key=admin_key))["apiKeys"]
    return next(k["lastUsedAt"] for k in rows if k["id"] == key_id)  # type: ignore[no-any-return]


async def test_last_used_at_is_stamped_at_most_once_a_minute_without_an_extra_statement(
    api: Api, acme: Tenant, monkeypatch: pytest.MonkeyPatch, count_statements: Any
) -> None:
    created = await create_key(api, acme.admin_key, acme.user_ids["manager"], "reporting")
    key, key_id = created["key"], created["apiKey"]["id"]
    assert await last_used(api, acme.admin_key, key_id) is None

    with count_statements() as stamping:
        await api.data(VIEWER, key=key)
    first = await last_used(api, acme.admin_key, key_id)
    assert first is not None

    with count_statements() as throttled:
        await api.data(VIEWER, key=key)
    assert await last_used(api, acme.admin_key, key_id) == first  # within the minute: not written
    # Stamping is the authenticating statement itself (an UPDATE ... RETURNING), not one more.
    assert stamping.count == throttled.count, (stamping.statements, throttled.statements)

    # A minute later (the throttle's clock moved rather than the test waiting):
    monkeypatch.setattr(accounts, "_clock", lambda: time.monotonic() + accounts.LAST_USED_EVERY + 1)
    await api.data(VIEWER, key=key)
    later = await last_used(api, acme.admin_key, key_id)
    assert later is not None and datetime.fromisoformat(later) > datetime.fromisoformat(first)


class KeyAuditor:
    name = "key-auditor"

    def __init__(self) -> None:
        self.events: list[tuple[str, AccountEvent]] = []

    @hookimpl
    def api_key_created(self, event: AccountEvent) -> None:
        self.events.append(("api_key_created", event))

    @hookimpl
    async def api_key_revoked(self, event: AccountEvent) -> None:
        self.events.append(("api_key_revoked", event))


async def test_key_hooks_are_delivered_through_the_outbox_and_stay_out_of_journeys(
    running_app: AppFactory,
) -> None:
    auditor = KeyAuditor()
    async with running_app(plugins=(auditor,), disabled_plugins=builtin_names()) as api:
        acme = await make_tenant("Acme")
        created = await create_key(api, acme.admin_key, acme.user_ids["rep"], "Zapier")
        key_id = db_id(created["apiKey"]["id"])
        await api.data(REVOKE_KEY, {"input": {"id": created["apiKey"]["id"]}}, key=acme.admin_key)
        await api.data(REVOKE_KEY, {"input": {"id": created["apiKey"]["id"]}}, key=acme.admin_key)
        assert auditor.events == []  # after commit, through the dispatcher
        rows = await OutboxRow.all().order_by("id").values("hook", "plugin", "contact_id")
        assert rows == [
            {"hook": "api_key_created", "plugin": "key-auditor", "contact_id": None},
            {"hook": "api_key_revoked", "plugin": "key-auditor", "contact_id": None},
        ]
        assert await api.runtime.dispatcher.drain() == 2
        assert [hook for hook, _ in auditor.events] == ["api_key_created", "api_key_revoked"]
        for _, event in auditor.events:
            assert isinstance(event, AccountEvent)
            assert (event.subject_type, event.subject_id) == ("ApiKey", key_id)
            assert event.subject["prefix"] == created["key"][:12]
            assert event.subject["userId"] == acme.user_ids["rep"] and event.actor.name == "Acme Admin"
            assert created["key"] not in json.dumps(event.subject)
        assert auditor.events[1][1].subject["revokedAt"] is not None
        assert await JourneyEvent.all().count() == 0
        assert await OutboxRow.filter(status="DELIVERED").count() == 2


# --------------------------------------------------------------------------------------
# Open WebSockets
# --------------------------------------------------------------------------------------


def live_auth_of(client: TestClient) -> LiveAuth:
    route = next(r for r in client.app.routes if isinstance(r, WebSocketRoute))  # type: ignore[attr-defined]
    return route.app.live_auth  # type: ignore[attr-defined, no-any-return]


def wait_until_closed(client: TestClient, expected_open: int) -> None:
    """Block (at most 2 s) until the server has closed sockets down to `expected_open`."""
    live_auth = live_auth_of(client)

    async def closed() -> None:
        async with asyncio.timeout(2):
            while live_auth.open_sockets > expected_open:
                await asyncio.sleep(0.01)

    client.portal.call(closed)


def graphql(client: TestClient, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def open_socket(client: TestClient, ws: Any, key: str, contact_id: str) -> None:
    """Authenticate, subscribe to the card's journey, and make sure the subscription runs: it
    listens on the broker before this returns, so no event published afterwards is missed."""
    broker = client.app.state.dossier.broker  # type: ignore[attr-defined]
    number = int(relay.GlobalID.from_id(contact_id).node_id)

    async def listeners() -> int:
        account_id = (await Contact.get(id=number)).account_id
        return await broker.listeners(journey_channel(account_id, number))

    before = client.portal.call(listeners)
    ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
    assert ws.receive_json() == {"type": "connection_ack"}
    ws.send_json(
        {"id": "1", "type": "subscribe", "payload": {"query": JOURNEY, "variables": {"id": contact_id}}}
    )

    async def subscribed() -> None:
        async with asyncio.timeout(10):
            while await listeners() <= before:
                await asyncio.sleep(0.01)

    client.portal.call(subscribed)


def assert_closed(ws: Any, reason: str) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert (closed.value.code, closed.value.reason) == (4403, reason)


@pytest.fixture
def slow_recheck(settings: Settings) -> Settings:
    """Only the broker can close sockets within these tests: the re-check waits an hour."""
    return replace(settings, auth_recheck_seconds=3600.0)


def test_revoking_a_key_closes_its_socket_at_once_and_stops_its_operations(slow_recheck: Settings) -> None:
    with TestClient(create_app(slow_recheck)) as client:
        acme: Tenant = client.portal.call(make_tenant, "Acme")
        contact = graphql(client, acme.admin_key, CREATE_CONTACT, {"input": {"firstName": "Ada"}})
        contact_id = contact["createContact"]["id"]
        created = graphql(
            client,
            acme.admin_key,
            CREATE_KEY,
            {"input": {"userId": gid("User", acme.user_ids["rep"]), "name": "ws"}},
        )["createApiKey"]

        with (
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as doomed,
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as kept,
        ):
            open_socket(client, doomed, created["key"], contact_id)
            open_socket(client, kept, acme.manager_key, contact_id)
            graphql(client, acme.admin_key, ADD_TAG, {"input": {"contactId": contact_id, "name": "VIP"}})
            assert doomed.receive_json()["payload"]["data"]["journey"]["kind"] == "TAG_ADDED"
            assert kept.receive_json()["payload"]["data"]["journey"]["kind"] == "TAG_ADDED"

            graphql(client, acme.admin_key, REVOKE_KEY, {"input": {"id": created["apiKey"]["id"]}})
            wait_until_closed(client, expected_open=1)
            assert_closed(doomed, "this API key was revoked")

            # What the revoked socket still sends is not run; the other socket carries on.
            eve = {"query": CREATE_CONTACT, "variables": {"input": {"firstName": "Eve"}}}
            doomed.send_json({"id": "2", "type": "subscribe", "payload": eve})
            graphql(client, acme.admin_key, ADD_TAG, {"input": {"contactId": contact_id, "name": "Gold"}})
            assert kept.receive_json()["payload"]["data"]["journey"]["kind"] == "TAG_ADDED"
            kept.send_json({"type": "ping"})
            assert kept.receive_json() == {"type": "pong"}
        assert client.portal.call(Contact.filter(first_name="Eve").count) == 0


def test_a_role_or_user_changed_in_the_database_closes_the_socket_at_the_recheck(settings: Settings) -> None:
    with TestClient(create_app(replace(settings, auth_recheck_seconds=0.05))) as client:
        acme: Tenant = client.portal.call(make_tenant, "Acme")
        contact_id = graphql(client, acme.admin_key, CREATE_CONTACT, {"input": {"firstName": "Ada"}})[
            "createContact"
        ]["id"]
        with (
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as manager,
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as rep,
            client.websocket_connect("/graphql", subprotocols=PROTOCOL) as admin,
        ):
            for ws, key in ((manager, acme.manager_key), (rep, acme.rep_key), (admin, acme.admin_key)):
                open_socket(client, ws, key, contact_id)

            async def demote_and_delete() -> None:  # another tool, straight in the database
                await User.filter(id=acme.user_ids["manager"]).update(role="rep")
                await User.filter(id=acme.user_ids["rep"]).delete()

            client.portal.call(demote_and_delete)
            wait_until_closed(client, expected_open=1)
            assert_closed(manager, ROLE_CHANGED)
            assert_closed(rep, REVOKED)
            admin.send_json({"type": "ping"})  # the admin's rights did not change: still open
            assert admin.receive_json() == {"type": "pong"}


def test_a_key_revoked_in_the_database_is_caught_by_the_recheck(settings: Settings) -> None:
    with TestClient(create_app(replace(settings, auth_recheck_seconds=0.05))) as client:
        acme: Tenant = client.portal.call(make_tenant, "Acme")
        contact_id = graphql(client, acme.admin_key, CREATE_CONTACT, {"input": {"firstName": "Ada"}})[
            "createContact"
        ]["id"]
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            open_socket(client, ws, acme.rep_key, contact_id)
            revoke = ApiKey.filter(user_id=acme.user_ids["rep"]).update  # another tool, in SQL
            client.portal.call(lambda: revoke(revoked_at=utcnow()))
            wait_until_closed(client, expected_open=0)
            assert_closed(ws, REVOKED)


# --------------------------------------------------------------------------------------
# Several processes through Redis
# --------------------------------------------------------------------------------------


def cli_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    return {**env, "DOSSIER_DATABASE_URL": database_url, "DOSSIER_REDIS_URL": redis_url}


def test_dossier_key_revoke_in_another_process_closes_the_socket_through_redis(
    slow_recheck: Settings, redis_url: str
) -> None:
    with TestClient(create_app(replace(slow_recheck, redis_url=redis_url))) as client:
        acme: Tenant = client.portal.call(make_tenant, "Acme")
        contact_id = graphql(client, acme.admin_key, CREATE_CONTACT, {"input": {"firstName": "Ada"}})[
            "createContact"
        ]["id"]
        rep_key_id = client.portal.call(accounts.identify, acme.rep_key).key_id
        with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
            open_socket(client, ws, acme.rep_key, contact_id)
            done = subprocess.run(
                [sys.executable, "-m", "dossier.cli", "key", "revoke", gid("ApiKey", rep_key_id)],
                env=cli_env(slow_recheck.database_url, redis_url), capture_output=True, text=True,
                timeout=60, cwd=ROOT,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            wait_until_closed(client, expected_open=0)
            assert_closed(ws, "this API key was revoked")


@pytest.mark.timeout(120)
async def test_revoking_through_one_server_closes_the_socket_on_another(
    running_app: AppFactory, settings: Settings, redis_url: str
) -> None:
    """App A (in this process) and a real `dossier serve` B share the database and Redis; the
    socket is on B, the revocation goes through A's API. B re-checks only hourly."""
    async with running_app(redis_url=redis_url) as a:
        acme = await make_tenant("Acme")
        contact = await a.data(CREATE_CONTACT, {"input": {"firstName": "Ada"}}, key=acme.admin_key)
        contact_id = contact["createContact"]["id"]
        created = await create_key(a, acme.admin_key, acme.user_ids["rep"], "phone")
        port = free_port()
        env = {**cli_env(settings.database_url, redis_url), "DOSSIER_AUTH_RECHECK_SECONDS": "3600"}
        server = subprocess.Popen(
            [sys.executable, "-m", "dossier.cli", "serve", "--port", str(port), "--log-level", "warning"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as b:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if (await b.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline and server.poll() is None, "B did not start"
                    await asyncio.sleep(0.1)  # bounded start-up poll
            async with websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=PROTOCOL) as ws:  # type: ignore[list-item]
                auth = {"Authorization": f"Bearer {created['key']}"}
                await ws.send(json.dumps({"type": "connection_init", "payload": auth}))
                assert json.loads(await ws.recv()) == {"type": "connection_ack"}
                subscribe = {"query": JOURNEY, "variables": {"id": contact_id}}
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))

                await a.data(REVOKE_KEY, {"input": {"id": created["apiKey"]["id"]}}, key=acme.admin_key)
                async with asyncio.timeout(2):
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        while True:
                            await ws.recv()
                assert closed.value.rcvd is not None
                assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                    4403,
                    "this API key was revoked",
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


# --------------------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------------------


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite://{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DOSSIER_DATABASE_URL", url)
    monkeypatch.delenv("DOSSIER_REDIS_URL", raising=False)
    return url


def test_dossier_key_list_create_and_revoke(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["account", "create", "Acme", "--email", "boss@acme.example.com"]) == 0
    admin_key = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["user", "create", "--account", "Acme", "--name", "Rita", "--email", "rita@acme.example.com",
                 "--role", "rep"]) == 0  # fmt: skip
    capsys.readouterr()

    assert (
        main(["key", "create", "--account", "Acme", "--email", "rita@acme.example.com", "--name", "Zapier"])
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    key = out[-1]
    assert key.startswith("dsk_") and "Zapier" in out[0] and "Rita" in out[0]

    assert main(["key", "list", "--account", "Acme"]) == 0
    listing = capsys.readouterr().out.strip().splitlines()
    assert listing[0].split()[:4] == ["ID", "GLOBAL", "ID", "PREFIX"]
    assert len(listing) == 4  # the admin's, Rita's, and the new one
    zapier = next(line for line in listing if "Zapier" in line)
    assert zapier.split()[0] == "3" and gid("ApiKey", 3) in zapier and key[:12] in zapier
    assert "Rita <rita@acme.example.com> (rep)" in zapier and key not in "\n".join(listing)
    assert zapier.split()[-1] == "-"  # not revoked

    assert main(["key", "revoke", gid("ApiKey", 3)]) == 0
    assert "revoked API key 3" in capsys.readouterr().out
    assert main(["key", "revoke", "3"]) == 0  # again, by number: nothing changes
    assert "already revoked" in capsys.readouterr().out
    assert main(["key", "list", "--account", "Acme"]) == 0
    zapier = next(line for line in capsys.readouterr().out.splitlines() if "Zapier" in line)
    assert zapier.endswith("UTC")  # the revocation time

    # The operator may revoke the last admin key (the API may not): `key create` makes another.
    assert main(["key", "revoke", "1"]) == 0
    capsys.readouterr()
    for argv, code in (
        (["key", "revoke", "99"], "NOT_FOUND"),
        (["key", "revoke", "Q29udGFjdDox"], "BAD_USER_INPUT"),  # a Contact id
        (["key", "create", "--account", "Acme", "--email", "nobody@acme.example.com"], "NOT_FOUND"),
        (["key", "create", "--account", "Nope", "--email", "rita@acme.example.com"], "NOT_FOUND"),
        (
            ["key", "create", "--account", "Acme", "--email", "rita@acme.example.com", "--name", " "],
            "BAD_USER_INPUT",
        ),
        (["key", "list", "--account", "Nope"], "NOT_FOUND"),
    ):
        assert main(argv) == 2, argv
        assert code in capsys.readouterr().err, argv

    async def states() -> tuple[Any, Any]:
        from crm.db import close_database, open_database

        await open_database(database)
        try:
            return await accounts.authenticate(admin_key), await accounts.authenticate(key)
        finally:
            await close_database()

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, states()).result() == (None, None)


# --------------------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------------------


async def test_a_restarted_demo_shows_the_same_key_and_adds_none(api: Api, tmp_path: Path) -> None:
    from dossier.demo import ensure_demo

    key_file = tmp_path / "dossier.db.demo-key"
    first = await ensure_demo(contacts=5, rich=1, key_file=key_file)
    count = await ApiKey.all().count()
    again = await ensure_demo(contacts=5, rich=1, key_file=key_file)
    third = await ensure_demo(contacts=5, rich=1, key_file=key_file)
    assert first.api_key == again.api_key == third.api_key
    assert await ApiKey.all().count() == count
    assert key_file.read_text().strip() == first.api_key and key_file.stat().st_mode & 0o077 == 0
    assert (await api.data(VIEWER, key=first.api_key))["viewer"]["user"]["role"] == "ADMIN"

    # The demo shows keys as an account has them: in use, never used, and revoked.
    listed = (await api.data(KEYS, key=first.api_key))["apiKeys"]
    names = [k["name"] for k in listed]
    assert {"demo", "Zapier integration", "old laptop"} <= set(names)
    assert any(k["revokedAt"] for k in listed) and any(k["lastUsedAt"] for k in listed)

    # A revoked demo key is replaced (and the file follows).
    demo_key = await ApiKey.get(key_hash=accounts.hash_key(first.api_key))
    await accounts.revoke_api_keys(demo_key.user_id)  # type: ignore[attr-defined]
    replaced = await ensure_demo(contacts=5, rich=1, key_file=key_file)
    assert replaced.api_key != first.api_key and key_file.read_text().strip() == replaced.api_key
    assert (await api.data(VIEWER, key=replaced.api_key))["viewer"]["user"]["role"] == "ADMIN"


def test_serve_demo_keeps_its_key_beside_the_sqlite_file(tmp_path: Path) -> None:
    from dossier.demo import demo_key_file

    assert demo_key_file(f"sqlite://{tmp_path / 'dossier.db'}") == Path(f"{tmp_path / 'dossier.db'}.demo-key")
    assert demo_key_file("sqlite://:memory:") is None
    assert demo_key_file("postgres://u@127.0.0.1:5432/crm") == Path(".dossier-demo-key")
