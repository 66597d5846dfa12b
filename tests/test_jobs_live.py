"""Job progress, live: each committed batch, a cancel and the end are published on the job's
channel, and the `job(id:)` subscription follows a BulkJob (or a BackgroundJob) to its end."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from crm import jobs
from crm.models import Account
from dossier import Settings, create_app
from graph.ids import global_id_text
from plugins.manager import builtin_names
from tests.conftest import Tenant, make_tenant
from tests.test_subscriptions import PROTOCOL, connect, graphql, operation_errors, tenant

BULK = "mutation($i: BulkActionInput!) { bulkAction(input: $i) { id status } }"
CANCEL = "mutation($i: CancelJobInput!) { cancelJob(input: $i) { status } }"
FOLLOW = "subscription($id: ID!) { job(id: $id) { __typename status total done skipped progress } }"
CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    quiet = replace(settings, disabled_plugins=builtin_names(), job_batch_size=2)
    with TestClient(create_app(quiet)) as started:
        yield started


def contacts(client: TestClient, owner: Tenant, count: int) -> list[str]:
    return [
        graphql(client, owner.admin_key, CREATE, {"i": {"firstName": f"Pat{n}"}})["createContact"]["id"]
        for n in range(count)
    ]


def queue_tagging(client: TestClient, owner: Tenant, ids: list[str]) -> str:
    variables = {"i": {"action": "ADD_TAG", "target": {"ids": ids}, "params": {"tag": "Live"}}}
    job = graphql(client, owner.admin_key, BULK, variables)["bulkAction"]
    assert job["status"] == "QUEUED"
    return str(job["id"])


def follow(ws: Any, job_id: str) -> None:
    ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": FOLLOW, "variables": {"id": job_id}}})


def drain(client: TestClient) -> None:
    client.portal.call(client.app.state.dossier.dispatcher.drain)  # type: ignore[attr-defined]


def job_number(job_id: str) -> int:
    from strawberry import relay

    return int(relay.GlobalID.from_id(job_id).node_id)


def test_every_committed_batch_is_published_then_the_end(client: TestClient) -> None:
    acme = tenant(client, "Acme")
    job_id = queue_tagging(client, acme, contacts(client, acme, 5))
    broker = client.app.state.dossier.broker  # type: ignore[attr-defined]
    heard: list[dict[str, Any]] = []

    async def listen_while_draining() -> None:
        account_id = (await Account.get(name="Acme")).id
        ready = asyncio.Event()
        updates = broker.subscribe(jobs.job_channel(account_id, job_number(job_id)), ready)

        async def collect() -> None:
            async for message in updates:
                heard.append(message)
                if message["status"] == "DONE":
                    return

        listening = asyncio.ensure_future(collect())
        await ready.wait()
        await client.app.state.dossier.dispatcher.drain()  # type: ignore[attr-defined]
        await asyncio.wait_for(listening, 10)

    client.portal.call(listen_while_draining)
    # Batches of two: 2, 4, then the last one (and DONE) in the same commit.
    assert [(m["status"], m["done"], m["total"]) for m in heard] == [
        ("RUNNING", 2, 5),
        ("RUNNING", 4, 5),
        ("DONE", 5, 5),
    ]
    assert heard[-1]["kind"] == "bulk.ADD_TAG" and heard[-1]["finished_at"]


def test_the_subscription_follows_a_job_to_its_end(client: TestClient) -> None:
    acme = tenant(client, "Acme")
    job_id = queue_tagging(client, acme, contacts(client, acme, 5))
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        assert connect(ws, acme.admin_key) == {"type": "connection_ack"}
        ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": FOLLOW, "variables": {"id": job_id}}}
        )
        # The job as it is now comes first: nothing has run yet.
        first = ws.receive_json()
        assert first["type"] == "next"
        assert first["payload"]["data"]["job"] == {
            "__typename": "BulkJob", "status": "QUEUED", "total": 5, "done": 0, "skipped": 0, "progress": 0.0,
        }  # fmt: skip
        drain(client)
        seen = []
        while True:
            message = ws.receive_json()
            if message["type"] == "complete":
                break
            seen.append(message["payload"]["data"]["job"])
        # Progress only moves forward and the subscription ends with the job.
        assert [s["done"] for s in seen] == sorted(s["done"] for s in seen)
        assert seen[-1] == {
            "__typename": "BulkJob", "status": "DONE", "total": 5, "done": 5, "skipped": 0, "progress": 1.0,
        }  # fmt: skip


def test_a_cancel_reaches_the_subscription(client: TestClient) -> None:
    acme = tenant(client, "Acme")
    job_id = queue_tagging(client, acme, contacts(client, acme, 5))
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        assert connect(ws, acme.admin_key) == {"type": "connection_ack"}
        ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": FOLLOW, "variables": {"id": job_id}}}
        )
        assert ws.receive_json()["payload"]["data"]["job"]["status"] == "QUEUED"
        graphql(client, acme.admin_key, CANCEL, {"i": {"id": job_id}})
        assert ws.receive_json()["payload"]["data"]["job"]["status"] == "CANCELLED"
        assert ws.receive_json()["type"] == "complete"


def test_another_accounts_job_cannot_be_followed(client: TestClient) -> None:
    acme = tenant(client, "Acme")
    globex = client.portal.call(make_tenant, "Globex")
    theirs = queue_tagging(client, globex, contacts(client, globex, 1))
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        assert connect(ws, acme.admin_key)["type"] == "connection_ack"
        for n, job_id in enumerate((theirs, global_id_text("BackgroundJob", job_number(theirs)))):
            follow(ws, job_id)
            [error] = operation_errors(ws)
            assert error["extensions"]["code"] == "NOT_FOUND", n
            assert ws.receive_json() == {"id": "1", "type": "complete"}
