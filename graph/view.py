"""The ASGI GraphQL endpoint: API-key auth, the typed context, GraphiQL, orjson responses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from crm.actor import Actor
from crm.live import Broker
from graph import graphiql
from graph.context import CardPlugins, Context
from graph.errors import apply_policy
from graph.http_errors import checked_body, error_response, request_id_of, request_timed_out
from graph.live_auth import SOCKET_SCOPE_KEY, GuardedSocket, LiveAuth
from graph.persisted import PersistedQueries, PersistedQueryError

Authenticate = Callable[[str], Awaitable[Actor | None]]


def bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _unauthenticated(message: str, scope: Scope) -> Response:
    return error_response(401, message, request_id_of(scope), headers={"WWW-Authenticate": "Bearer"})


# The request (or WebSocket connection) being served, for what is written without it at hand:
# `encode_json` runs inside the same ASGI call, so it sees the value set at its start.
_serving_request_id: ContextVar[str] = ContextVar("dossier_serving_request_id", default="-")


def too_large(data: object, size: int, limit: int) -> dict[str, Any]:
    """What goes out instead of a response of `size` bytes: one error, no data. A WebSocket
    message keeps its envelope (type, id) and carries the error as its payload."""
    body = {
        "data": None,
        "errors": [
            {
                "message": f"the response would be {size:,} bytes; the limit is {limit:,}: ask for fewer"
                " items with `first`, fewer fields, or split the query",
                "extensions": {
                    "code": "RESPONSE_TOO_LARGE",
                    "size": size,
                    "limit": limit,
                    "requestId": _serving_request_id.get(),
                },
            }
        ],
    }
    if isinstance(data, dict) and "type" in data and "payload" in data:
        return {**{k: v for k, v in data.items() if k != "payload"}, "payload": body}
    return body


class DossierGraphQL(GraphQL[Context, None]):
    # Sockets that LiveAuth can close when their key is revoked or their user's role changes.
    graphql_transport_ws_handler_class = GuardedSocket

    def __init__(
        self,
        schema: Any,
        *,
        authenticate: Authenticate,
        broker: Broker,
        plugins: CardPlugins,
        graphiql: bool = True,
        graphiql_api_key: str | None = None,
        allowed_origins: Sequence[str] = (),
        request_timeout: float = 30.0,
        max_response_bytes: int = 16 * 1024 * 1024,
        live_auth: LiveAuth | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allowed_origins=allowed_origins,
            # The GraphQL multipart request spec (the Upload scalar: addAttachment). Cross-site
            # forms cannot abuse it: every operation needs an Authorization header, which a
            # browser never adds to a form post by itself (no cookies are accepted).
            multipart_uploads_enabled=True,
        )
        self._authenticate = authenticate
        self._broker = broker
        self._plugins = plugins
        self._graphiql_api_key = graphiql_api_key
        self._graphiql_contact_id: str | None = None
        self._persisted = PersistedQueries()
        # GuardedSocket holds queries and mutations sent over a WebSocket to the same deadline.
        self.request_timeout = request_timeout
        self._max_response_bytes = max_response_bytes
        self.live_auth = live_auth or LiveAuth(broker)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _serving_request_id.set(request_id_of(scope))
        if scope["type"] == "http" and self._is_operation(Request(scope)):
            request = Request(scope, receive)
            token = bearer(request.headers.get("authorization"))
            if token is None:
                missing = _unauthenticated("send an API key: Authorization: Bearer <key>", scope)
                await missing(scope, receive, send)
                return
            actor = await self._authenticate(token)
            if actor is None:
                await _unauthenticated("this API key is unknown or revoked", scope)(scope, receive, send)
                return
            scope.setdefault("state", {})["actor"] = actor
        if scope["type"] == "http":
            # strawberry answers its refusals (no query, a mutation over GET, an unsupported
            # content type, …) in plain text: give them the API's JSON error shape instead.
            try:
                response = await self.run(Request(scope, receive))
            except HTTPException as exc:
                response = error_response(exc.status_code, exc.reason, request_id_of(scope))
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    @staticmethod
    def _is_operation(request: Request) -> bool:
        # GETs without a query serve GraphiQL; everything else is an operation and needs a key.
        if request.method == "GET":
            return "query" in request.query_params or "extensions" in request.query_params
        return request.method != "OPTIONS"

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET that carries a persisted query's hash is an operation, not a visit to GraphiQL.
        return request.query_params.get("extensions") is None and super().should_render_graphql_ide(request)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        state = request.scope.get("state") or {}
        return Context(
            request=request,
            response=response,
            broker=self._broker,
            plugins=self._plugins,
            request_id=state.get("request_id", "-"),
            actor=state.get("actor"),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        token = bearer(raw if isinstance(raw, str) else None) or bearer(
            context.request.headers.get("authorization")
        )
        identity = await self.live_auth.identify(token) if token else None
        if identity is None:
            raise ConnectionRejectionError({"message": "send a valid API key in connection_init"})
        context.actor = identity.actor
        # Registered before the ack goes out: a revocation from then on closes this socket.
        await self.live_auth.register(context.request.scope["state"][SOCKET_SCOPE_KEY], identity)
        return UNSET

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        persisted = (request_data.extensions or {}).get("persistedQuery")
        if persisted is not None:
            try:
                query = self._persisted.resolve(request_data.query, persisted)
            except PersistedQueryError as exc:
                return ExecutionResult(data=None, errors=[exc.error])
            request_data = replace(request_data, query=query)
        # One deadline for the whole operation: cancelling it cancels every resolver and loader
        # under it, and a service's transaction rolls back (in_transaction sees the cancellation).
        deadline = asyncio.timeout(self.request_timeout)
        try:
            async with deadline:
                return await super().execute_single(
                    request, request_adapter, sub_response, context, root_value, request_data
                )
        except TimeoutError:
            if not deadline.expired():
                raise
            return ExecutionResult(
                data=None, errors=[request_timed_out(self.request_timeout, context.request_id)]
            )
        finally:
            context.reset_loaders()

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        # Errors raised outside the operation (e.g. syntax errors caught by a parsing extension)
        # never reach ErrorPolicy's hook: give them their code here.
        if result.errors:
            request_id = (request.scope.get("state") or {}).get("request_id", "-")
            result.errors = [apply_policy(error, request_id) for error in result.errors]
        return await super().process_result(request, result)

    def parse_json(self, data: str | bytes) -> Any:
        # The HTTP guard already parsed these very bytes to check them: no second parse.
        checked = checked_body.get()
        if checked is not None and checked[0] == data:
            return checked[1]
        return super().parse_json(data)

    def encode_json(self, data: object) -> str:
        # A str, not bytes: WebSocket messages must go out as text frames (graphql-transport-ws).
        encoded = orjson.dumps(data)
        if len(encoded) > self._max_response_bytes:
            # Measured on the encoding itself, so a normal response is encoded once.
            encoded = orjson.dumps(too_large(data, len(encoded), self._max_response_bytes))
        return encoded.decode()

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our own page: every asset served by the app (graph/graphiql), nothing from a CDN.
        return graphiql.page_response(self._graphiql_api_key, await self._example_contact_id())

    async def _example_contact_id(self) -> str | None:
        """The card the demo key's GraphiQL opens with, looked up once per process (again while
        there is none: a new account's first contact is found on the next visit)."""
        key = self._graphiql_api_key
        if key is None:
            return None
        if self._graphiql_contact_id is None:
            self._graphiql_contact_id = await graphiql.example_contact_id(key)
        return self._graphiql_contact_id
