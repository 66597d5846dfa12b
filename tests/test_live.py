"""Live-update brokers: in-process fan-out, and Redis shared between processes.

Redis is the local server (redis://127.0.0.1:6379); without it the Redis tests are skipped,
except under CI=true, where a missing Redis fails the run. DOSSIER_TEST_REDIS_URL points elsewhere.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from strawberry import relay

from crm.journey import journey_channel
from crm.live import Broker, InProcessBroker, RedisBroker
from crm.models import Account
from tests.conftest import AppFactory, make_tenant


def unique_channel(label: str) -> str:
    return f"dossier:test:{label}:{uuid.uuid4().hex}"


@asynccontextmanager
async def listening(broker: Broker, channel: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """Subscribe in a background task; yields once the broker counts the listener."""
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    before = await broker.listeners(channel)

    async def pump() -> None:
        async for message in broker.subscribe(channel):
            received.put_nowait(message)

    task = asyncio.create_task(pump())
    try:
        async with asyncio.timeout(10):
            while await broker.listeners(channel) <= before:
                await asyncio.sleep(0.01)
        yield received
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def next_message(queue: asyncio.Queue[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(queue.get(), 10)


# --------------------------------------------------------------------------------------
# In-process
# --------------------------------------------------------------------------------------


async def test_in_process_broker_fans_out_to_its_channel_only() -> None:
    broker = InProcessBroker()
    try:
        async with (
            listening(broker, "cards:1") as first,
            listening(broker, "cards:1") as second,
            listening(broker, "cards:2") as elsewhere,
        ):
            assert await broker.listeners("cards:1") == 2
            await broker.publish("cards:1", {"n": 1})
            await broker.publish("cards:2", {"n": 2})
            await broker.publish("cards:3", {"n": 3})  # nobody listens: dropped, no error

            assert await next_message(first) == {"n": 1}
            assert await next_message(second) == {"n": 1}
            assert await next_message(elsewhere) == {"n": 2}  # not {"n": 1}, published earlier
            assert first.empty() and second.empty() and elsewhere.empty()
        assert await broker.listeners("cards:1") == 0  # unsubscribed when the listener stopped
    finally:
        await broker.close()


# --------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------


async def test_redis_carries_a_message_from_one_process_to_another(redis_url: str) -> None:
    publisher, subscriber = RedisBroker(redis_url), RedisBroker(redis_url)  # two API processes
    channel, other_channel = unique_channel("a"), unique_channel("b")
    try:
        async with (
            listening(subscriber, channel) as received,
            listening(subscriber, other_channel) as other,
        ):
            await publisher.publish(channel, {"kind": "TAG_ADDED", "summary": "tagged VIP", "n": 1})
            await publisher.publish(other_channel, {"n": 2})
            await publisher.publish(channel, {"n": 3})

            assert await next_message(received) == {"kind": "TAG_ADDED", "summary": "tagged VIP", "n": 1}
            assert await next_message(received) == {"n": 3}  # in order, the other channel's skipped
            assert await next_message(other) == {"n": 2}
    finally:
        await publisher.close()
        await subscriber.close()


async def test_an_app_on_redis_publishes_journey_entries(running_app: AppFactory, redis_url: str) -> None:
    elsewhere = RedisBroker(redis_url)  # a subscriber in another process
    tag = f"vip-{uuid.uuid4().hex[:8]}"  # channels repeat across test runs; the tag does not
    try:
        async with running_app(redis_url=redis_url) as app:
            assert isinstance(app.runtime.broker, RedisBroker)
            acme = await make_tenant("Acme")
            api = app.as_(acme.admin_key)
            data = await api.data(
                'mutation { createContact(input: {firstName: "Ada"}) { id } }',
            )
            contact_id = int(relay.GlobalID.from_id(data["createContact"]["id"]).node_id)
            account_id = (await Account.get(name="Acme")).id
            channel = journey_channel(account_id, contact_id)

            async with listening(elsewhere, channel) as received:
                await api.data(
                    "mutation($input: TagInput!) { addTag(input: $input) { id } }",
                    {"input": {"contactId": data["createContact"]["id"], "name": tag}},
                )
                async with asyncio.timeout(10):
                    while True:  # skip entries another run may publish on the same channel
                        message = await received.get()
                        if tag in message["summary"]:
                            break
            assert message["kind"] == "TAG_ADDED"
            assert message["contact_id"] == contact_id
            assert message["actor_kind"] == "USER"
            assert message["actor_name"] == "Acme Admin"
            assert message["summary"] == f"Acme Admin tagged the contact {tag}"
            assert message["changes"] == {"tags": [None, tag]}
    finally:
        await elsewhere.close()
