"""Dossier's GraphiQL page (`GET /graphql`), with every script and stylesheet served by the app.

The third-party files (React, GraphiQL, its explorer plugin) are vendored under `assets/` at the
versions and SRI hashes of `assets.json` (`scripts/refresh_graphiql_assets.py` refreshes them
from the npm registry); `dossier-graphiql.js` is ours and starts GraphiQL with the page's
settings. The page names them by relative URLs with `integrity` attributes and a
Content-Security-Policy that allows nothing but the server itself: it works with no network.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from string import Template
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from tortoise.functions import Count

from crm.models import Contact, JourneyEvent
from crm.services.accounts import authenticate
from graph.ids import global_id_text

HERE = files("graph.graphiql")
EXAMPLES = files("graph")
# Where the page's assets are served, relative to the page (`/graphql` → `/graphql/assets/…`), so
# the app can also be mounted under a prefix.
ASSETS_URL = "graphql/assets/"
BOOT_SCRIPT = "dossier-graphiql.js"
STYLESHEET = "dossier-graphiql.css"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Versioned names (or, for our own files, a ?v= of their hash): a URL's content never changes.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
PAGE_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        # CodeMirror and GraphiQL position their panes with style attributes.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        # The HTTP fetcher and the graphql-transport-ws socket (CSP 3: 'self' covers ws:/wss:).
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

CARD_QUERY = (EXAMPLES / "example_card_query.graphql").read_text()
CREATE_CONTACT = (EXAMPLES / "example_create_contact.graphql").read_text()
CREATE_CONTACT_VARIABLES = json.loads((EXAMPLES / "example_create_contact.json").read_text())


def sri(data: bytes) -> str:
    """The Subresource Integrity value the page gives a file: sha384, base64."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@dataclass(frozen=True)
class Asset:
    name: str
    kind: str  # "script" or "style"
    body: bytes
    integrity: str
    url: str  # relative to the page
    media_type: str
    _gzipped: list[bytes] = field(default_factory=list, repr=False, compare=False)

    def gzipped(self) -> bytes:
        if not self._gzipped:  # once per process, on first demand
            self._gzipped.append(gzip.compress(self.body, compresslevel=6, mtime=0))
        return self._gzipped[0]


def manifest() -> dict[str, Any]:
    return json.loads((HERE / "assets.json").read_text())


@cache
def assets() -> dict[str, Asset]:
    """Every file the page loads, in the order the page loads them: the vendored files with the
    manifest's hashes (a file that no longer matches them is refused by the browser, and by
    tests/test_graphiql_assets.py), then ours, hashed as they are."""
    found: dict[str, Asset] = {}
    for entry in manifest()["assets"]:
        name = entry["name"]
        body = (HERE / "assets" / name).read_bytes()
        found[name] = Asset(
            name, entry["kind"], body, entry["integrity"], ASSETS_URL + name, _media_type(name)
        )
    for name, kind in ((STYLESHEET, "style"), (BOOT_SCRIPT, "script")):
        body = (HERE / name).read_bytes()
        integrity = sri(body)
        version = hashlib.sha256(body).hexdigest()[:12]
        found[name] = Asset(name, kind, body, integrity, f"{ASSETS_URL}{name}?v={version}", _media_type(name))
    return found


def _media_type(name: str) -> str:
    return MEDIA_TYPES["." + name.rsplit(".", 1)[-1]]


def _json_for_script(value: object) -> str:
    """JSON that can sit inside <script type="application/json"> whatever strings it holds."""
    return (
        json.dumps(value, indent=2, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def page_config(api_key: str | None, contact_id: str | None) -> dict[str, Any]:
    """What dossier-graphiql.js starts GraphiQL with: two tabs (a card, a mutation), the key in
    both tabs' Headers when the server has a demo key, and where the tabs are kept."""
    headers = json.dumps({"Authorization": f"Bearer {api_key}"}, indent=2) if api_key else ""
    tabs = [
        {
            "query": CARD_QUERY,
            "variables": json.dumps({"id": contact_id or ""}, indent=2),
            "headers": headers,
        },
        {
            "query": CREATE_CONTACT,
            "variables": json.dumps(CREATE_CONTACT_VARIABLES, indent=2),
            "headers": headers,
        },
    ]
    # GraphiQL keeps its tabs in localStorage, and what it kept wins over the tabs given here:
    # kept under a name of their own per key and examples, a new demo key (a new database) or
    # changed examples open fresh tabs instead of the old key's.
    storage_key = hashlib.sha256(json.dumps([api_key, CARD_QUERY, CREATE_CONTACT]).encode()).hexdigest()[:16]
    return {"tabs": tabs, "headers": headers, "storageKey": storage_key}


TEMPLATE = Template((HERE / "index.html").read_text())


def render_page(api_key: str | None, contact_id: str | None) -> str:
    links, scripts = [], []
    for asset in assets().values():
        if asset.kind == "style":
            links.append(f'    <link rel="stylesheet" href="{asset.url}" integrity="{asset.integrity}" />')
        else:
            scripts.append(f'    <script src="{asset.url}" integrity="{asset.integrity}"></script>')
    return TEMPLATE.substitute(
        styles="\n".join(links),
        scripts="\n".join(scripts),
        config=_json_for_script(page_config(api_key, contact_id)),
    )


def page_response(api_key: str | None, contact_id: str | None) -> Response:
    return HTMLResponse(
        render_page(api_key, contact_id),
        headers={
            "Content-Security-Policy": PAGE_CSP,
            # The page may carry the demo key: not for caches.
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def example_contact_id(api_key: str) -> str | None:
    """The global id of the key's account's fullest card (the longest journey), or None when
    the key does not work or the account has no contact yet."""
    actor = await authenticate(api_key)
    if actor is None:
        return None
    fullest = (
        await JourneyEvent.filter(account_id=actor.account_id, contact_id__isnull=False)
        .annotate(entries=Count("id"))
        .group_by("contact_id")
        .order_by("-entries", "contact_id")
        .limit(1)
        .values_list("contact_id", flat=True)
    )
    if fullest:
        contact_id = fullest[0]
    else:  # no journey at all: any contact
        contact_id = (
            await Contact.filter(account_id=actor.account_id)
            .order_by("-id")
            .limit(1)
            .values_list("id", flat=True)
        )
        contact_id = contact_id[0] if contact_id else None
    return global_id_text("Contact", contact_id) if contact_id is not None else None


async def asset_endpoint(request: Request) -> Response:
    """`GET /graphql/assets/{name}`: one of the page's files, gzipped when the client takes it."""
    asset = assets().get(request.path_params["name"])
    if asset is None:
        return PlainTextResponse("no such GraphiQL asset", status_code=404)
    etag = f'"{asset.integrity}"'
    headers = {
        "Cache-Control": ASSET_CACHE_CONTROL,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = asset.gzipped()
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)
