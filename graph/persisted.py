"""Automatic persisted queries (Apollo's APQ protocol).

A client sends only `extensions.persistedQuery.sha256Hash`; a known hash runs the document it
stands for, an unknown one answers PERSISTED_QUERY_NOT_FOUND and the client sends the query
once with its hash, which is checked and remembered. A card client then sends 64 bytes
instead of a 2 KB document, and the parsed and validated document comes from the caches.

The store is per process and bounded (least recently used goes first); each process learns a
query on its own, which the protocol handles by the client's one retry.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from graphql import GraphQLError

MAX_DOCUMENTS = 1000
MAX_DOCUMENT_BYTES = 100_000


class PersistedQueryError(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.error = GraphQLError(message, extensions={"code": code})


class PersistedQueries:
    def __init__(self, max_documents: int = MAX_DOCUMENTS) -> None:
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._max = max_documents

    def __len__(self) -> int:
        return len(self._documents)

    def resolve(self, query: str | None, persisted: Any) -> str:
        """The document to run for this request, or PersistedQueryError."""
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedQueryError("persistedQuery must be {version: 1, sha256Hash}", "BAD_USER_INPUT")
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            raise PersistedQueryError("persistedQuery.sha256Hash must be 64 hex characters", "BAD_USER_INPUT")
        digest = digest.lower()
        if query is None:
            document = self._documents.get(digest)
            if document is None:
                raise PersistedQueryError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
            self._documents.move_to_end(digest)
            return document
        if len(query.encode()) > MAX_DOCUMENT_BYTES:
            raise PersistedQueryError(
                f"a persisted document is at most {MAX_DOCUMENT_BYTES} bytes", "BAD_USER_INPUT"
            )
        if hashlib.sha256(query.encode()).hexdigest() != digest:
            raise PersistedQueryError("provided sha256Hash does not match the query", "BAD_USER_INPUT")
        self._documents[digest] = query
        self._documents.move_to_end(digest)
        while len(self._documents) > self._max:
            self._documents.popitem(last=False)
        return query
