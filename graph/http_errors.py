"""HTTP-level errors of the GraphQL endpoint, in the shape of a GraphQL response.

Whatever goes wrong before or around an operation (a body that is not a JSON object, a body
or headers over their limit, an unexpected exception), the client gets JSON it already
knows how to read: `data: null` and one error with `extensions.code` and the request id.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.responses import Response
from starlette.types import Scope

# The code for each status strawberry or the HTTP guard answers with.
CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    415: "BAD_REQUEST",
    431: "HEADERS_TOO_LARGE",
    500: "INTERNAL_SERVER_ERROR",
}


# The HTTP guard parses a POST body to check it; the view takes the parsed value from here
# instead of parsing the same bytes again (set and read within one ASGI call, one task).
checked_body: ContextVar[tuple[bytes, Any] | None] = ContextVar("dossier_checked_body", default=None)


def request_timed_out(seconds: float, request_id: str) -> GraphQLError:
    """The one error of an operation cancelled at DOSSIER_REQUEST_TIMEOUT (HTTP or WebSocket)."""
    return GraphQLError(
        f"this request ran longer than {seconds:g} s and was cancelled: ask for fewer items with"
        " `first` or split it; a mutation cancelled before it committed changed nothing",
        extensions={"code": "REQUEST_TIMEOUT", "requestId": request_id},
    )


def request_id_of(scope: Scope) -> str:
    return (scope.get("state") or {}).get("request_id", "-")


def error_body(message: str, code: str, request_id: str, **extensions: Any) -> dict[str, Any]:
    return {
        "data": None,
        "errors": [{"message": message, "extensions": {"code": code, "requestId": request_id, **extensions}}],
    }


def error_response(
    status: int,
    message: str,
    request_id: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    body = error_body(message, code or CODES.get(status, "BAD_REQUEST"), request_id, **extensions)
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")
