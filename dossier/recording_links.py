"""`GET /shared/recordings/{token}`: a call recording's share link (crm/services/recordings.py).

No API key: the token is all a listener holds. While the share is active the recording is
served by the attachments' serving code (dossier/files.py: streamed from storage, single byte
ranges for seeking, `X-Content-Type-Options: nosniff`, a sandboxing CSP) with its audio type
and `Content-Disposition: inline`, so a browser plays it in place; the type is one
crm/audio.py read from the whole file, never the uploader's claim. A revoked or expired link
answers 410 with a small page saying so; an unknown one 404 (the same page whatever the
reason, so tokens cannot be probed).
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from crm.services import recordings
from dossier.files import content_disposition, serve_object

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{text}</p></body></html>
"""
_REFUSALS = {
    "unknown": (404, "Recording not found", "This link names no recording. Check the link you were sent."),
    "expired": (
        410,
        "Link expired",
        "This link to a call recording has expired. Ask its sender for a new one.",
    ),
    "revoked": (410, "Link revoked", "This link to a call recording was revoked by its sender."),
}


def _refused(reason: str) -> Response:
    status, title, text = _REFUSALS[reason]
    return HTMLResponse(
        _PAGE.format(title=escape(title), text=escape(text)), status_code=status, headers=_HEADERS
    )


async def shared_recording(request: Request) -> Response:
    found = await recordings.shared_recording(request.path_params["token"])
    if found.attachment is None:
        return _refused(found.refusal or "unknown")
    recording = found.attachment
    row = {
        "storage_key": recording.storage_key,
        "content_type": recording.content_type,
        "size": recording.size,
        "sha256": recording.sha256,
        "filename": recording.filename,
    }
    inline = "inline" + content_disposition(recording.filename).removeprefix("attachment")
    response = await serve_object(
        request, recording.id, row, lambda _request: _refused("unknown"), disposition=inline
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


ROUTES = [Route(recordings.SHARE_PATH, shared_recording, methods=["GET"])]
