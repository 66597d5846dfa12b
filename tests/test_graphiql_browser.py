"""GraphiQL in a real browser: Debian's Chromium driven by Playwright against `dossier serve`.

Two servers in subprocesses, on SQLite files: `dossier serve --demo`, and a fresh one whose
account is made with `dossier account create`. The browser may reach nothing but the server:
every other request is recorded (and refused) and fails the test, as does any script error,
so the page is proven to work with no network at all.

Skipped when Chromium or Playwright is missing, except under CI=true where that is a failure.
Never `playwright install`: the browser is the system's (`DOSSIER_TEST_CHROMIUM`, else
`chromium` on the PATH).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None

ROOT = Path(__file__).resolve().parent.parent
CARD_QUERY = (ROOT / "graph" / "example_card_query.graphql").read_text()
CREATE_CONTACT = (ROOT / "graph" / "example_create_contact.graphql").read_text()
CHROMIUM = os.environ.get("DOSSIER_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000  # generous: the suite runs it beside other tests on a busy machine

pytestmark = pytest.mark.timeout(120)


def _require_browser() -> None:
    missing = []
    if sync_playwright is None:
        missing.append('the playwright package (pip install -e ".[test]")')
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(
            f"a Chromium at {CHROMIUM} (apt-get install -y chromium, or set DOSSIER_TEST_CHROMIUM)"
        )
    if missing:
        reason = "the GraphiQL browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: .ci/run installs chromium)")
        pytest.skip(reason)


# --------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    base: str
    process: subprocess.Popen[str]
    env: dict[str, str]
    output: list[str] = field(default_factory=list)
    key: str | None = None

    def post(self, query: str, variables: dict[str, Any], key: str) -> dict[str, Any]:
        response = httpx.post(
            self.base + "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]


def _start(tmp: Path, *args: str) -> Server:
    port = _free_port()
    env = {
        **os.environ,
        "DOSSIER_DATABASE_URL": f"sqlite://{tmp / 'dossier.db'}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DOSSIER_REDIS_URL", None)
    env.pop("DOSSIER_GRAPHIQL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "dossier.cli", "serve", "--port", str(port), "--log-level", "warning", *args],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return Server(f"http://127.0.0.1:{port}", process, env)


def _wait_until_serving(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            assert server.process.stdout is not None
            raise AssertionError("the server exited:\n" + server.process.stdout.read())
        try:
            if httpx.get(server.base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)  # still starting: a bounded start-up wait
    raise AssertionError(f"{server.base} did not start")


def _read_demo_key(server: Server, deadline: float) -> str:
    assert server.process.stdout is not None
    while time.monotonic() < deadline:
        line = server.process.stdout.readline()
        if not line and server.process.poll() is not None:
            break
        server.output.append(line.rstrip())
        if line.startswith("Demo API key:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no demo key printed:\n" + "\n".join(server.output))


def _stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Both servers, started side by side: the demo one and a fresh one."""
    _require_browser()
    demo = _start(tmp_path_factory.mktemp("demo"), "--demo")
    fresh = _start(tmp_path_factory.mktemp("fresh"))
    try:
        deadline = time.monotonic() + 90
        demo.key = _read_demo_key(demo, deadline)
        _wait_until_serving(demo, deadline)
        _wait_until_serving(fresh, deadline)
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "dossier.cli",
                "account",
                "create",
                "Acme",
                "--email",
                "admin@acme.example.com",
            ],
            env=fresh.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        fresh.key = created.stdout.strip().splitlines()[-1].strip()
        assert fresh.key.startswith("dsk_"), created.stdout
        yield demo, fresh
    finally:
        _stop(demo)
        _stop(fresh)


# --------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _require_browser()
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Visit:
    page: Page
    server: Server
    requests: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check(self, expected_errors: tuple[str, ...] = ()) -> None:
        assert not self.elsewhere, (
            f"the page asked for addresses other than {self.server.base}: {self.elsewhere}"
        )
        unexpected = [error for error in self.errors if not any(e in error for e in expected_errors)]
        assert not unexpected, f"the page logged errors: {unexpected}"
        assert self.requests, "no request recorded at all"
        assert all(url.startswith(self.server.base + "/") for url in self.requests), self.requests

    # GraphiQL's editors are CodeMirror 5 instances; what they hold is read from the instance
    # (the DOM has only the visible lines). Evaluated over the DevTools protocol, which the
    # page's Content-Security-Policy does not restrict.
    def editor_value(self, selector: str) -> str:
        return self.page.evaluate(f"document.querySelector({json.dumps(selector)}).CodeMirror.getValue()")

    def visible_tool_editor(self) -> str:
        return ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"

    def type_into(self, selector: str, text: str) -> None:
        """Replace an editor's text as a user would: click, select all, type (inserted whole, so
        CodeMirror's bracket auto-closing does not double the typed brackets)."""
        self.page.click(selector + " .CodeMirror-lines")
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(text)

    def open_tool(self, name: str) -> None:
        self.page.click(f".graphiql-editor-tools button[data-name={name}]")
        expect(self.page.locator(f".graphiql-editor-tools button[data-name={name}]")).to_have_class(
            "graphiql-un-styled active"
        )

    def open_tab(self, title: str) -> None:
        self.page.click(f".graphiql-tab-button:text-is('{title}')")
        expect(self.page.locator(".graphiql-tab-active")).to_contain_text(title)

    def run(self) -> None:
        self.page.click(".graphiql-execute-button")

    def response(self) -> dict[str, Any]:
        return json.loads(self.editor_value(".graphiql-response .CodeMirror"))


def _visit(browser: Browser, server: Server) -> Iterator[Visit]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    visit = Visit(page, server)
    own = (server.base + "/", server.base.replace("http://", "ws://", 1) + "/")

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(own):
            route.continue_()
        else:  # offline: nothing else answers, and asking is a failure
            visit.elsewhere.append(url)
            route.abort()

    context.route("**/*", route)
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on("websocket", lambda ws: None if ws.url.startswith(own) else visit.elsewhere.append(ws.url))
    page.on("pageerror", lambda error: visit.errors.append(str(error)))
    page.on("console", lambda message: visit.errors.append(message.text) if message.type == "error" else None)
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    try:
        page.goto(server.base + "/graphql")
        expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
        yield visit
    finally:
        context.close()


@pytest.fixture
def demo_visit(browser: Browser, servers: tuple[Server, Server]) -> Iterator[Visit]:
    yield from _visit(browser, servers[0])


@pytest.fixture
def fresh_visit(browser: Browser, servers: tuple[Server, Server]) -> Iterator[Visit]:
    yield from _visit(browser, servers[1])


# --------------------------------------------------------------------------------------
# The scenarios
# --------------------------------------------------------------------------------------


def test_the_demo_opens_on_a_card_that_play_shows(demo_visit: Visit) -> None:
    visit, page, server = demo_visit, demo_visit.page, demo_visit.server
    assert server.key is not None
    assert visit.editor_value(".graphiql-query-editor .CodeMirror") == CARD_QUERY
    expect(page.locator(".graphiql-tab-active")).to_contain_text("Card")
    expect(page.locator(".graphiql-tab-button:text-is('CreateContact')")).to_be_visible()

    variables = json.loads(visit.editor_value(visit.visible_tool_editor()))
    contact_id = variables["id"]
    card = server.post("query($id: ID!) { contact(id: $id) { displayName } }", {"id": contact_id}, server.key)
    name = card["contact"]["displayName"]

    visit.open_tool("headers")
    headers = page.locator(visit.visible_tool_editor())
    expect(headers).to_contain_text(f"Bearer {server.key}")
    assert json.loads(visit.editor_value(visit.visible_tool_editor())) == {
        "Authorization": f"Bearer {server.key}"
    }

    visit.run()
    result = page.locator(".graphiql-response")
    expect(result).to_contain_text('"displayName"')
    expect(result).to_contain_text(name)  # in view at the top of the result, no scrolling
    shown = visit.response()["data"]["contact"]
    assert shown["id"] == contact_id and shown["displayName"] == name
    assert shown["journey"]["totalCount"] >= 20 and len(shown["journey"]["nodes"]) == 20

    # The schema came in with the key: the explorer plugin and the docs show it.
    page.click("button[aria-label='Show GraphiQL Explorer']")
    expect(page.locator(".graphiql-plugin")).to_contain_text("formAnswers")
    page.click("button[aria-label='Show Documentation Explorer']")
    expect(page.locator(".graphiql-plugin")).to_contain_text("subscription: Subscription")
    visit.check()


def test_a_subscription_from_graphiql_gets_live_journey_entries(demo_visit: Visit) -> None:
    visit, page, server = demo_visit, demo_visit.page, demo_visit.server
    assert server.key is not None
    contact_id = json.loads(visit.editor_value(visit.visible_tool_editor()))["id"]
    page.click(".graphiql-tab-add")  # a new tab: the card query and the demo key again
    expect(page.locator(".graphiql-tab")).to_have_count(3)
    visit.type_into(
        ".graphiql-query-editor",
        f'subscription Live {{ journey(contactId: "{contact_id}") {{ kind summary actor {{ name }} }} }}',
    )
    # The tab takes the operation's name once GraphiQL has read the edit: then ▶ runs it.
    expect(page.locator(".graphiql-tab-active")).to_contain_text("Live")
    with page.expect_websocket(lambda ws: ws.url.startswith(server.base.replace("http", "ws", 1))):
        visit.run()
    add_note = "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }"
    deadline = time.monotonic() + WAIT_MS / 1000
    # The socket subscribes a moment after it opens: a note written before that is not news
    # to it, so notes are written until one shows up (each is a new journey entry).
    while True:
        server.post(
            add_note, {"i": {"contactId": contact_id, "body": "<p>live from the test</p>"}}, server.key
        )
        try:
            expect(page.locator(".graphiql-response")).to_contain_text("NOTE_ADDED", timeout=1000)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    visit.check()


def test_a_fresh_account_creates_a_contact_and_opens_its_card(fresh_visit: Visit) -> None:
    visit, page, server = fresh_visit, fresh_visit.page, fresh_visit.server
    assert server.key is not None
    # No demo key on this server: no key and no id in the page.
    assert json.loads(visit.editor_value(visit.visible_tool_editor())) == {"id": ""}
    key_header = json.dumps({"Authorization": f"Bearer {server.key}"})

    visit.open_tab("CreateContact")
    assert visit.editor_value(".graphiql-query-editor .CodeMirror") == CREATE_CONTACT
    visit.open_tool("headers")
    assert visit.editor_value(visit.visible_tool_editor()) == ""
    visit.type_into(".graphiql-editor-tool .graphiql-editor:not(.hidden)", key_header)
    visit.run()
    expect(page.locator(".graphiql-response")).to_contain_text("Jane Doe")
    created = visit.response()["data"]["createContact"]
    assert created["email"] == "jane@example.com" and created["phone"] == "+14155550123"

    visit.open_tab("Card")
    assert visit.editor_value(".graphiql-query-editor .CodeMirror") == CARD_QUERY
    visit.open_tool("headers")
    visit.type_into(".graphiql-editor-tool .graphiql-editor:not(.hidden)", key_header)
    visit.open_tool("variables")
    visit.type_into(".graphiql-editor-tool .graphiql-editor:not(.hidden)", json.dumps({"id": created["id"]}))
    visit.run()
    result = page.locator(".graphiql-response")
    expect(result).to_contain_text('"displayName": "Jane Doe"')
    card = visit.response()["data"]["contact"]
    assert card["id"] == created["id"]
    assert card["journey"]["nodes"][-1]["kind"] == "CONTACT_CREATED"  # newest first: its first entry
    assert card["formAnswers"] == [{"question": "Budget?", "answer": "10k", "form": "Discovery call"}]
    # Before a key was typed, GraphiQL's schema fetch was refused: the API has no anonymous reads.
    visit.check(expected_errors=("status of 401 (Unauthorized)",))
