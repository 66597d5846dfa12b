"""Error policy: every error carries `extensions.code`; unexpected ones are masked and logged.

Domain errors (`crm.errors.DomainError`) keep their message and get their code. Errors
found before execution (syntax, validation, variable coercion) keep their message and get
GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED or BAD_USER_INPUT. Anything else raised
while executing is a bug: the client sees "Unexpected error" with the request id, and the
traceback goes to the log under the same id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from crm.errors import DomainError

log = logging.getLogger("dossier.graphql")

# Messages graphql-core uses when a value does not fit its type (ValuesOfCorrectTypeRule,
# variable coercion, scalar parsing): these are the client's bad input, not a bad query.
_BAD_VALUE_MARKERS = (
    "got invalid value",
    "Expected value of type",
    "cannot represent",
    "does not exist in",
    "of required type",
    "is not defined by type",
    "Expected type",
    "was not provided",
)


def classify(error: GraphQLError) -> tuple[str, bool]:
    """The error's code, and whether its message must be hidden from the client."""
    original = error.original_error
    if isinstance(original, DomainError):
        return original.code, False
    if error.path is None:  # raised before execution started
        if error.message.startswith("Syntax Error"):
            return "GRAPHQL_PARSE_FAILED", False
        if any(marker in error.message for marker in _BAD_VALUE_MARKERS):
            return "BAD_USER_INPUT", False
        return "GRAPHQL_VALIDATION_FAILED", False
    return "INTERNAL_SERVER_ERROR", True


class ErrorPolicy(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if not errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", "-")
        result.errors = [apply_policy(error, request_id) for error in errors]  # type: ignore[union-attr]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # A subscription's results go out before on_operation resumes: apply the policy to each.
        errors = getattr(result, "errors", None)
        if errors:
            request_id = getattr(self.execution_context.context, "request_id", "-")
            result.errors = [apply_policy(error, request_id) for error in errors]
        yield


def apply_policy(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error as the client may see it: with a code, and masked if it is unexpected."""
    if "code" in (error.extensions or {}):  # already handled
        return error
    code, mask = classify(error)
    extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
    original = error.original_error
    if isinstance(original, DomainError) and original.field:
        extensions["field"] = original.field
    # More for the client to act on (custom fields: the `key` whose value was refused).
    extensions.update(getattr(original, "details", None) or {})
    if not mask:
        return GraphQLError(
            error.message, nodes=error.nodes, source=error.source, positions=error.positions,
            path=error.path, original_error=original, extensions=extensions,
        )  # fmt: skip
    log.error(
        "unexpected error in request %s at %s",
        request_id, ".".join(map(str, error.path or ())),
        exc_info=(type(original), original, original.__traceback__) if original else None,
    )  # fmt: skip
    return GraphQLError(
        f"Unexpected error. Quote request id {request_id} when reporting it.",
        nodes=error.nodes, source=error.source, positions=error.positions, path=error.path,
        extensions={"code": code, "requestId": request_id},
    )  # fmt: skip
