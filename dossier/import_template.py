"""`GET /import-template/{token}`: the import template (importTemplate's downloadUrl).

Built on request for the token's account (its custom fields are columns), never stored. The
token is signed like a file link (crm/file_links.py) under its own purpose, naming the format
and the account; a forged or expired one answers 404 like a missing file.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crm import file_links
from crm.services import imports as import_service
from dossier.files import _gone, content_disposition
from graph.schema.imports import IMPORT_TEMPLATE_PATH, IMPORT_TEMPLATE_PURPOSE, ImportFormat

FORMATS = list(ImportFormat.__members__)


async def import_template(request: Request) -> Response:
    found = file_links.read_token(request.path_params["token"], purpose=IMPORT_TEMPLATE_PURPOSE)
    if found is None or not 0 <= found[0] < len(FORMATS):
        return _gone(request)
    number, account_id = found
    data, name, content_type = await import_service.template_file(account_id, FORMATS[number])
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": content_disposition(name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=0, no-store",
        },
    )


ROUTES = [Route(IMPORT_TEMPLATE_PATH + "/{token}", import_template, methods=["GET"])]
