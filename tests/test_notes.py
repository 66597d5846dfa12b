"""Notes on a card (B4): sanitised rich text, the 1500-character limit, who may edit and delete."""

from __future__ import annotations

from typing import Any

import pytest

from crm.models import Note as NoteModel
from crm.services import accounts
from graph.ids import global_id
from tests.conftest import Api, Tenant

NOTE_FIELDS = "id body text textLength createdAt updatedAt author { name } contact { id }"
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
ADD = f"mutation($i: AddNoteInput!) {{ addNote(input: $i) {{ {NOTE_FIELDS} }} }}"
EDIT = f"mutation($i: EditNoteInput!) {{ editNote(input: $i) {{ {NOTE_FIELDS} }} }}"
DELETE = f"mutation($i: DeleteNoteInput!) {{ deleteNote(input: $i) {{ {NOTE_FIELDS} }} }}"
CARD = f"""
query($id: ID!) {{
  contact(id: $id) {{
    notes {{ {NOTE_FIELDS} }}
    journey(first: 100) {{
      totalCount
      nodes {{ kind summary subjectId actor {{ name }} changes {{ field before after }} }}
    }}
  }}
}}
"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Note {{ {NOTE_FIELDS} }} }} }}"
REL = 'rel="noopener noreferrer nofollow"'


async def new_contact(api: Api) -> str:
    data = await api.data(CREATE_CONTACT, {"i": {"firstName": "Ada", "lastName": "Lovelace"}})
    return data["createContact"]["id"]


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id}))["contact"]


async def add(api: Api, contact_id: str, body: str) -> dict[str, Any]:
    return (await api.data(ADD, {"i": {"contactId": contact_id, "body": body}}))["addNote"]


def changes_of(entry: dict[str, Any]) -> dict[str, list[Any]]:
    return {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}


# --------------------------------------------------------------------------------------
# addNote: what survives sanitising
# --------------------------------------------------------------------------------------


async def test_allowed_formatting_survives(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    body = (
        "<p>Call went <b>well</b>, <strong>very</strong> <i>keen</i> and <em>ready</em>, "
        "<u>budget</u> approved.<br>Next:</p>"
        "<ul><li>send contract</li></ul><ol><li>book kickoff</li></ol>"
        '<a href="https://docs.example.com/proposal">proposal</a>'
    )

    note = await add(as_admin, contact_id, body)

    for tag in (
        "<p>",
        "<b>well</b>",
        "<strong>very</strong>",
        "<i>keen</i>",
        "<em>ready</em>",
        "<u>budget</u>",
    ):
        assert tag in note["body"]
    assert "<br>" in note["body"]
    assert "<ul><li>send contract</li></ul>" in note["body"]
    assert "<ol><li>book kickoff</li></ol>" in note["body"]
    assert f'<a href="https://docs.example.com/proposal" {REL}>proposal</a>' in note["body"]
    assert note["text"] == (
        "Call went well, very keen and ready, budget approved.Next:send contractbook kickoffproposal"
    )
    assert note["textLength"] == len(note["text"])
    assert note["author"] == {"name": "Acme Admin"}
    assert note["contact"] == {"id": contact_id}

    data = await card(as_admin, contact_id)
    assert data["notes"] == [note]
    entry = data["journey"]["nodes"][0]
    assert entry["kind"] == "NOTE_ADDED"
    assert entry["subjectId"] == note["id"]
    assert "Call went well" in entry["summary"]
    assert "<b>" not in entry["summary"]
    assert changes_of(entry) == {"body": [None, note["body"]]}
    assert (await as_admin.data(NODE, {"id": note["id"]}))["node"] == note


async def test_links_get_rel_and_lose_other_attributes(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    note = await add(
        as_admin,
        contact_id,
        '<a href="https://example.com/a" target="_blank" rel="opener" title="t" class="c" id="x">a</a> '
        '<a href="mailto:ada@example.com">mail</a> <a href="tel:+14155550123">phone</a>',
    )
    body = note["body"]
    assert body.count(REL) == 3
    for kept in ('href="https://example.com/a"', 'href="mailto:ada@example.com"', 'href="tel:+14155550123"'):
        assert kept in body
    for dropped in ("target=", "_blank", 'rel="opener"', "class=", "id="):
        assert dropped not in body
    assert note["text"] == "a mail phone"


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example.com/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="jav&#x09;ascript:alert(1)">click</a>',
    '<a href=" javascript:alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    '<a href="vbscript:msgbox(1)">click</a>',
    '<b onclick="steal()">bold</b>',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<u onmouseover="alert(1)" style="color:red">u</u>',
    "<style>body{display:none}</style>",
    '<iframe src="https://evil.example.com"></iframe>',
    "<svg onload=alert(1)><circle/></svg>",
    '<math><mi xlink:href="javascript:alert(1)">m</mi></math>',
    '<object data="javascript:alert(1)"></object><embed src="x.swf">',
    "<body onload=alert(1)>",
    '<form action="https://evil.example.com"><input name=x><button>go</button></form>',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<a href="https://ok.example.com" onclick="alert(1)" style="x">ok</a>',
    "<!--<script>alert(1)</script>-->",
    '<img src="javascript:alert(1)">',
    '<div style="width: expression(alert(1))">d</div>',
]


DANGERS = (
    "<script", "onerror", "onload", "onclick", "onmouseover", "javascript:", "vbscript:", "data:", "style=",
    "<style", "<iframe", "<img", "<svg", "<object", "<embed", "<form", "<input", "<div", "<body", "<math",
)  # fmt: skip


async def test_scripts_styles_handlers_and_bad_urls_are_stripped(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)

    returned = [
        (await add(as_admin, contact_id, f"<p>Safe {i}</p>{p}"))["body"] for i, p in enumerate(XSS_PAYLOADS)
    ]

    stored = list(reversed((await card(as_admin, contact_id))["notes"]))
    assert [n["body"] for n in stored] == returned
    for i, (payload, note) in enumerate(zip(XSS_PAYLOADS, stored, strict=True)):
        lowered = note["body"].lower()
        for danger in DANGERS:
            assert danger not in lowered, f"{danger!r} survived {payload!r}: {note['body']!r}"
        assert note["body"].startswith(f"<p>Safe {i}</p>")
        assert f"Safe {i}" in note["text"]


async def test_escaped_markup_stays_text(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    note = await add(as_admin, contact_id, "Client wrote &lt;script&gt;alert(1)&lt;/script&gt; in the form")
    assert "<script" not in note["body"]
    assert "&lt;script&gt;" in note["body"]
    assert note["text"] == "Client wrote <script>alert(1)</script> in the form"


# --------------------------------------------------------------------------------------
# addNote: length
# --------------------------------------------------------------------------------------


def heavy_markup(visible: int) -> str:
    """`visible` characters of text wrapped in as much allowed markup as possible, with entities."""
    chunk = (
        "<p><b>a</b><strong>b</strong><i>c</i><em>d</em><u>e</u>"
        '<a href="https://example.com/a/rather/long/path?with=query&amp;more=1">f</a>'
        "<ul><li>g</li></ul><ol><li>&amp;</li></ol>&lt;&quot;<br></p>"
    )  # 10 visible characters: abcdefg & < "
    assert visible % 10 == 0
    return chunk * (visible // 10)


def at_most_16_kib(visible: int) -> str:
    """`visible` characters: 600 of them in heavy markup, the rest plain, within the 16 KiB a
    note's markup may take (tests/test_note_limits.py)."""
    return heavy_markup(600) + "<p>" + "x" * (visible - 600) + "</p>"


async def test_exactly_1500_visible_characters_are_accepted_whatever_the_markup(
    as_admin: Api, acme: Tenant
) -> None:
    contact_id = await new_contact(as_admin)
    body = at_most_16_kib(1500)
    assert len(body) > 10_000

    note = await add(as_admin, contact_id, body)

    assert note["textLength"] == 1500
    assert len(note["text"]) == 1500
    assert note["text"].startswith('abcdefg&<"abcdefg')
    assert note["body"].count("<a href=") == 60


async def test_entities_count_as_one_character(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    note = await add(as_admin, contact_id, "Tom &amp; Jerry &lt;3 &#169; &eacute;")
    assert note["text"] == "Tom & Jerry <3 © é"
    assert note["textLength"] == 18

    at_limit = await add(as_admin, contact_id, "&amp;" * 1500)
    assert at_limit["textLength"] == 1500
    assert at_limit["text"] == "&" * 1500


TOO_LONG = {
    "markup+1": at_most_16_kib(1501),
    "plain": "y" * 1501,
    "entities": "&amp;" * 1501,
    "bold": "<b>" + "z" * 1501 + "</b>",
}
EMPTY = [
    "", "   ", "\n\t", "<p></p>", "<b> </b><br><ul><li></li></ul>", "<script>alert(1)</script>",
    "<img src=x>", "<!-- only a comment -->", "<style>p{}</style><iframe></iframe>",
]  # fmt: skip


async def test_1501_visible_characters_are_refused_and_nothing_is_stored(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    before = await card(as_admin, contact_id)

    for name, body in TOO_LONG.items():
        error = await as_admin.error(ADD, {"i": {"contactId": contact_id, "body": body}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", name
        assert error["extensions"]["field"] == "body", name
        assert "at most 1500" in error["message"], name
        assert "this one has 1501" in error["message"], (name, error["message"])

    assert await card(as_admin, contact_id) == before
    assert await NoteModel.all().count() == 0


async def test_empty_or_markup_only_note_is_refused(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    before = await card(as_admin, contact_id)

    for body in EMPTY:
        error = await as_admin.error(ADD, {"i": {"contactId": contact_id, "body": body}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert error["extensions"]["field"] == "body", body
        assert "needs some text" in error["message"], body

    assert await card(as_admin, contact_id) == before
    assert await NoteModel.all().count() == 0


async def test_add_note_on_unknown_or_foreign_contact_is_not_found(
    as_admin: Api, acme: Tenant, globex: Tenant
) -> None:
    foreign = await new_contact(as_admin.as_(globex.admin_key))
    for contact_id in (foreign, str(global_id("Contact", 31337))):
        error = await as_admin.error(ADD, {"i": {"contactId": contact_id, "body": "hello"}})
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert await NoteModel.all().count() == 0


async def test_notes_are_listed_newest_first(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    first = await add(as_admin, contact_id, "first")
    second = await add(as_admin, contact_id, "second")
    third = await add(as_admin, contact_id, "third")
    notes = (await card(as_admin, contact_id))["notes"]
    assert [n["id"] for n in notes] == [third["id"], second["id"], first["id"]]


# --------------------------------------------------------------------------------------
# editNote
# --------------------------------------------------------------------------------------


async def test_author_edits_a_note_and_the_journey_keeps_old_and_new(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    contact_id = await new_contact(rep)
    note = await add(rep, contact_id, "<b>Wants</b> a demo")

    edited = (
        await rep.data(
            EDIT, {"i": {"id": note["id"], "body": '<i>Wants</i> a demo <img src=x onerror="x()">'}}
        )
    )["editNote"]

    assert edited["id"] == note["id"]
    assert edited["body"] == "<i>Wants</i> a demo"
    assert edited["text"] == "Wants a demo"
    assert edited["author"] == {"name": "Acme Rep"}
    assert edited["createdAt"] == note["createdAt"]
    data = await card(rep, contact_id)
    assert data["notes"] == [edited]
    entry = data["journey"]["nodes"][0]
    assert entry["kind"] == "NOTE_EDITED"
    assert entry["actor"] == {"name": "Acme Rep"}
    assert entry["subjectId"] == note["id"]
    assert changes_of(entry) == {"body": ["<b>Wants</b> a demo", "<i>Wants</i> a demo"]}


async def test_an_edit_that_changes_nothing_writes_no_journey(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    note = await add(as_admin, contact_id, "<b>same</b>")
    before = await card(as_admin, contact_id)
    # The same text once sanitised: the script goes, what is left is unchanged.
    same = await as_admin.data(EDIT, {"i": {"id": note["id"], "body": "<b>same</b><script>x</script>"}})
    assert same["editNote"]["body"] == "<b>same</b>"
    assert await card(as_admin, contact_id) == before


@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_managers_and_admins_edit_anybodys_note(api: Api, acme: Tenant, role: str) -> None:
    rep = api.as_(acme.rep_key)
    boss = api.as_(getattr(acme, f"{role}_key"))
    contact_id = await new_contact(rep)
    note = await add(rep, contact_id, "rep's note")

    edited = (await boss.data(EDIT, {"i": {"id": note["id"], "body": "corrected note"}}))["editNote"]

    assert edited["body"] == "corrected note"
    assert edited["author"] == {"name": "Acme Rep"}  # still the rep's note
    entry = (await card(boss, contact_id))["journey"]["nodes"][0]
    assert entry["kind"] == "NOTE_EDITED"
    assert entry["actor"] == {"name": f"Acme {role.title()}"}
    assert changes_of(entry) == {"body": ["rep's note", "corrected note"]}


async def test_another_rep_cannot_edit_the_note(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    rep_two = api.as_((await accounts.create_user("Acme", "Rep Two", "rep2@acme.example.com", "rep")).key)
    contact_id = await new_contact(rep)
    note = await add(rep, contact_id, "mine")
    before = await card(rep, contact_id)

    error = await rep_two.error(EDIT, {"i": {"id": note["id"], "body": "hijacked"}})

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "author" in error["message"]
    assert await card(rep, contact_id) == before


async def test_edit_with_bad_body_changes_nothing(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    note = await add(as_admin, contact_id, "original")
    before = await card(as_admin, contact_id)

    for body, message in (("<p> </p>", "needs some text"), ("w" * 1501, "at most 1500")):
        error = await as_admin.error(EDIT, {"i": {"id": note["id"], "body": body}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert message in error["message"]

    assert await card(as_admin, contact_id) == before


async def test_edit_unknown_or_foreign_note_is_not_found(as_admin: Api, acme: Tenant, globex: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    note = await add(as_admin, contact_id, "acme only")
    before = await card(as_admin, contact_id)

    missing = await as_admin.error(EDIT, {"i": {"id": str(global_id("Note", 5555)), "body": "x"}})
    foreign = await as_admin.error(EDIT, {"i": {"id": note["id"], "body": "x"}}, key=globex.admin_key)

    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert foreign["extensions"]["code"] == "NOT_FOUND"
    assert await card(as_admin, contact_id) == before


# --------------------------------------------------------------------------------------
# deleteNote
# --------------------------------------------------------------------------------------


async def test_delete_returns_the_note_and_the_journey_keeps_its_text(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    contact_id = await new_contact(rep)
    keep = await add(rep, contact_id, "keep me")
    note = await add(rep, contact_id, "<b>Budget</b> is 10k &amp; decision in May")

    deleted = (await rep.data(DELETE, {"i": {"id": note["id"]}}))["deleteNote"]

    assert deleted == note
    gone = await rep.error(NODE, {"id": note["id"]})
    assert gone["extensions"]["code"] == "NOT_FOUND"
    data = await card(rep, contact_id)
    assert [n["id"] for n in data["notes"]] == [keep["id"]]
    entry = data["journey"]["nodes"][0]
    assert entry["kind"] == "NOTE_DELETED"
    assert entry["actor"] == {"name": "Acme Rep"}
    assert entry["subjectId"] == note["id"]
    assert "Budget is 10k & decision in May" in entry["summary"]
    assert changes_of(entry) == {"body": ["<b>Budget</b> is 10k &amp; decision in May", None]}

    again = await rep.error(DELETE, {"i": {"id": note["id"]}})
    assert again["extensions"]["code"] == "NOT_FOUND"
    assert await card(rep, contact_id) == data


async def test_another_rep_cannot_delete_the_note(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    rep_two = api.as_((await accounts.create_user("Acme", "Rep Two", "rep2@acme.example.com", "rep")).key)
    contact_id = await new_contact(rep)
    note = await add(rep, contact_id, "mine")
    before = await card(rep, contact_id)

    error = await rep_two.error(DELETE, {"i": {"id": note["id"]}})

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert await card(rep, contact_id) == before
    assert (await rep_two.data(NODE, {"id": note["id"]}))["node"] == note


@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_managers_and_admins_delete_anybodys_note(api: Api, acme: Tenant, role: str) -> None:
    rep = api.as_(acme.rep_key)
    boss = api.as_(getattr(acme, f"{role}_key"))
    contact_id = await new_contact(rep)
    note = await add(rep, contact_id, "rep's note")

    deleted = (await boss.data(DELETE, {"i": {"id": note["id"]}}))["deleteNote"]

    assert deleted["id"] == note["id"]
    data = await card(rep, contact_id)
    assert data["notes"] == []
    assert data["journey"]["nodes"][0]["kind"] == "NOTE_DELETED"
    assert data["journey"]["nodes"][0]["actor"] == {"name": f"Acme {role.title()}"}


async def test_a_foreign_account_cannot_delete_the_note(as_admin: Api, acme: Tenant, globex: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    note = await add(as_admin, contact_id, "acme only")
    before = await card(as_admin, contact_id)

    error = await as_admin.error(DELETE, {"i": {"id": note["id"]}}, key=globex.admin_key)

    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await card(as_admin, contact_id) == before
