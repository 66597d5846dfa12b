"""File storage wiring and the two HTTP routes of attachments (B8).

- `POST /attachments`: a multipart form (contactId, file, title) with an API key, exactly as
  /graphql takes it (Authorization: Bearer), for clients without the GraphQL multipart spec.
  Answers 201 with the attachment's id, downloadUrl and what was recorded; errors in the
  GraphQL error shape with the status their code implies.
- `GET /files/{token}`: a signed, short-lived download link (crm/file_links.py). A forged,
  expired or foreign token and a deleted file all answer the same 404. The body streams from
  storage with the stored type, always as an attachment (`Content-Disposition: attachment`),
  with `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`, so no upload
  (HTML, SVG with script...) ever runs in the API's origin. Single byte ranges are served
  (206), so audio players can seek in recordings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from python_multipart.exceptions import MultipartParseError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from crm import file_links, storage
from crm.errors import BadInput, DomainError
from crm.models import Attachment
from crm.services import attachments as attachment_service
from crm.services.accounts import authenticate
from crm.storage import ObjectMissing, Storage
from crm.storage.directory import DirectoryStorage
from dossier.secret import data_folder, load_secret
from dossier.settings import Settings
from graph.http_errors import error_response, request_id_of
from graph.ids import decode_id, global_id_text
from graph.uploads import upload_chunks
from graph.view import bearer

log = logging.getLogger("dossier.files")

UPLOAD_PATH = "/attachments"
DEFAULT_STORAGE_FOLDER = "dossier-files"
# Room for the multipart envelope (boundaries, part headers, contactId, title) around the file.
ENVELOPE_BYTES = 64 * 1024
_STATUS = {"BAD_USER_INPUT": 400, "UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404,
           "CONFLICT": 409, "DATABASE_BUSY": 503}  # fmt: skip
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_GONE = "this download link is invalid or has expired; ask the API for a new downloadUrl"


# -- wiring ------------------------------------------------------------------------------------


def make_storage(settings: Settings) -> Storage:
    """S3-compatible storage when DOSSIER_S3_BUCKET is set, else a directory."""
    if settings.s3_bucket:
        from crm.storage.s3 import S3Storage  # aiobotocore loads only when it is used

        return S3Storage(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, prefix=settings.s3_prefix)
    folder = settings.storage_dir or data_folder(settings.database_url) / DEFAULT_STORAGE_FOLDER
    return DirectoryStorage(Path(folder))


def configure_files(settings: Settings) -> Storage:
    """Set this process's storage, size limit and link signing; returns the storage to close."""
    store = make_storage(settings)
    storage.configure(store)
    attachment_service.configure(max_bytes=settings.attachment_max_bytes)
    file_links.configure(lambda: load_secret(settings), settings.public_url)
    return store


def upload_limit(settings: Settings) -> int:
    """The HTTP edge's limit for an upload request: the file's limit plus its envelope."""
    return settings.attachment_max_bytes + ENVELOPE_BYTES


# -- POST /attachments ---------------------------------------------------------------------------


def _error(request: Request, exc: DomainError) -> Response:
    extra = {"field": exc.field} if exc.field else {}
    status = _STATUS.get(exc.code, 400)
    return error_response(status, exc.message, request_id_of(request.scope), code=exc.code, **extra)


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadInput(f"`{name}` must be a plain form field, not a file", field=name)
    return value


async def upload_endpoint(request: Request) -> Response:
    rid = request_id_of(request.scope)
    token = bearer(request.headers.get("authorization"))
    if token is None:
        return error_response(401, "send an API key: Authorization: Bearer <key>", rid,
                              headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    actor = await authenticate(token)
    if actor is None:
        return error_response(
            401, "this API key is unknown or revoked", rid, headers={"WWW-Authenticate": "Bearer"}
        )
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        return error_response(
            415, "send a multipart/form-data body with the fields contactId, file and (optionally) title",
            rid,
        )  # fmt: skip
    try:
        form = await request.form(max_files=1, max_fields=10)
    except (MultiPartException, MultipartParseError, HTTPException) as exc:
        return error_response(
            400, f"the multipart body could not be read: {getattr(exc, 'detail', exc)}", rid
        )
    try:
        contact = _text(form.get("contactId"), "contactId")
        upload = form.get("file")
        if not contact:
            raise BadInput("`contactId` is required: the contact's id", field="contactId")
        if not isinstance(upload, UploadFile):
            raise BadInput("`file` is required: send the file as a form part named file", field="file")
        attachment = await attachment_service.store_file(
            actor,
            contact_id=decode_id(contact, "Contact", "contactId"),
            stream=upload_chunks(upload),
            filename=upload.filename or "",
            title=_text(form.get("title"), "title"),
            declared_type=upload.content_type,
        )
    except DomainError as exc:
        return _error(request, exc)
    finally:
        await form.close()
    link = file_links.make_token(attachment.id, actor.account_id, file_links.DEFAULT_EXPIRES_IN)
    body = {
        "id": global_id_text("Attachment", attachment.id),
        "title": attachment.title,
        "filename": attachment.filename,
        "contentType": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "downloadUrl": file_links.download_url(str(request.base_url), link),
    }
    return Response(orjson.dumps(body), status_code=201, media_type="application/json")


# -- GET /files/{token} --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    start: int
    end: int  # inclusive


def _span(header: str | None, size: int) -> _Span | bool | None:
    """The one byte range asked for; None: the whole file; False: unsatisfiable (416). Several
    ranges, or anything unparsable, get the whole file, as RFC 9110 allows."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.groups()
    if not first:  # the last N bytes
        length = int(last)
        return _Span(max(0, size - length), size - 1) if length and size else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return _Span(start, end)


def content_disposition(filename: str) -> str:
    """Always `attachment`, never inline: ASCII fallback plus the exact name (RFC 6266/8187)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _gone(request: Request) -> Response:
    return error_response(404, _GONE, request_id_of(request.scope), code="NOT_FOUND")


async def download_endpoint(request: Request) -> Response:
    found = file_links.read_token(request.path_params["token"])
    if found is None:
        return _gone(request)
    attachment_id, account_id = found
    row = await (
        Attachment.filter(id=attachment_id, account_id=account_id)
        .first()
        .values("storage_key", "content_type", "size", "sha256", "filename")
    )
    if row is None:
        return _gone(request)
    return await serve_object(request, attachment_id, row, _gone)


async def serve_object(
    request: Request,
    attachment_id: int,
    row: dict[str, Any],
    gone: Callable[[Request], Response],
    *,
    disposition: str | None = None,
) -> Response:
    """Stream an attachment's object (`row`: storage_key, content_type, size, sha256, filename)
    with the headers above; `gone` answers a missing object. Also serves recording share links
    (dossier/recording_links.py), which pass an inline `disposition` for audio."""
    size = row["size"]
    span = _span(request.headers.get("range"), size)
    headers = {
        "Content-Disposition": disposition or content_disposition(row["filename"]),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=0, no-store",
        "ETag": f'"{row["sha256"]}"',
    }
    if span is False:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    start, end = (span.start, span.end) if isinstance(span, _Span) else (0, size - 1)
    try:
        body = await storage.current().open(row["storage_key"], start, end if size else None)
    except ObjectMissing:
        log.error(
            "attachment %s has no object %s (see `dossier storage sweep`)", attachment_id, row["storage_key"]
        )
        return gone(request)
    headers["Content-Length"] = str(end - start + 1)
    status = 200
    if isinstance(span, _Span):
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return StreamingResponse(body, status_code=status, headers=headers, media_type=row["content_type"])


ROUTES = [
    Route(UPLOAD_PATH, upload_endpoint, methods=["POST"]),
    Route("/files/{token}", download_endpoint, methods=["GET"]),
]
