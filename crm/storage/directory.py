"""Objects as files under one directory (DOSSIER_STORAGE_DIR), for a single machine.

Each object is written to a temporary file in its final folder, flushed to disk (fsync) and
renamed over its key: a reader or a crash never sees half a file under a key. A crash mid-write
leaves a `.upload-*` temporary file, which the sweep removes like any other unnamed object.
File I/O runs in threads so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from crm.storage import CHUNK, ObjectInfo, ObjectMissing, StoredObject, check_key

TEMP_PREFIX = ".upload-"


class DirectoryStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.name = f"directory {self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> StoredObject:
        target = self._path(key)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        fd, temp_name = await asyncio.to_thread(tempfile.mkstemp, prefix=TEMP_PREFIX, dir=target.parent)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(out.write, chunk)
                await asyncio.to_thread(_flush, out)
            await asyncio.to_thread(os.replace, temp_name, target)
            await asyncio.to_thread(_sync_dir, target.parent)
        except BaseException:
            await asyncio.to_thread(_unlink, Path(temp_name))
            raise
        return StoredObject(size, digest.hexdigest())

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissing(key) from None
        return _read(handle, start, end)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(_unlink, self._path(key))

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def list(self) -> AsyncIterator[ObjectInfo]:  # type: ignore[override]
        for info in await asyncio.to_thread(self._walk):
            yield info

    def _walk(self) -> list[ObjectInfo]:
        found = []
        if not self.root.is_dir():
            return found
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = Path(folder) / name
                try:
                    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                except FileNotFoundError:  # renamed or deleted meanwhile
                    continue
                found.append(ObjectInfo(path.relative_to(self.root).as_posix(), modified))
        return found

    async def close(self) -> None:
        return None


async def _read(handle: object, start: int, end: int | None) -> AsyncIterator[bytes]:
    try:
        await asyncio.to_thread(handle.seek, start)  # type: ignore[attr-defined]
        left = None if end is None else end - start + 1
        while left is None or left > 0:
            want = CHUNK if left is None else min(CHUNK, left)
            chunk = await asyncio.to_thread(handle.read, want)  # type: ignore[attr-defined]
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk
    finally:
        handle.close()  # type: ignore[attr-defined]


def _flush(out: object) -> None:
    out.flush()  # type: ignore[attr-defined]
    os.fsync(out.fileno())  # type: ignore[attr-defined]


def _sync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); platforms without directory fds skip it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
