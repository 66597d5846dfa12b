"""Live updates: a small publish/subscribe broker, in-process or shared through Redis.

The unit of work publishes every committed journey entry; GraphQL subscriptions listen.
With one server process the in-process broker is enough; several processes behind a load
balancer share Redis pub/sub so a change made through one reaches listeners on all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

import orjson

log = logging.getLogger("dossier.live")

QUEUE_SIZE = 1000  # a listener that falls this far behind loses the oldest messages


class Broker(Protocol):
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, channel: str, ready: asyncio.Event | None = None) -> AsyncIterator[dict[str, Any]]:
        """Messages published on `channel` from now on; `ready` is set once nothing published
        from then on can be missed (the subscription is in place)."""
        ...

    async def listeners(self, channel: str) -> int: ...

    async def close(self) -> None: ...


def _offer(queue: asyncio.Queue[dict[str, Any]], message: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)


class InProcessBroker:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        for queue in list(self._queues.get(channel, ())):
            _offer(queue, message)

    async def subscribe(
        self, channel: str, ready: asyncio.Event | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues[channel].add(queue)
        if ready is not None:
            ready.set()
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues[channel].discard(queue)
            if not self._queues[channel]:
                del self._queues[channel]

    async def listeners(self, channel: str) -> int:
        """How many subscriptions are listening on `channel` in this process."""
        return len(self._queues.get(channel, ()))

    async def close(self) -> None:
        self._queues.clear()


class RedisBroker:
    """Redis pub/sub: one connection per subscription, one shared client for publishing."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self._redis.publish(channel, orjson.dumps(message))

    async def subscribe(
        self, channel: str, ready: asyncio.Event | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(channel)  # sends SUBSCRIBE; Redis confirms it with a message
        try:
            async for item in pubsub.listen():
                kind = item.get("type")
                if kind == "message":
                    yield orjson.loads(item["data"])
                elif kind == "subscribe" and ready is not None:
                    ready.set()  # from here on, nothing published on the channel is missed
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(channel)
            await pubsub.aclose()

    async def listeners(self, channel: str) -> int:
        """How many subscriptions are listening on `channel`, across every process (PUBSUB NUMSUB)."""
        counts = await self._redis.pubsub_numsub(channel)
        return int(counts[0][1]) if counts else 0

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


def make_broker(redis_url: str | None) -> Broker:
    return RedisBroker(redis_url) if redis_url else InProcessBroker()
