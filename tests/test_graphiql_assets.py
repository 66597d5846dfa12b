"""GraphiQL is served whole by the app: vendored files whose hashes match the manifest and the
page's integrity attributes, no absolute URL in the page, the example tabs, and the refresh script."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import re
import tarfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from graphql import parse

from dossier.app import create_app
from dossier.settings import Settings
from graph import graphiql
from graph.cost import document_cost
from graph.schema import schema as dossier_schema
from tests.conftest import make_tenant
from tests.scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
refresh = load_script("refresh_graphiql_assets")
GRAPHIQL_DIR = ROOT / "graph" / "graphiql"
MANIFEST = json.loads((GRAPHIQL_DIR / "assets.json").read_text())
CARD_QUERY = (ROOT / "graph" / "example_card_query.graphql").read_text()
CREATE_CONTACT = (ROOT / "graph" / "example_create_contact.graphql").read_text()
HTML = {"Accept": "text/html"}


def sha384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


class _Page(HTMLParser):
    """The page's <script src>, <link href> (with their integrity) and its config block."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[tuple[str, str, str | None]] = []  # (tag, url, integrity)
        self.config_text = ""
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.loads.append((tag, found["src"] or "", found.get("integrity")))
        if tag == "link" and found.get("rel") == "stylesheet":
            self.loads.append((tag, found.get("href") or "", found.get("integrity")))
        self._in_config = tag == "script" and found.get("id") == "dossier-graphiql-config"

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config_text += data

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self.config_text)


def parse_page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@asynccontextmanager
async def serving(settings: Settings, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, **kwargs)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield client


async def run(client: httpx.AsyncClient, key: str, query: str, variables: Any) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {key}"}
    )
    return response.json()


# --------------------------------------------------------------------------------------
# The files and their hashes
# --------------------------------------------------------------------------------------


def test_every_vendored_file_matches_the_manifest() -> None:
    entries = MANIFEST["assets"]
    assert {e["name"] for e in entries} == {p.name for p in (GRAPHIQL_DIR / "assets").iterdir()}
    for entry in entries:
        data = (GRAPHIQL_DIR / "assets" / entry["name"]).read_bytes()
        assert sha384(data) == entry["integrity"], entry["name"]
        assert len(data) == entry["bytes"], entry["name"]
        assert entry["version"] == MANIFEST["packages"][entry["package"]]["version"]
        assert entry["version"] in entry["name"], "a versioned name: its URL never changes content"
    # Exact pins: a range would make the vendored files a matter of when the script ran.
    for package, pinned in MANIFEST["packages"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", pinned["version"]), package
        assert pinned["integrity"].startswith("sha512-"), package
    assert {"react", "react-dom", "graphiql", "@graphiql/plugin-explorer"} == set(MANIFEST["packages"])


async def test_the_page_loads_every_file_from_the_server_with_its_hash(settings: Settings) -> None:
    async with serving(settings) as client:
        response = await client.get("/graphql", headers=HTML)
        assert response.status_code == 200
        html = response.text
        # No absolute URL at all: nothing the page could fetch from anywhere but this server.
        assert not re.search(r"https?:|//[a-z0-9]", html, re.I), re.search(r".{40}https?:.{40}", html)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self';" in csp
        assert "http" not in csp and "unsafe-eval" not in csp
        assert response.headers["cache-control"] == "no-store"

        page = parse_page(html)
        loaded = {
            url.split("?")[0].rsplit("/", 1)[-1]: (tag, url, integrity) for tag, url, integrity in page.loads
        }
        vendored = {entry["name"]: entry for entry in MANIFEST["assets"]}
        assert set(vendored) | {graphiql.BOOT_SCRIPT, graphiql.STYLESHEET} == set(loaded)
        for name, (tag, url, integrity) in loaded.items():
            assert url.startswith("graphql/assets/"), url  # relative to the page: /graphql/assets/…
            served = await client.get("/" + url)
            assert served.status_code == 200, url
            assert integrity == sha384(served.content), f"{name}: the page's integrity is not the file's"
            if name in vendored:
                assert integrity == vendored[name]["integrity"]
                assert served.content == (GRAPHIQL_DIR / "assets" / name).read_bytes()
            expected = "text/javascript" if tag == "script" else "text/css"
            assert served.headers["content-type"] == f"{expected}; charset=utf-8", name
            assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert served.headers["x-content-type-options"] == "nosniff"
        # Scripts in dependency order, ours last.
        scripts = [url.split("?")[0].rsplit("/", 1)[-1] for tag, url, _ in page.loads if tag == "script"]
        assert scripts[:2] == ["react-18.2.0.min.js", "react-dom-18.2.0.min.js"]
        assert scripts[-1] == graphiql.BOOT_SCRIPT


async def test_assets_are_gzipped_revalidated_and_unknown_names_refused(settings: Settings) -> None:
    name = next(e["name"] for e in MANIFEST["assets"] if e["package"] == "graphiql" and e["kind"] == "script")
    original = (GRAPHIQL_DIR / "assets" / name).read_bytes()
    async with serving(settings) as client:
        raw = await client.get(f"/graphql/assets/{name}", headers={"Accept-Encoding": "gzip"})
        assert raw.headers["content-encoding"] == "gzip" and raw.headers["vary"] == "Accept-Encoding"
        assert raw.content == original  # httpx decodes it
        assert int(raw.headers["content-length"]) < len(original) / 3
        plain = await client.get(f"/graphql/assets/{name}", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == original
        again = await client.get(f"/graphql/assets/{name}", headers={"If-None-Match": raw.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        head = await client.head(f"/graphql/assets/{name}")
        assert head.status_code == 200 and head.content == b""
        for unknown in ("nope.js", "..%2Fassets.json", "index.html", "__init__.py"):
            assert (await client.get(f"/graphql/assets/{unknown}")).status_code == 404, unknown


async def test_with_graphiql_off_neither_page_nor_assets_are_served(settings: Settings) -> None:
    async with serving(replace(settings, graphiql=False)) as client:
        assert (await client.get("/graphql", headers=HTML)).status_code == 404
        assert (await client.get(f"/graphql/assets/{graphiql.BOOT_SCRIPT}")).status_code == 404
        assert (await client.get(f"/graphql/assets/{MANIFEST['assets'][0]['name']}")).status_code == 404


# --------------------------------------------------------------------------------------
# The tabs the page opens with
# --------------------------------------------------------------------------------------


def test_the_examples_are_a_card_query_and_a_mutation_with_variables() -> None:
    assert re.search(r"^query Card\(\$id: ID!\) \{\n  contact\(id: \$id\) \{", CARD_QUERY, re.M)
    # The card is the first field of the result: ▶ shows it without scrolling.
    document = CARD_QUERY[CARD_QUERY.index("query Card") :]
    assert document.index("contact(id: $id)") < 50
    assert re.search(r"^mutation CreateContact\(\$input: CreateContactInput!\)", CREATE_CONTACT, re.M)


def test_the_readme_shows_the_example_documents_as_they_are() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```graphql\n(query Card\(.*?)```", readme, re.S)
    assert block is not None, "README.md lost the card query"
    assert block.group(1) == CARD_QUERY[CARD_QUERY.index("query Card") :]
    assert "graph/example_card_query.graphql" in readme
    assert "graph/example_create_contact.graphql" in readme
    # The cost the README quotes for it is the one the server counts.
    figure = re.search(r"The card above \(GraphiQL's example\) costs (\d[\d,]*\d)", readme)
    assert figure is not None, "README.md no longer quotes the example's cost"
    counted = document_cost(dossier_schema._schema, parse(CARD_QUERY), {"id": "Q29udGFjdDox"})
    assert figure.group(1) == f"{counted:,}"


async def test_a_demo_key_opens_its_fullest_card_and_both_tabs_run(settings: Settings) -> None:
    async with serving(settings) as setup:
        tenant = await make_tenant("Acme")
        ids = []
        for first in ("Ada", "Grace"):
            body = await run(
                setup,
                tenant.admin_key,
                "mutation($n: String) { createContact(input: {firstName: $n}) { id } }",
                {"n": first},
            )
            ids.append(body["data"]["createContact"]["id"])
        # Ada, the older card, has the longer journey: she is the one GraphiQL opens with.
        for body in ("<p>first call</p>", "<p>second call</p>"):
            note = "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }"
            assert "errors" not in await run(
                setup, tenant.admin_key, note, {"i": {"contactId": ids[0], "body": body}}
            )

    async with serving(settings, graphiql_api_key=tenant.admin_key) as client:
        response = await client.get("/graphql", headers=HTML)
        config = parse_page(response.text).config
        card_tab, mutation_tab = config["tabs"]
        assert card_tab["query"] == CARD_QUERY and mutation_tab["query"] == CREATE_CONTACT
        assert json.loads(card_tab["variables"]) == {"id": ids[0]}
        for tab in (card_tab, mutation_tab):
            assert json.loads(tab["headers"]) == {"Authorization": f"Bearer {tenant.admin_key}"}
        assert json.loads(config["headers"]) == {"Authorization": f"Bearer {tenant.admin_key}"}

        card = await run(client, tenant.admin_key, card_tab["query"], json.loads(card_tab["variables"]))
        assert "errors" not in card, card["errors"]
        assert list(card["data"]) == ["contact"]
        assert list(card["data"]["contact"])[:2] == ["id", "displayName"]
        assert card["data"]["contact"]["displayName"] == "Ada"
        assert card["data"]["contact"]["journey"]["totalCount"] == 3

        created = await run(
            client, tenant.admin_key, mutation_tab["query"], json.loads(mutation_tab["variables"])
        )
        assert "errors" not in created, created["errors"]
        assert created["data"]["createContact"]["displayName"] == "Jane Doe"
        # The card tab opens the mutation's contact too.
        theirs = await run(
            client, tenant.admin_key, CARD_QUERY, {"id": created["data"]["createContact"]["id"]}
        )
        assert theirs["data"]["contact"]["utms"] == [
            {"source": "google", "medium": "cpc", "campaign": None, "term": None, "content": None}
        ]


async def test_without_a_working_key_the_page_has_no_key_and_no_id(settings: Settings) -> None:
    async with serving(settings) as client:
        config = parse_page((await client.get("/graphql", headers=HTML)).text).config
    assert json.loads(config["tabs"][0]["variables"]) == {"id": ""}
    assert config["headers"] == "" and all(tab["headers"] == "" for tab in config["tabs"])
    # A key that no longer works (revoked, another database) still shows, but names no card.
    async with serving(settings, graphiql_api_key="dsk_not_a_key_of_this_database") as client:
        response = await client.get("/graphql", headers=HTML)
        assert response.status_code == 200
        config = parse_page(response.text).config
    assert json.loads(config["tabs"][0]["variables"]) == {"id": ""}
    assert "dsk_not_a_key_of_this_database" in config["headers"]


def test_the_page_config_cannot_break_out_of_its_script_block() -> None:
    hostile = '</script><script src="https://evil.example/x.js"></script><!--'
    html = graphiql.render_page(hostile, "Q29udGFjdDox")
    assert (
        "</script><script" not in html.split('id="dossier-graphiql-config">', 1)[1].split("</script>", 1)[0]
    )
    config = parse_page(html).config
    assert json.loads(config["headers"]) == {"Authorization": f"Bearer {hostile}"}  # intact, as JSON
    # Tabs are kept per key: a new demo key does not reopen an old key's tabs.
    assert (
        graphiql.page_config("dsk_a", None)["storageKey"] != graphiql.page_config("dsk_b", None)["storageKey"]
    )


# --------------------------------------------------------------------------------------
# scripts/refresh_graphiql_assets.py, against a registry on loopback
# --------------------------------------------------------------------------------------


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(f"package/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def registry() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A fake npm registry: `routes[path] = body`."""
    routes: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()


def _publish(
    base: str, routes: dict[str, bytes], package: str, version: str, *, tamper: bool = False
) -> None:
    files = {
        path: f"/* {package} {version} {path} */".encode()
        for pkg, path, _, _ in refresh.FILES
        if pkg == package
    }
    tarball = _tarball(files)
    tarball_path = f"/{package}/-/{package.rsplit('/', 1)[-1]}-{version}.tgz"
    integrity = refresh.sri(tarball, "sha512")
    routes[tarball_path] = tarball + (b"x" if tamper else b"")
    routes[f"/{package.replace('/', '%2F')}/{version}"] = json.dumps(
        {"dist": {"tarball": base + tarball_path, "integrity": integrity}}
    ).encode()


def test_the_refresh_script_vendors_pinned_versions_and_checks_tarballs(
    registry: tuple[str, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, routes = registry
    monkeypatch.setattr(refresh, "ASSETS_DIR", tmp_path / "assets")
    monkeypatch.setattr(refresh, "MANIFEST", tmp_path / "assets.json")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "graphiql-0.0.1.min.js").write_text("an old version")
    versions = {**refresh.DEFAULT_VERSIONS, "graphiql": "9.9.9"}
    for package, version in versions.items():
        _publish(base, routes, package, version)

    assert refresh.main(["--registry", base, "--version", "graphiql=9.9.9"]) == 0
    written = json.loads((tmp_path / "assets.json").read_text())
    assert written["packages"]["graphiql"]["version"] == "9.9.9"
    names = {entry["name"] for entry in written["assets"]}
    assert "graphiql-9.9.9.min.js" in names and "graphiql-9.9.9.min.css" in names
    assert {p.name for p in (tmp_path / "assets").iterdir()} == names  # the old version is gone
    for entry in written["assets"]:
        data = (tmp_path / "assets" / entry["name"]).read_bytes()
        assert entry["integrity"] == sha384(data)
        assert data == f"/* {entry['package']} {entry['version']} {entry['path']} */".encode()

    _publish(base, routes, "react", "18.2.0", tamper=True)
    with pytest.raises(SystemExit, match="does not match the registry"):
        refresh.main(["--registry", base])
    for bad in ("graphiql", "left-pad=1.0.0", "graphiql="):
        with pytest.raises(SystemExit, match="--version"):
            refresh.main(["--registry", base, "--version", bad])


def test_gzip_of_an_asset_is_stable() -> None:
    asset = graphiql.assets()[graphiql.BOOT_SCRIPT]
    assert gzip.decompress(asset.gzipped()) == asset.body
    assert asset.gzipped() is asset.gzipped()  # compressed once
