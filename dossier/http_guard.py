"""The HTTP edge: size limits, and JSON for every refusal and crash, before the GraphQL view.

uvicorn's default HTTP parser (httptools) accepts headers of any size and the app used to read
any body, so the limits are enforced here, on every route:

- headers over `max_header_bytes` (names and values summed) → 431 HEADERS_TOO_LARGE;
- a body over `max_body_bytes` → 413 REQUEST_TOO_LARGE, from Content-Length before reading,
  and by counting while reading a chunked body (it is never read past the limit);
- a POST to the GraphQL path whose body is not one JSON object with well-typed members
  (`null`, `42`, a string, an array, invalid UTF-8, a charset other than UTF-8, nesting
  deeper than the parser goes) → 400 BAD_REQUEST saying what to send instead; the same for
  a GET's `variables` and `extensions` parameters;
- any exception that escapes the app before it answered → 500 INTERNAL_SERVER_ERROR, logged
  with its traceback under the request id.

Every refusal is a GraphQL-shaped JSON body with the request id (graph.http_errors); the
X-Request-ID header comes from RequestIdMiddleware, which must wrap this one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.http_errors import checked_body, error_response, request_id_of

log = logging.getLogger("dossier.http")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024

# The members of a GraphQL-over-HTTP request, and the JSON types each may have besides null.
_MEMBERS: dict[str, tuple[type, str]] = {
    "query": (str, "a string"),
    "operationName": (str, "a string"),
    "variables": (dict, "an object"),
    "extensions": (dict, "an object"),
}


class BadRequest(Exception):
    """What is wrong with a request, in words the client can act on."""


class _UploadTooLarge(Exception):
    """Raised into the app's body reading when an upload passes the limit."""


class HttpGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        graphql_path: str = "/graphql",
        path_limits: Mapping[str, int] | None = None,
        upload_paths: tuple[str, ...] = (),
        max_upload_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # File uploads (multipart/form-data to these paths or to the GraphQL path) are not read
        # into memory here: they stream through to the app, counted against max_upload_bytes.
        self.upload_paths = upload_paths
        self.max_upload_bytes = max_upload_bytes
        # Smaller body limits for paths under these prefixes (the public intake: 64 KB).
        self.path_limits = dict(path_limits or {})
        self.max_header_bytes = max_header_bytes
        self.graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        header_bytes = sum(len(name) + len(value) for name, value in scope.get("headers") or ())
        if header_bytes > self.max_header_bytes:
            if scope["type"] == "websocket":
                await receive()  # websocket.connect; closing before accepting refuses the upgrade
                await send({"type": "websocket.close", "code": 1008})
                return
            message = (
                f"the request's headers are {header_bytes:,} bytes; the limit is {self.max_header_bytes:,}"
            )
            await error_response(431, message, request_id, limit=self.max_header_bytes)(scope, receive, send)
            return
        if scope["type"] == "websocket":  # message sizes are uvicorn's ws_max_size
            await self.app(scope, receive, send)
            return
        await self._http(scope, receive, send, request_id)

    def _body_limit(self, path: str) -> int:
        limits = [limit for prefix, limit in self.path_limits.items() if path.startswith(prefix)]
        return min([self.max_body_bytes, *limits])

    def _is_upload(self, scope: Scope) -> bool:
        if scope["method"] != "POST" or scope["path"] not in (*self.upload_paths, self.graphql_path):
            return False
        media_type = (_header(scope, b"content-type") or "").partition(";")[0].strip().lower()
        return media_type == "multipart/form-data"

    async def _upload(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        """Pass a multipart body through as it arrives, refusing it (413) past the upload limit."""
        limit = self.max_upload_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, request_id, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _UploadTooLarge
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except _UploadTooLarge:
            if started:
                raise
            await self._too_large(scope, receive, send, request_id, limit)
        except Exception:
            log.exception(
                "unexpected error in request %s (%s %s)", request_id, scope["method"], scope["path"]
            )
            if started:
                raise
            message = f"Unexpected error. Quote request id {request_id} when reporting it."
            await error_response(500, message, request_id)(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        if self._is_upload(scope):
            await self._upload(scope, receive, send, request_id)
            return
        limit = self._body_limit(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, request_id, limit)
            return
        body, more = await self._read(receive, limit)
        if more is None:  # the client went away
            return
        if more:
            await self._too_large(scope, receive, send, request_id, limit)
            return
        if scope["path"] == self.graphql_path:
            try:
                self._check_graphql(scope, body)
            except BadRequest as exc:
                await error_response(400, str(exc), request_id)(scope, receive, send)
                return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # later messages: http.disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, replay, watch)
        except Exception:
            log.exception(
                "unexpected error in request %s (%s %s)", request_id, scope["method"], scope["path"]
            )
            if started:  # too late for another answer: let the server drop the connection
                raise
            message = f"Unexpected error. Quote request id {request_id} when reporting it."
            await error_response(500, message, request_id)(scope, receive, send)

    async def _read(self, receive: Receive, limit: int) -> tuple[bytes, bool | None]:
        """The body, and whether more remained beyond the limit (None: the client left)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"", None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, limit: int
    ) -> None:
        message = (
            f"the request body is over the limit of {limit:,} bytes; "
            "send less at once (split imports and bulk changes into several requests)"
        )
        response = error_response(413, message, request_id, limit=limit, headers={"Connection": "close"})
        await response(scope, receive, send)

    def _check_graphql(self, scope: Scope, body: bytes) -> None:
        method = scope["method"]
        if method == "GET":
            params = QueryParams(scope.get("query_string", b"").decode("latin-1"))
            for name in ("variables", "extensions"):
                if name in params:
                    _check_member(name, _parse_json(params[name].encode(), f"the `{name}` parameter"))
            return
        if method != "POST":
            return
        content_type = (_header(scope, b"content-type") or "").lower()
        media_type, _, parameters = content_type.partition(";")
        if "json" not in media_type:
            return  # strawberry answers other types (multipart, or 400 "Unsupported content type")
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            charset = value.strip().strip('"')
            if key == "charset" and charset not in ("utf-8", "utf8"):
                raise BadRequest(
                    f"charset={charset} is not supported: send the body as UTF-8 JSON "
                    "(Content-Type: application/json)"
                )
        data = _parse_json(body, "the request body")
        if isinstance(data, list):
            raise BadRequest(
                "batching (a JSON array of operations) is not supported: send one operation per request"
            )
        if not isinstance(data, dict):
            raise BadRequest(
                "the request body must be a JSON object with `query` and optionally `variables`, "
                f"`operationName` and `extensions`; got {_json_type(data)}"
            )
        for name, value in data.items():
            _check_member(name, value)
        checked_body.set((body, data))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


def _parse_json(raw: bytes, what: str) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{what} is not valid UTF-8 (byte {exc.start}); send UTF-8 JSON") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise BadRequest(f"{what} nests JSON too deeply") from None
    except ValueError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}") from None


def _check_member(name: str, value: Any) -> None:
    expected = _MEMBERS.get(name)
    if expected is None or value is None:
        return
    kind, words = expected
    if not isinstance(value, kind):
        raise BadRequest(f"`{name}` must be {words} or null, got {_json_type(value)}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
