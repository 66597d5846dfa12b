"""Open WebSockets lose their rights as soon as their API key does.

A graphql-transport-ws connection is authenticated once, at `connection_init`; after that
it may run subscriptions for hours and send new queries and mutations. So every admitted
socket is registered here, and is closed with code 4403 (a reason says why) when:

- its key is revoked through the API or the CLI: the service announces it on the live broker
  (`crm.services.accounts.AUTH_CHANNEL`; Redis when several processes serve), and every
  process closes that key's or user's sockets at once;
- a periodic re-check (every `recheck_seconds`, one statement for all open sockets' keys)
  finds the key revoked, its user deleted, or the user's role or account changed by any
  other means (SQL, another tool). A changed role closes the socket rather than carrying
  stale rights: the client reconnects and gets the new ones.

A closed socket runs nothing more: its operations are cancelled and messages that still
arrive on it are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message
from strawberry.types import ExecutionResult

from crm.actor import Actor
from crm.live import Broker
from crm.services import accounts
from crm.services.accounts import AUTH_CHANNEL, KeyIdentity
from graph.http_errors import request_timed_out

log = logging.getLogger("dossier.live_auth")

REVOKED_CODE = 4403  # graphql-transport-ws's "Forbidden"
# Close reasons travel in the close frame, which allows 123 bytes.
REVOKED = "this API key was revoked or its user removed"
ROLE_CHANGED = "your role changed; reconnect to continue with your new rights"
# The scope key under which the handler of a WebSocket finds itself from the view.
SOCKET_SCOPE_KEY = "dossier.socket"
MIN_RECHECK_SECONDS = 0.05
BROKER_WAIT_SECONDS = 2.0  # how long the first socket waits for the revocation channel

Identify = Callable[[str], Awaitable[KeyIdentity | None]]
KeyStates = Callable[[Sequence[int]], Awaitable[dict[int, Actor]]]


@functools.lru_cache(maxsize=256)
def _is_subscription(query: str, operation_name: str | None) -> bool:
    """Whether the operation a socket was sent is a subscription; a document that does not
    parse is not (strawberry answers its syntax error as usual)."""
    try:
        document = parse(query)
    except GraphQLError:
        return False
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None or (definition.name and definition.name.value == operation_name)
        ):
            return definition.operation is OperationType.SUBSCRIPTION
    return False


class GuardedSocket(BaseGraphQLTransportWSHandler[Any, None]):
    """strawberry's graphql-transport-ws handler, closable from outside (see LiveAuth)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ended = False
        self._live_auth: LiveAuth | None = None
        # The view's on_ws_connect finds this handler here to register it before the ack.
        self.context.request.scope.setdefault("state", {})[SOCKET_SCOPE_KEY] = self

    def guarded_by(self, live_auth: LiveAuth) -> None:
        self._live_auth = live_auth

    async def handle_message(self, message: Message) -> None:
        if self.ended:  # closed for lost rights: whatever the client still sends is not run
            return
        await super().handle_message(message)

    async def run_operation(self, operation: Operation[Any, None]) -> None:
        """A query or mutation sent over the socket gets the deadline an HTTP request gets
        (DOSSIER_REQUEST_TIMEOUT); a subscription waits for events as long as it likes."""
        seconds: float | None = getattr(self.view, "request_timeout", None)
        if seconds is None or _is_subscription(operation.query, operation.operation_name):
            await super().run_operation(operation)
            return
        deadline = asyncio.timeout(seconds)
        try:
            async with deadline:
                await super().run_operation(operation)
        except TimeoutError:
            if not deadline.expired():
                raise
            error = request_timed_out(seconds, getattr(self.context, "request_id", "-"))
            with contextlib.suppress(Exception):  # the client may be gone
                await operation.send_next(ExecutionResult(data=None, errors=[error]))
                await operation.send_operation_message({"id": operation.id, "type": "complete"})

    async def end(self, reason: str) -> None:
        """Cancel every operation and close the socket with 4403 and `reason`."""
        if self.ended:
            return
        self.ended = True
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):  # the client may already be gone
            await self.websocket.close(code=REVOKED_CODE, reason=reason)

    async def shutdown(self) -> None:
        if self._live_auth is not None:
            self._live_auth.unregister(self)
        await super().shutdown()


class LiveAuth:
    """The open, authenticated WebSockets of one server process, and what closes them."""

    def __init__(
        self,
        broker: Broker,
        *,
        recheck_seconds: float = 5.0,
        identify: Identify = accounts.identify,
        key_states: KeyStates = accounts.key_states,
    ) -> None:
        self._broker = broker
        # A floor, so a setting of 0 cannot turn the re-check into a busy loop on the database.
        self.recheck_seconds = max(recheck_seconds, MIN_RECHECK_SECONDS)
        self.identify = identify
        self._key_states = key_states
        self._sockets: dict[GuardedSocket, KeyIdentity] = {}
        self._by_key: dict[int, set[GuardedSocket]] = defaultdict(set)
        self._by_user: dict[int, set[GuardedSocket]] = defaultdict(set)
        self._tasks: list[asyncio.Task[None]] = []
        self._start_lock = asyncio.Lock()

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    async def register(self, socket: GuardedSocket, identity: KeyIdentity) -> None:
        """Watch an admitted socket. Returns once revocations announced from now on reach it."""
        await self._start()
        socket.guarded_by(self)
        self._sockets[socket] = identity
        self._by_key[identity.key_id].add(socket)
        if identity.actor.user_id is not None:
            self._by_user[identity.actor.user_id].add(socket)

    def unregister(self, socket: GuardedSocket) -> None:
        identity = self._sockets.pop(socket, None)
        if identity is None:
            return
        for index, key in ((self._by_key, identity.key_id), (self._by_user, identity.actor.user_id)):
            group = index.get(key)  # type: ignore[arg-type]
            if group is not None:
                group.discard(socket)
                if not group:
                    del index[key]  # type: ignore[arg-type]

    async def close_for(
        self, *, key_ids: Sequence[int] = (), user_ids: Sequence[int] = (), reason: str
    ) -> int:
        """Close the sockets of these keys and users now; returns how many were open."""
        doomed: set[GuardedSocket] = set()
        for key_id in key_ids:
            doomed |= self._by_key.get(key_id, set())
        for user_id in user_ids:
            doomed |= self._by_user.get(user_id, set())
        await self._end(doomed, reason)
        return len(doomed)

    async def recheck(self) -> int:
        """Compare every open socket's key with the database; close those that lost their rights."""
        if not self._sockets:
            return 0
        admitted = dict(self._sockets)
        states = await self._key_states(sorted({i.key_id for i in admitted.values()}))
        revoked: set[GuardedSocket] = set()
        changed: set[GuardedSocket] = set()
        for socket, identity in admitted.items():
            now = states.get(identity.key_id)
            if now is None:
                revoked.add(socket)
            elif (now.account_id, now.user_id, now.role) != (
                identity.actor.account_id,
                identity.actor.user_id,
                identity.actor.role,
            ):
                changed.add(socket)
        await self._end(revoked, REVOKED)
        await self._end(changed, ROLE_CHANGED)
        return len(revoked) + len(changed)

    async def _end(self, sockets: set[GuardedSocket], reason: str) -> None:
        for socket in sockets:
            self.unregister(socket)
            try:
                await socket.end(reason)
            except Exception:
                log.exception("could not close a WebSocket whose key lost its rights")

    # -- background tasks: started with the first socket, stopped with the app -------------------

    async def _start(self) -> None:
        if self._tasks:
            return
        async with self._start_lock:
            if self._tasks:
                return
            ready = asyncio.Event()
            self._tasks = [
                asyncio.create_task(self._listen(ready), name="dossier-live-auth-listen"),
                asyncio.create_task(self._recheck_loop(), name="dossier-live-auth-recheck"),
            ]
            try:
                # Subscribed before the first socket is acknowledged: a revocation announced
                # after a client saw connection_ack always reaches it.
                async with asyncio.timeout(BROKER_WAIT_SECONDS):
                    await ready.wait()
            except TimeoutError:
                log.warning("the live broker did not answer; open sockets rely on the periodic re-check")

    async def _listen(self, ready: asyncio.Event) -> None:
        pause = 1.0
        while True:
            try:
                async for message in self._broker.subscribe(AUTH_CHANNEL, ready=ready):
                    pause = 1.0
                    await self.close_for(
                        key_ids=[int(k) for k in message.get("keyIds") or ()],
                        user_ids=[int(u) for u in message.get("userIds") or ()],
                        reason=str(message.get("reason") or REVOKED)[:120],
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. Redis restarting: the re-check covers the gap
                log.warning("lost the revocation channel (%s); subscribing again in %.0f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(self.recheck_seconds)
            try:
                await self.recheck()
            except Exception:  # e.g. the database is briefly unreachable: try at the next tick
                log.exception("could not re-check the API keys of open WebSockets")

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
