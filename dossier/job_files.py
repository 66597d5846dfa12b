"""`GET /job-files/{token}`: a job's file (an export, an import's report; BulkJob.file).

The link is signed like an attachment's (crm/file_links.py) under its own purpose, so a job's
id never passes for an attachment's. It is served by the attachments' code (dossier/files.py:
streamed from storage, always as a download, nosniff, a sandboxing CSP); a forged, expired or
foreign token and a job without a file all answer the same 404.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crm import file_links
from crm.models import BackgroundJob
from dossier.files import _gone, serve_object


async def job_file(request: Request) -> Response:
    found = file_links.read_token(request.path_params["token"], purpose=file_links.JOB_FILE_PURPOSE)
    if found is None:
        return _gone(request)
    job_id, account_id = found
    row = await (
        BackgroundJob.filter(id=job_id, account_id=account_id, file_key__isnull=False)
        .first()
        .values("file_key", "file_name", "file_content_type", "file_size")
    )
    if row is None:
        return _gone(request)
    served = {
        "storage_key": row["file_key"],
        "content_type": row["file_content_type"] or "application/octet-stream",
        "size": row["file_size"] or 0,
        # The ETag: a job writes its file once, so its storage key names these bytes.
        "sha256": row["file_key"],
        "filename": row["file_name"] or "file",
    }
    return await serve_object(request, job_id, served, _gone)


ROUTES = [Route(file_links.JOB_FILES_PATH + "/{token}", job_file, methods=["GET"])]
