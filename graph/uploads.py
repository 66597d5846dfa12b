"""Reading an uploaded file (the Upload scalar's value, or a POST /attachments form part)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import UploadFile

from crm.errors import BadInput
from crm.storage import CHUNK


async def upload_chunks(upload: Any) -> AsyncIterator[bytes]:
    """An uploaded file's bytes, a chunk at a time (the request parser spooled it to disk past
    1 MB). Anything but a file -- a JSON value where the Upload was expected -- is bad input,
    raised when the service starts reading, after it has checked the ids."""
    if not isinstance(upload, UploadFile):
        raise BadInput(
            "file must be a file sent as a part of a multipart request (the GraphQL multipart "
            "request spec), or use POST /attachments",
            field="file",
        )
    await upload.seek(0)
    while chunk := await upload.read(CHUNK):
        yield chunk
