"""Partner plugins (C8): the example package found through its entry point, listed, disabled by
name, a broken package skipped; and `dossier plugins`, which lists what would load.

Installation is simulated: `importlib.metadata.entry_points` is replaced by a function that
returns the example's entry point exactly as its pyproject.toml declares it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pluggy import PluginValidationError

from crm.events import CardEvent
from crm.models import OutboxRow
from dossier import Settings, create_app
from dossier.cli import main
from plugins import hookimpl
from plugins.manager import ENTRY_POINT_GROUP, builtin_names, make_plugin_manager
from tests.conftest import AppFactory, make_tenant

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "dossier-slack-notes"
EXAMPLE_PROJECT = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
# The example is tested from its source tree, as its own tests do; nothing is pip-installed.
if str(EXAMPLE / "src") not in sys.path:
    sys.path.insert(0, str(EXAMPLE / "src"))

SLACK_HOOKS = ["capabilities", "deal_added", "deal_updated", "startup"]
PLUGINS = "{ plugins { name version builtin hooks } }"
CREATE_CONTACT = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
ADD_DEAL = "mutation($input: AddDealInput!) { addDeal(input: $input) { id } }"
CARD = """
query($id: ID!) {
  contact(id: $id) { notes { text } journey { edges { node { kind actor { kind name } } } } }
}
"""


@dataclass
class FakeEntryPoint:
    """What `importlib.metadata.entry_points(group=...)` yields for an installed package."""

    name: str
    value: str
    version: str = "0.0.1"
    broken: Exception | None = None
    target: Any = None
    group: str = ENTRY_POINT_GROUP

    @property
    def dist(self) -> SimpleNamespace:
        return SimpleNamespace(version=self.version)

    def load(self) -> Any:
        if self.broken is not None:
            raise self.broken
        if self.target is not None:
            return self.target
        return importlib.metadata.EntryPoint(self.name, self.value, self.group).load()


def example_entry_point() -> FakeEntryPoint:
    (name, value), *others = EXAMPLE_PROJECT["entry-points"][ENTRY_POINT_GROUP].items()
    assert not others
    return FakeEntryPoint(name, value, version=EXAMPLE_PROJECT["version"])


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`installed(ep, ...)`: the packages whose entry points Dossier will find."""

    def install(*entry_points: FakeEntryPoint) -> None:
        def fake_entry_points(**selection: str) -> list[FakeEntryPoint]:
            return list(entry_points) if selection.get("group") == ENTRY_POINT_GROUP else []

        monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)

    return install


@dataclass
class ChatReceiver:
    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def chat() -> Iterator[ChatReceiver]:
    """A Slack-like incoming webhook on 127.0.0.1 that records what it is sent."""
    receiver = ChatReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/services/hook"
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join()


class Misspelt:
    name = "typo-partner"

    @hookimpl
    def deal_wonn(self, event: CardEvent) -> None:  # no such hook
        pass


def misspelt_entry_point() -> FakeEntryPoint:
    return FakeEntryPoint("typo-partner", "dossier_typo:Misspelt", target=Misspelt)


def broken_entry_point() -> FakeEntryPoint:
    failure = RuntimeError("dossier_broken_partner needs DOSSIER_BROKEN_TOKEN at import time")
    return FakeEntryPoint("broken-partner", "dossier_broken_partner:Plugin", broken=failure)


# --------------------------------------------------------------------------------------
# The example package
# --------------------------------------------------------------------------------------


def test_the_example_declares_its_plugin_under_the_plugins_own_name() -> None:
    ep = example_entry_point()
    assert ep.value == "dossier_slack_notes:SlackNotes"
    plugin_class = ep.load()
    assert isinstance(plugin_class, type)
    assert plugin_class().name == ep.name == "slack-notes"  # the journey's actor is the listed name
    assert EXAMPLE_PROJECT["version"] == importlib.import_module("dossier_slack_notes").__version__
    assert "dossier" in " ".join(EXAMPLE_PROJECT["dependencies"])
    readme = (EXAMPLE / "README.md").read_text()
    for step in ("pip install", "DOSSIER_SLACK_WEBHOOK_URL", "DOSSIER_DISABLED_PLUGINS", "pytest"):
        assert step in readme, f"the example's README does not mention {step!r}"


def test_the_root_suite_runs_the_examples_own_tests() -> None:
    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "examples/dossier-slack-notes/tests" in testpaths["testpaths"]


# --------------------------------------------------------------------------------------
# Loaded through its entry point
# --------------------------------------------------------------------------------------


async def test_an_installed_partner_is_loaded_and_listed_for_admins_only(
    running_app: AppFactory, installed: Callable[..., None]
) -> None:
    installed(example_entry_point())
    async with running_app(load_entry_points=True) as app:
        acme = await make_tenant("Acme")
        listing = (await app.data(PLUGINS, key=acme.admin_key))["plugins"]
        by_name = {p["name"]: p for p in listing}
        assert by_name["slack-notes"] == {
            "name": "slack-notes",
            "version": "0.1.0",
            "builtin": False,
            "hooks": SLACK_HOOKS,
        }
        assert sorted(by_name) == sorted([*builtin_names(), "slack-notes"])
        assert all(p["builtin"] for name, p in by_name.items() if name != "slack-notes")

        for role_key in (acme.manager_key, acme.rep_key):
            error = await app.error(PLUGINS, key=role_key)
            assert error["extensions"]["code"] == "FORBIDDEN"
            assert error["message"] == "only admins can list plugins"
        error = await app.error(PLUGINS)
        assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_installed_partner_gets_its_settings_and_handles_events(
    running_app: AppFactory, installed: Callable[..., None], chat: ChatReceiver
) -> None:
    installed(example_entry_point())
    env = {"DOSSIER_SLACK_WEBHOOK_URL": chat.url}
    async with running_app(load_entry_points=True, env=env) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.manager_key)
        contact = await api.data(CREATE_CONTACT, {"input": {"firstName": "Ada", "lastName": "Lovelace"}})
        contact_id = contact["createContact"]["id"]
        deal = {"productName": "Coaching", "amount": "1500", "currency": "USD", "paymentType": "ONE_TIME"}
        await api.data(ADD_DEAL, {"input": {"contactId": contact_id, **deal, "status": "WON"}})
        await api.runtime.dispatcher.drain()

        assert [b["text"] for b in chat.bodies] == [
            ":trophy: Coaching won with Ada Lovelace: 1,500.00 USD (by Acme Manager)"
        ]
        card = (await api.data(CARD, {"id": contact_id}))["contact"]
        assert [n["text"] for n in card["notes"]] == [
            "Announced in Slack: Coaching won with Ada Lovelace: 1,500.00 USD (by Acme Manager)"
        ]
        kinds = [(e["node"]["kind"], e["node"]["actor"]) for e in card["journey"]["edges"]]
        assert kinds[0] == ("NOTE_ADDED", {"kind": "PLUGIN", "name": "slack-notes"})
        rows = await OutboxRow.filter(plugin="slack-notes").values_list("hook", "status")
        assert [tuple(r) for r in rows] == [("deal_added", "DELIVERED")]


async def test_a_partner_disabled_by_name_is_not_loaded(
    running_app: AppFactory, installed: Callable[..., None], chat: ChatReceiver
) -> None:
    installed(example_entry_point())
    env = {"DOSSIER_SLACK_WEBHOOK_URL": chat.url}
    async with running_app(load_entry_points=True, env=env, disabled_plugins=("slack-notes",)) as app:
        assert not app.runtime.plugins.has_plugin("slack-notes")
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        listing = (await api.data(PLUGINS))["plugins"]
        assert sorted(p["name"] for p in listing) == sorted(builtin_names())

        contact = await api.data(CREATE_CONTACT, {"input": {"firstName": "Ada", "lastName": "Lovelace"}})
        deal = {"productName": "Coaching", "amount": "10", "currency": "USD", "paymentType": "ONE_TIME"}
        contact_id = contact["createContact"]["id"]
        await api.data(ADD_DEAL, {"input": {"contactId": contact_id, **deal, "status": "WON"}})
        await api.runtime.dispatcher.drain()
        assert await OutboxRow.filter(plugin="slack-notes").count() == 0
        assert chat.bodies == []
        assert (await api.data(CARD, {"id": contact_id}))["contact"]["notes"] == []


async def test_a_partner_that_fails_to_load_is_logged_and_skipped(
    running_app: AppFactory, installed: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    installed(broken_entry_point(), example_entry_point())
    caplog.set_level(logging.ERROR, logger="dossier.plugins")
    async with running_app(load_entry_points=True) as app:
        acme = await make_tenant("Acme")
        names = [p["name"] for p in (await app.data(PLUGINS, key=acme.admin_key))["plugins"]]
        assert "slack-notes" in names
        assert "broken-partner" not in names
    (record,) = [r for r in caplog.records if "broken-partner" in r.getMessage()]
    assert "failed to import and was skipped" in record.getMessage()
    assert record.exc_info is not None and "DOSSIER_BROKEN_TOKEN" in str(record.exc_info[1])


def test_a_partner_with_a_misspelt_hook_stops_start_up(installed: Callable[..., None]) -> None:
    installed(example_entry_point(), misspelt_entry_point())
    with pytest.raises(PluginValidationError, match="deal_wonn"):
        create_app(Settings(run_dispatcher=False, load_entry_points=True))


# --------------------------------------------------------------------------------------
# `dossier plugins`
# --------------------------------------------------------------------------------------


def plugin_lines(out: str) -> dict[str, tuple[str, str, str]]:
    """`dossier plugins` output as {name: (version, origin, hooks)}; the header is checked."""
    lines = [line for line in out.splitlines() if line.strip() and not line.startswith("disabled:")]
    assert lines[0].split() == ["NAME", "VERSION", "ORIGIN", "HOOKS"]
    rows = {}
    for line in lines[1:]:
        name, version, origin, hooks = line.split(None, 3)
        rows[name] = (version, origin, hooks)
    return rows


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.delenv("DOSSIER_DISABLED_PLUGINS", raising=False)
    monkeypatch.setenv("DOSSIER_DATABASE_URL", f"sqlite://{tmp_path / 'unused.db'}")
    return monkeypatch


def test_dossier_plugins_lists_built_ins_and_packages_with_their_hooks(
    cli_env: pytest.MonkeyPatch, installed: Callable[..., None], capsys: pytest.CaptureFixture
) -> None:
    installed(example_entry_point())
    assert main(["plugins"]) == 0
    rows = plugin_lines(capsys.readouterr().out)
    assert rows["slack-notes"] == ("0.1.0", "package", ", ".join(SLACK_HOOKS))
    for info in make_plugin_manager(load_entry_points=False).listing():
        assert rows[info.name] == (info.version, "built-in", ", ".join(info.hooks) or "-")
    assert len(rows) == len(builtin_names()) + 1


def test_dossier_plugins_leaves_out_what_settings_disable(
    cli_env: pytest.MonkeyPatch, installed: Callable[..., None], capsys: pytest.CaptureFixture
) -> None:
    installed(example_entry_point())
    disabled = ["slack-notes", *builtin_names()[:1]]
    cli_env.setenv("DOSSIER_DISABLED_PLUGINS", ", ".join(disabled))
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    rows = plugin_lines(out)
    assert not set(rows) & set(disabled)
    assert sorted(rows) == sorted(set(builtin_names()) - set(disabled))
    assert f"disabled: {', '.join(disabled)}" in out


def test_dossier_plugins_skips_a_broken_package(
    cli_env: pytest.MonkeyPatch, installed: Callable[..., None], capsys: pytest.CaptureFixture
) -> None:
    installed(broken_entry_point(), example_entry_point())
    assert main(["plugins"]) == 0
    rows = plugin_lines(capsys.readouterr().out)
    assert "slack-notes" in rows
    assert "broken-partner" not in rows


def test_dossier_plugins_reports_a_misspelt_hook_and_exits_2(
    cli_env: pytest.MonkeyPatch, installed: Callable[..., None], capsys: pytest.CaptureFixture
) -> None:
    installed(misspelt_entry_point())
    assert main(["plugins"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error:")
    assert "deal_wonn" in captured.err
