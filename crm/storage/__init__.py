"""Where attachment bytes live: one small interface, a directory or S3-compatible storage.

Rows (crm/models/attachments.py) name objects by key; objects are written first, so a crash
leaves at worst an object no row names, which `dossier storage sweep` removes. The process's
storage is set once by `dossier.create_app()` (and the CLI) with `configure()`; services reach
it with `current()`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# Chunk size for reads and the size of the hashing steps: big enough that per-chunk overhead
# is small, small enough that memory stays flat whatever the file's size.
CHUNK = 64 * 1024

# Keys are made by the service ("<account>/<random hex>"); this guards the directory backend
# against a key that could climb out of its root.
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")


class ObjectMissing(Exception):
    """The key names no object (deleted, or never written)."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What `put` wrote: its size in bytes and SHA-256 (hex), computed while streaming."""

    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """A stored object as the sweep sees it."""

    key: str
    modified: datetime  # timezone-aware UTC


class Storage(Protocol):
    """A flat namespace of immutable objects. Implementations: DirectoryStorage, S3Storage."""

    name: str  # for messages: "directory /srv/files", "s3://bucket"

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> StoredObject:
        """Write an object from a stream. If the stream raises, nothing is left under `key`
        (the partial object is deleted) and the exception propagates."""
        ...

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The object's bytes `start`..`end` (inclusive; None: to the end), as a stream.
        Raises ObjectMissing at once (before the first chunk) when there is no such object."""
        ...

    async def delete(self, key: str) -> None:
        """Remove an object; a missing one is no error."""
        ...

    async def exists(self, key: str) -> bool: ...

    def list(self) -> AsyncIterator[ObjectInfo]:
        """Every object (for the sweep), in no particular order."""
        ...

    async def close(self) -> None: ...


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"not a storage key: {key!r}")
    return key


_current: Storage | None = None


def configure(storage: Storage | None) -> None:
    global _current
    _current = storage


def current() -> Storage:
    if _current is None:
        raise RuntimeError("no file storage configured: create_app() or the CLI sets it up")
    return _current


__all__ = ["CHUNK", "ObjectInfo", "ObjectMissing", "Storage", "StoredObject", "configure", "current"]
