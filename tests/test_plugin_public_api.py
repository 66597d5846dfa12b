"""The partner API (C8): one public module, `dossier.plugin`, that the guide and the example
plugin import from and nothing else; its testing module; the distribution's name; and the guide's
promises about events, ids, links, outcomes and dead-lettering, checked against the code."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import logging
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import dossier.plugin
import dossier.plugin.testing
import plugins
from crm.clock import utcnow
from dossier.plugin import (
    NODE_TYPES,
    Actor,
    CallOutcome,
    CardEvent,
    CardLink,
    Conflict,
    add_note,
    global_id,
    hookimpl,
    local_id,
    schedule_call,
    set_call_outcome,
)
from dossier.plugin.testing import (
    FROM_NUMBER,
    GraphQLErrors,
    card_event,
    fake_endpoint,
    serve_twilio,
    start_dossier,
)
from plugins import hookspecs
from plugins.manager import DISTRIBUTION, make_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "examples" / "dossier-slack-notes"
PUBLIC = {"dossier.plugin": dossier.plugin, "dossier.plugin.testing": dossier.plugin.testing}
INTERNAL = ("crm", "plugins", "graph")

CREATE_CONTACT = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
SCHEDULE = "mutation($input: ScheduleCallInput!) { scheduleCall(input: $input) { id } }"
JOURNEY = """
query($id: ID!) {
  contact(id: $id) {
    journey(first: 50, order: OLDEST_FIRST) { nodes { kind summary actor { kind name } } }
  }
}
"""


# --------------------------------------------------------------------------------------
# What may be imported: a checker, and the checker checked
# --------------------------------------------------------------------------------------


def forbidden_uses(source: str) -> list[str]:
    """Everything in Python source that reaches into Dossier other than through the public
    modules: imports of crm/plugins/graph (or of dossier.* other than dossier.plugin[.testing]),
    names imported from a public module that it does not export, dotted uses like `crm.x`."""
    problems: list[str] = []
    tree = ast.parse(source)
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}  # report `a.b.c` once
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in INTERNAL or (top == "dossier" and alias.name not in PUBLIC):
                    problems.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top in INTERNAL or (top == "dossier" and node.module not in PUBLIC):
                problems.append(f"from {node.module} import ...")
            elif node.module in PUBLIC:
                exported = set(PUBLIC[node.module].__all__)
                problems += [
                    f"from {node.module} import {a.name} (not in its __all__)"
                    for a in node.names
                    if a.name not in exported
                ]
        elif isinstance(node, ast.Attribute) and id(node) not in inner:
            root = node
            while isinstance(root, ast.Attribute):
                root = root.value  # type: ignore[assignment]
            if isinstance(root, ast.Name) and root.id in INTERNAL:
                problems.append(ast.unparse(node))
    return problems


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


def internal_mentions(markdown: str) -> list[str]:
    """Inline code in prose that names an internal module: `crm.services.notes.add_note`,
    `plugins.host.PluginHost`, `from plugins import hookimpl`."""
    spans = re.findall(r"`([^`\n]+)`", markdown)
    pattern = re.compile(r"(?:^|\s|\()(?:from\s+|import\s+)?(?:crm|plugins|graph)\.[A-Za-z_]")
    pattern_bare = re.compile(r"^(?:from|import)\s+(?:crm|plugins|graph)\b")
    return [span for span in spans if pattern.search(span) or pattern_bare.search(span)]


def test_the_checker_flags_what_it_must() -> None:
    assert forbidden_uses("from crm.actor import Actor") == ["from crm.actor import ..."]
    assert forbidden_uses("from plugins import hookimpl") == ["from plugins import ..."]
    assert forbidden_uses("import graph.ids") == ["import graph.ids"]
    assert forbidden_uses("from dossier.app import create_app") == ["from dossier.app import ..."]
    assert forbidden_uses("from dossier.plugin import Nope") == [
        "from dossier.plugin import Nope (not in its __all__)"
    ]
    assert forbidden_uses("x = crm.services.notes.add_note") == ["crm.services.notes.add_note"]
    assert forbidden_uses("from dossier.plugin import Actor, add_note\nimport httpx") == []
    assert forbidden_uses("from dossier.plugin.testing import start_dossier") == []
    assert internal_mentions("use `crm.contracts.CardLink` or `from plugins import hookimpl`") == [
        "crm.contracts.CardLink",
        "from plugins import hookimpl",
    ]
    assert internal_mentions("see [`plugins/hookspecs.py`](../plugins/hookspecs.py), `CardLink`") == []


# --------------------------------------------------------------------------------------
# The module
# --------------------------------------------------------------------------------------


def test_every_public_name_exists_and_hookimpl_is_the_built_ins_marker() -> None:
    for module in PUBLIC.values():
        assert len(module.__all__) == len(set(module.__all__)), module.__name__
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    assert dossier.plugin.hookimpl is plugins.hookimpl  # built-in plugins keep working, same marker


def test_every_type_a_hook_takes_or_returns_is_exported() -> None:
    public = set(dossier.plugin.__all__)
    for name, function in vars(hookspecs).items():
        if not (inspect.isfunction(function) and hasattr(function, "dossier_spec")):
            continue
        annotations = [p.annotation for p in inspect.signature(function).parameters.values()]
        annotations.append(inspect.signature(function).return_annotation)
        for annotation in annotations:  # source text: hookspecs.py has `from __future__ import annotations`
            for word in re.findall(r"[A-Z][A-Za-z]+", str(annotation)):
                if word not in {"None", "Any"}:
                    assert word in public, f"hook {name} uses {word}, which dossier.plugin does not export"


def test_the_guide_documents_every_public_name() -> None:
    text = GUIDE.read_text()
    for module in PUBLIC.values():
        for name in module.__all__:
            assert f"`{name}" in text, f"docs/plugins.md never mentions {module.__name__}.{name}"


def test_the_guides_code_imports_only_the_public_modules() -> None:
    text = GUIDE.read_text()
    blocks = python_blocks(text)
    assert len(blocks) > 30
    problems = {block.strip().splitlines()[0]: forbidden_uses(block) for block in blocks}
    assert not {k: v for k, v in problems.items() if v}, problems
    assert internal_mentions(text) == [], "the guide's prose names Dossier's internal modules"


def test_the_guide_and_the_example_depend_on_dossier_crm() -> None:
    text = GUIDE.read_text()
    assert 'dependencies = ["dossier-crm>=0.1"]' in text
    for block in re.findall(r"^```toml\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        assert not re.search(r'"dossier[<>=~\[" ]', block), block  # never the unrelated "dossier"
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    assert "dossier-crm>=0.1" in project["dependencies"]
    assert not any(re.match(r"dossier\b(?!-)", d) for d in project["dependencies"])
    assert project["optional-dependencies"]["test"] == ["dossier-crm[testing]>=0.1"]


def test_the_example_imports_only_the_public_modules() -> None:
    files = sorted(EXAMPLE.rglob("*.py"))
    assert len(files) >= 3
    for path in files:
        assert forbidden_uses(path.read_text()) == [], path.relative_to(ROOT)
    readme = (EXAMPLE / "README.md").read_text()
    assert internal_mentions(readme) == []


def test_the_distribution_is_dossier_crm() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION == "dossier-crm"
    testing = {re.match(r"[A-Za-z0-9_.-]+", r).group() for r in project["optional-dependencies"]["testing"]}  # type: ignore[union-attr]
    assert testing >= {"pytest", "pytest-asyncio", "aiosmtpd"}  # what dossier.plugin.testing's users need
    version = importlib.metadata.version("dossier-crm")
    assert version == project["version"]
    listing = make_plugin_manager(load_entry_points=False).listing()
    assert {p.version for p in listing} == {version}  # the built-ins report dossier-crm's version


def test_the_fresh_venv_check_runs_in_ci() -> None:
    script = ROOT / "scripts" / "check_example_plugin.sh"
    assert script.stat().st_mode & 0o111, "scripts/check_example_plugin.sh is not executable"
    text = script.read_text()
    assert "-m venv" in text and "--system-site-packages" not in text
    assert '--find-links "$WORK/wheels"' in text and "pytest" in text
    assert "\nscripts/check_example_plugin.sh\n" in (ROOT / ".ci" / "run").read_text()


# --------------------------------------------------------------------------------------
# Ids
# --------------------------------------------------------------------------------------


def test_node_types_are_the_apis_node_types() -> None:
    from graph.schema import Limits, build_schema

    schema = build_schema(Limits(introspection=True, max_cost=10_000), fast_path=False)
    from graphql import GraphQLObjectType

    # Object types only: an interface that extends Node (JobProgress) names no object of its own.
    node_types = {
        name
        for name, gql_type in schema._schema.type_map.items()
        if isinstance(gql_type, GraphQLObjectType) and any(i.name == "Node" for i in gql_type.interfaces)
    }
    assert node_types == NODE_TYPES


async def test_global_ids_are_the_ids_the_api_shows(database_url: str) -> None:
    async with start_dossier(database_url=database_url) as running:
        created = await running.graphql(CREATE_CONTACT, {"input": {"firstName": "Ada"}})
        api_id = created["createContact"]["id"]
        contact_id = local_id(api_id, "Contact")
        assert isinstance(contact_id, int)
        assert global_id("Contact", contact_id) == api_id
        shown = await running.graphql("query($id: ID!) { contact(id: $id) { firstName } }", {"id": api_id})
        assert shown["contact"]["firstName"] == "Ada"


@pytest.mark.parametrize(
    ("type_name", "value", "message"),
    [
        ("Contcat", 1, "'Contcat' is not a type of the Dossier API"),
        ("Contact", 0, "0 is not a database id"),
        ("Contact", -3, "-3 is not a database id"),
        ("Contact", 2**31, "2147483648 is not a database id"),
        ("Contact", True, "True is not a database id"),
        ("Contact", "7", "'7' is not a database id"),
    ],
)
def test_global_id_refuses_what_no_api_id_is(type_name: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        global_id(type_name, value)


def test_local_id_says_what_is_wrong() -> None:
    note = global_id("Note", 5)
    assert local_id(note, "Note") == 5
    with pytest.raises(ValueError, match="is a Note id, not a Contact id"):
        local_id(note, "Contact")
    with pytest.raises(ValueError, match="is not an id of the Dossier API"):
        local_id("not-an-id", "Contact")
    with pytest.raises(ValueError, match="is not an id of the Dossier API"):
        local_id(global_id("Contact", 5) + "\n", "Contact")  # only the canonical text
    with pytest.raises(ValueError, match="not a type of the Dossier API"):
        local_id(note, "Notes")


# --------------------------------------------------------------------------------------
# The testing module
# --------------------------------------------------------------------------------------


class Recorder:
    """Records the events it gets; its `contact_created` may act as it is told."""

    name = "recorder"

    def __init__(self) -> None:
        self.events: list[tuple[str, CardEvent]] = []

    @hookimpl
    def contact_created(self, event: CardEvent) -> None:
        self.events.append(("contact_created", event))

    @hookimpl
    def sms_received(self, event: CardEvent) -> None:
        self.events.append(("sms_received", event))


async def test_start_dossier_loads_the_plugin_and_delivers_when_told(database_url: str) -> None:
    recorder = Recorder()
    async with start_dossier(recorder, database_url=database_url) as running:
        await running.graphql(CREATE_CONTACT, {"input": {"firstName": "Ada", "email": "ada@example.com"}})
        assert recorder.events == []  # nothing until deliver()
        assert await running.deliver() >= 1  # the built-ins' deliveries count too
        ((hook, event),) = recorder.events
        assert (hook, event.kind, event.contact.display_name) == ("contact_created", "CONTACT_CREATED", "Ada")
        assert event.actor.kind == "USER" and event.actor.name == "Rita Boss"
        assert await running.deliver() == 0

        with pytest.raises(GraphQLErrors) as refused:
            await running.graphql(CREATE_CONTACT, {"input": {"email": "not an address"}})
        assert refused.value.codes == ["BAD_USER_INPUT"]

        rep_key = await running.add_user("Ray Rep", "ray@acme.example.com", "rep")
        viewer = await running.graphql("{ viewer { user { name role } } }", key=rep_key)
        assert viewer["viewer"]["user"] == {"name": "Ray Rep", "role": "REP"}
        other = await running.add_account("Globex", "boss@globex.example.com")
        assert (await running.graphql("{ contacts(first: 5) { nodes { id } } }", key=other))["contacts"][
            "nodes"
        ] == []


async def test_a_text_from_an_unknown_number_reaches_sms_received_end_to_end(database_url: str) -> None:
    recorder = Recorder()
    with serve_twilio() as twilio:
        async with start_dossier(recorder, twilio=twilio, database_url=database_url) as running:
            await running.receive_sms("+14155550123", "Is the house still for sale?")
            assert await running.deliver() >= 2
    (created_hook, created), (received_hook, received) = recorder.events
    assert (created_hook, received_hook) == ("contact_created", "sms_received")
    # The lead's subject has the keys every contact_created has (it was {}).
    assert created.subject == {"utms": [], "formAnswers": []}
    assert created.changes["phone"] == [None, "+14155550123"]
    assert created.actor.kind == "PLUGIN" and created.actor.name == "twilio"
    assert created.contact.display_name == "Guest"
    assert received.subject["from"] == "+14155550123"
    assert received.subject["to"] == FROM_NUMBER
    assert received.subject["body"] == "Is the house still for sale?"
    assert received.subject_type == "Message" and received.contact_id == created.contact_id


async def test_receive_sms_needs_the_fake_twilio() -> None:
    async with start_dossier() as running:
        with pytest.raises(RuntimeError, match="twilio=fake"):
            await running.receive_sms("+14155550123", "hi")


def test_card_event_builds_an_event_like_the_dispatchers() -> None:
    event = card_event("DEAL_UPDATED", changes={"status": ["OPEN", "WON"]}, subject_id=12, id="evt-9")
    assert isinstance(event, CardEvent)
    assert (event.id, event.kind, event.subject_id, event.contact.display_name) == (
        "evt-9",
        "DEAL_UPDATED",
        12,
        "Grace Hopper",
    )
    assert CardEvent.from_json(event.to_json()) == event
    custom = card_event(
        contact={"display_name": "Ada"}, actor={"kind": "PLUGIN", "name": "x", "user_id": None}
    )
    assert custom.contact.display_name == "Ada" and custom.actor.kind == "PLUGIN"


def test_the_smtp_fake_is_offered_and_fake_endpoint_records() -> None:
    from dossier.plugin.testing import FakeSmtpServer
    from dossier.plugin.testing.smtp import FakeSmtpServer as Moved
    from tests.fakes.smtp import FakeSmtpServer as Old

    assert FakeSmtpServer is Moved is Old
    import httpx

    with fake_endpoint() as endpoint:
        endpoint.statuses = [503]
        first = httpx.post(endpoint.url + "/hook", json={"a": 1})
        second = httpx.get(endpoint.url + "/ping")
    assert (first.status_code, second.status_code) == (503, 200)
    assert [(r.method, r.path) for r in endpoint.received] == [("POST", "/hook"), ("GET", "/ping")]
    assert endpoint.json_bodies()[0] == {"a": 1}


# --------------------------------------------------------------------------------------
# The guide's promises, against the code
# --------------------------------------------------------------------------------------


class GivesUp:
    """Fails every delivery; its clean-up writes a note on the card."""

    name = "gives-up"

    @hookimpl
    def contact_created(self, event: CardEvent) -> None:
        raise RuntimeError("the billing system is down")

    @hookimpl
    async def event_dead_lettered(self, event: CardEvent, hook: str, error: str) -> None:
        await add_note(Actor.plugin(event.account_id, self.name), event.contact_id, f"Not synced: {error}")


async def test_the_final_failure_is_journaled_before_event_dead_lettered_runs(database_url: str) -> None:
    async with start_dossier(GivesUp(), database_url=database_url) as running:
        created = await running.graphql(CREATE_CONTACT, {"input": {"firstName": "Ada"}})
        await running.deliver()
        journey = await running.graphql(JOURNEY, {"id": created["createContact"]["id"]})
    entries = [(e["kind"], e["actor"]["name"]) for e in journey["contact"]["journey"]["nodes"]]
    assert entries == [
        ("CONTACT_CREATED", "Rita Boss"),
        ("PLUGIN_DELIVERY_FAILED", "gives-up"),
        ("PLUGIN_DELIVERY_FAILED", "gives-up"),
        ("PLUGIN_DELIVERY_FAILED", "gives-up"),  # "gave up (dead-lettered)"
        ("NOTE_ADDED", "gives-up"),  # what event_dead_lettered wrote, after it
    ]
    assert "gave up (dead-lettered)" in journey["contact"]["journey"]["nodes"][3]["summary"]


class EarlyOutcome:
    """Sets the outcome of every call it hears of, at once."""

    name = "early-outcome"

    def __init__(self) -> None:
        self.refusals: list[Conflict] = []

    @hookimpl
    async def call_scheduled(self, event: CardEvent) -> None:
        try:
            await set_call_outcome(
                Actor.plugin(event.account_id, self.name), event.subject_id, CallOutcome.SPOKE
            )
        except Conflict as exc:
            self.refusals.append(exc)


async def test_an_outcome_before_the_call_started_is_a_conflict(database_url: str) -> None:
    plugin = EarlyOutcome()
    async with start_dossier(plugin, database_url=database_url) as running:
        created = await running.graphql(CREATE_CONTACT, {"input": {"firstName": "Ada"}})
        when = (utcnow() + timedelta(days=1)).isoformat()
        await running.graphql(
            SCHEDULE,
            {
                "input": {
                    "contactId": created["createContact"]["id"],
                    "scheduledAt": when,
                    "eventName": "Intro",
                }
            },
        )
        await running.deliver()
        contact_id = local_id(created["createContact"]["id"], "Contact")
        with pytest.raises(Conflict) as refused:
            call = await schedule_call(
                Actor.plugin(1, "x"), contact_id, utcnow() + timedelta(hours=1), "Demo"
            )
            await set_call_outcome(Actor.plugin(1, "x"), call.id, CallOutcome.CALLED)
    (refusal,) = plugin.refusals
    assert refusal.code == refused.value.code == "CONFLICT"
    assert "set its outcome once it has started" in refusal.message


class Links:
    """Card links: one well-formed without a plugin name, one of its own kind, one malformed."""

    name = "partner-links"

    @hookimpl
    def card_links(self, contact: Any) -> list[Any]:
        return [
            CardLink(kind="OTHER", label="Open in Acme", url=f"https://acme.example.com/{contact.id}"),
            CardLink(kind="CALENDAR", label="Book", url="https://cal.example.com/", plugin="someone-else"),
            CardLink(kind="calendar", label="lower-case kind", url="https://cal.example.com/x"),
            {"kind": "OTHER", "label": "a dict", "url": "https://x.example.com/"},
        ]


class OneLink:
    name = "one-link"

    @hookimpl
    def card_links(self, contact: Any) -> CardLink:
        return CardLink(kind="OTHER", label="Single", url="https://one.example.com/")


async def test_card_links_are_stamped_with_their_plugin_and_malformed_ones_left_out(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    query = "query($id: ID!) { contact(id: $id) { links { kind label url plugin } } }"
    async with start_dossier(Links(), OneLink(), database_url=database_url) as running:
        created = await running.graphql(
            CREATE_CONTACT, {"input": {"firstName": "Ada", "email": "ada@example.com"}}
        )
        with caplog.at_level(logging.WARNING, logger="dossier.plugins"):
            shown = await running.graphql(query, {"id": created["createContact"]["id"]})
    links = {(link["kind"], link["label"]): link["plugin"] for link in shown["contact"]["links"]}
    assert links[("OTHER", "Open in Acme")] == "partner-links"
    assert links[("CALENDAR", "Book")] == "partner-links"  # the plugin that gave it, whatever it said
    assert links[("OTHER", "Single")] == "one-link"
    assert links[("EMAIL", "Email ada@example.com")] == "maps"
    assert not any(label in ("lower-case kind", "a dict") for _, label in links)
    assert sum("card link Dossier cannot show" in r.getMessage() for r in caplog.records) == 2


# --------------------------------------------------------------------------------------
# Who wrote a note
# --------------------------------------------------------------------------------------

NOTES = """
query($id: ID!) {
  contact(id: $id) { notes { text author { name } createdBy { kind name user { name } } } }
}
"""
ADD_NOTE = "mutation($input: AddNoteInput!) { addNote(input: $input) { text createdBy { kind name } } }"


class Noter:
    """Notes every new contact."""

    name = "noter"

    @hookimpl
    async def contact_created(self, event: CardEvent) -> None:
        await add_note(Actor.plugin(event.account_id, self.name), event.contact_id, "<b>Synced</b>")


async def test_a_note_shows_who_wrote_it_user_or_plugin(database_url: str) -> None:
    async with start_dossier(Noter(), database_url=database_url) as running:
        created = await running.graphql(CREATE_CONTACT, {"input": {"firstName": "Ada"}})
        contact = created["createContact"]["id"]
        added = await running.graphql(ADD_NOTE, {"input": {"contactId": contact, "body": "Called her"}})
        assert added["addNote"]["createdBy"] == {"kind": "USER", "name": "Rita Boss"}
        await running.deliver()
        notes = (await running.graphql(NOTES, {"id": contact}))["contact"]["notes"]
    by_text = {n["text"]: n for n in notes}
    assert by_text["Synced"]["author"] is None
    assert by_text["Synced"]["createdBy"] == {"kind": "PLUGIN", "name": "noter", "user": None}
    assert by_text["Called her"]["author"] == {"name": "Rita Boss"}
    assert by_text["Called her"]["createdBy"] == {
        "kind": "USER",
        "name": "Rita Boss",
        "user": {"name": "Rita Boss"},
    }


async def test_notes_written_before_the_migration_take_their_writer_from_the_journey(
    database_url: str,
) -> None:
    """The data step of crm/migrations/0006_note_author.py, on notes as they were before it."""
    from tortoise import Tortoise

    from crm.migrations import __path__ as migrations_path

    source = (Path(migrations_path[0]) / "0006_note_author.py").read_text()
    backfill = ast.literal_eval(
        ast.unparse(
            next(
                node.args[0]
                for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Call) and ast.unparse(node.func) == "ops.RunSQL"
            )
        )
    )
    async with start_dossier(Noter(), database_url=database_url) as running:
        created = await running.graphql(CREATE_CONTACT, {"input": {"firstName": "Ada"}})
        contact = created["createContact"]["id"]
        await running.graphql(ADD_NOTE, {"input": {"contactId": contact, "body": "Called her"}})
        await running.deliver()
        connection = Tortoise.get_connection("default")
        await connection.execute_script("UPDATE note SET author_kind = 'USER', author_name = ''")
        stale = (await running.graphql(NOTES, {"id": contact}))["contact"]["notes"]
        assert {n["createdBy"]["name"] for n in stale} == {""}
        await connection.execute_script(backfill)
        notes = (await running.graphql(NOTES, {"id": contact}))["contact"]["notes"]
    assert sorted((n["createdBy"]["kind"], n["createdBy"]["name"]) for n in notes) == [
        ("PLUGIN", "noter"),
        ("USER", "Rita Boss"),
    ]


async def test_the_guides_sms_received_example_runs() -> None:
    """The guide's "Testing `sms_received` end to end" example, run as written, with a MyPlugin."""
    section = GUIDE.read_text().split("### Testing `sms_received` end to end", 1)[1]
    (block,) = python_blocks(section.split("\n## ", 1)[0])

    class MyPlugin:
        name = "my-plugin"

        def __init__(self) -> None:
            self.texts: list[str] = []

        @hookimpl
        def sms_received(self, event: CardEvent) -> None:
            self.texts.append(event.subject["body"])

    namespace: dict[str, Any] = {"MyPlugin": MyPlugin}
    exec(compile(block, "docs/plugins.md", "exec"), namespace)
    await namespace["test_a_text_reaches_my_plugin"]()
