"""Importing contacts and leads (D7): importContacts, previewImport, importTemplate, clearNewData,
`dossier import`; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from crm import jobs, outbox
from crm.events import AccountEvent
from crm.models import BackgroundJob, Contact, CustomFieldValue, JobError, JourneyEvent, Lead
from crm.services import imports
from dossier import Settings
from graph.ids import global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant

FIXTURES = Path(__file__).parent / "fixtures" / "import"

IMPORT = """
mutation($i: ImportContactsInput!) {
  importContacts(input: $i) {
    id kind status total done skipped failed dryRun result
    skippedByReason { reason count }
    errors(first: 50) { nodes { row column code message } }
    file { name contentType size downloadUrl }
  }
}"""
PREVIEW = """
mutation($i: PreviewImportInput!) {
  previewImport(input: $i) { filename format sheet rows sample columns { column field suggestions } }
}"""
JOB = """
query($id: ID!) {
  job(id: $id) {
    id kind status total done skipped failed progress
    ... on BulkJob {
      dryRun result
      skippedByReason { reason count }
      errors(first: 50) { nodes { row column code message contact { id } } }
      file { name contentType size downloadUrl }
    }
  }
}"""
TEMPLATE = """
query($f: ImportFormat) { importTemplate(format: $f) { name contentType sheetName columns downloadUrl } }
"""
CLEAR = """
mutation($i: ClearNewDataInput!) { clearNewData(input: $i) { id hasNewData newDataAt } }
"""
CARD = "query($id: ID!) { contact(id: $id) { id email phone address { city } hasNewData newDataAt } }"


class Recorder:
    def __init__(self) -> None:
        self.events: list[AccountEvent] = []

    @hookimpl
    def contacts_imported(self, event: AccountEvent) -> None:
        self.events.append(event)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, disabled_plugins=builtin_names(), job_batch_size=2)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def api(running_app: AppFactory, recorder: Recorder) -> Any:
    async with running_app(plugins=(recorder,)) as started:
        yield started


async def post_file(
    api: Api,
    query: str,
    data: bytes,
    filename: str,
    extra: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> dict[str, Any]:
    variables = {"i": {"file": None, **(extra or {})}}
    operations = orjson.dumps({"query": query, "variables": variables}).decode()
    response = await api.client.post(
        "/graphql",
        data={"operations": operations, "map": orjson.dumps({"0": ["variables.i.file"]}).decode()},
        files={"0": (filename, data, "application/octet-stream")},
        headers={"Authorization": f"Bearer {key or api.key}"},
    )
    assert response.status_code < 500, response.text
    return response.json()


async def start(api: Api, data: bytes, filename: str, **extra: Any) -> dict[str, Any]:
    body = await post_file(api, IMPORT, data, filename, extra)
    assert not body.get("errors"), body
    return body["data"]["importContacts"]


async def refused(api: Api, data: bytes, filename: str, **extra: Any) -> dict[str, Any]:
    body = await post_file(api, IMPORT, data, filename, extra)
    assert body.get("data") is None and len(body["errors"]) == 1, body
    return body["errors"][0]


async def run(api: Api, data: bytes, filename: str, **extra: Any) -> dict[str, Any]:
    job = await start(api, data, filename, **extra)
    await api.runtime.dispatcher.drain()
    return (await api.data(JOB, {"id": job["id"]}))["job"]


def counts(job: dict[str, Any]) -> dict[str, int]:
    """The import's own counts in BulkJob.result (which also holds `skipped` by reason)."""
    return {k: job["result"][k] for k in ("created", "merged", "duplicates", "invalid")}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


async def download(api: Api, url: str) -> bytes:
    response = await api.client.get(url.removeprefix("http://dossier.test"))
    assert response.status_code == 200, response.text
    return response.content


async def define(api: Api, key: str, type_: str, **extra: Any) -> None:
    query = "mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) { key } }"
    await api.data(
        query, {"i": {"key": key, "label": extra.pop("label", key.title()), "type": type_, **extra}}
    )


# -- the fixtures, each format ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["contacts.csv", "contacts.xlsx", "contacts.xls"])
async def test_bad_rows_are_reported_and_skipped_good_rows_imported(
    as_admin: Api, acme: Tenant, recorder: Recorder, name: str
) -> None:
    """The fixtures' .xlsx and legacy .xls were written by LibreOffice Calc from contacts.csv."""
    await define(
        as_admin, "favourite_colour", "SELECT", options=["blue", "red", "green"], label="Favourite colour"
    )
    job = await run(as_admin, fixture(name), name)
    assert (job["kind"], job["status"], job["total"], job["progress"]) == ("import.contacts", "DONE", 6, 1.0)
    assert (job["done"], job["skipped"], job["failed"]) == (2, 4, 0)
    assert counts(job) == {"created": 2, "merged": 0, "duplicates": 0, "invalid": 4}
    assert job["skippedByReason"] == [{"reason": "INVALID", "count": 4}]
    errors = [(e["row"], e["column"], e["code"]) for e in job["errors"]["nodes"]]
    assert errors == [
        (4, "E-mail", "INVALID"),
        (5, "Mobile", "INVALID"),
        (6, None, "INVALID"),
        (7, "Country", "INVALID"),
        (7, "Favourite colour", "INVALID"),
    ]
    messages = {(e["row"], e["column"]): e["message"] for e in job["errors"]["nodes"]}
    assert "not a valid email address" in messages[(4, "E-mail")]
    assert "is not a country" in messages[(7, "Country")]
    assert "not one of its options" in messages[(7, "Favourite colour")]
    assert messages[(6, None)] == "a contact needs at least a name, business name, email or phone"

    rows = (
        await Contact.filter(account__name="Acme")
        .order_by("id")
        .values("first_name", "email", "phone", "zip", "country")
    )
    assert rows == [
        {
            "first_name": "Ada",
            "email": "ada@example.com",
            "phone": "+14155550101",
            "zip": "NW1",
            "country": "GB",
        },
        {
            "first_name": "Grace",
            "email": "grace@example.com",
            "phone": "+14155550102",
            "zip": "22201",
            "country": "US",
        },
    ]
    assert await CustomFieldValue.filter(value_text__in=["blue", "red"]).count() == 2
    kinds = await JourneyEvent.filter(kind="CONTACT_IMPORTED").values_list("summary", flat=True)
    assert len(kinds) == 2 and all(f"from {name}" in s for s in kinds)

    # The report: the bad rows as they were, with their errors.
    assert job["file"]["contentType"] == "text/csv" and job["file"]["name"].endswith("-report.csv")
    report = list(csv.reader(io.StringIO((await download(as_admin, job["file"]["downloadUrl"])).decode())))
    assert report[0][:4] == ["row", "errors", "First Name", "Last Name"]
    assert [r[0] for r in report[1:]] == ["4", "5", "6", "7"]
    assert report[1][2:4] == ["Bad", "Email"] and "E-mail:" in report[1][1]

    # One hook for the whole file.
    await as_admin.runtime.dispatcher.drain()
    [event] = recorder.events
    assert event.subject == {
        "jobId": event.subject_id, "filename": name, "mode": "CONTACTS",
        "created": 2, "merged": 0, "duplicates": 0, "invalid": 4,
    }  # fmt: skip


async def test_encodings_and_delimiters_are_sniffed(as_admin: Api) -> None:
    job = await run(as_admin, fixture("cp1252.csv"), "cp1252.csv")
    assert (job["status"], job["done"], job["skipped"]) == ("DONE", 2, 0)
    names = await Contact.all().order_by("id").values_list("first_name", "last_name", "city")
    assert names == [("Françoise", "Müller", "Zürich"), ("Seán", "Ó Bríain", "Gaillimh")]

    mapping = [
        {"column": "Prénom", "field": "firstName"},
        {"column": "Nom", "field": "lastName"},
        {"column": "Téléphone", "field": "phone"},
        {"column": "Ville", "field": "city"},
    ]
    job = await run(as_admin, fixture("bom_semicolon.csv"), "bom_semicolon.csv", mapping=mapping)
    assert (job["status"], job["done"], job["skipped"]) == ("DONE", 2, 0)
    found = (
        await Contact.filter(email__in=["jose@example.com", "renee@example.com"])
        .order_by("id")
        .values_list("first_name", "last_name", "phone", "city")
    )
    assert found == [("José", "García", "+34912345678", "Madrid"), ("Renée", "Dupont", None, "Lyon")]


# -- mapping and preview --------------------------------------------------------------------------


async def test_preview_matches_headers_and_suggests_fields(as_admin: Api) -> None:
    await define(as_admin, "favourite_colour", "TEXT", label="Favourite colour")
    data = csv_bytes(
        [
            ["E-mail", "Mobile", "Zip code", "Favourite colour", "Frist name", "Notes"],
            ["a@example.com", "", "", "", "", ""],
        ]
    )
    body = await post_file(as_admin, PREVIEW, data, "people.csv")
    preview = body["data"]["previewImport"]
    assert (preview["filename"], preview["format"], preview["rows"]) == ("people.csv", "CSV", 1)
    assert preview["sample"] == [["a@example.com", "", "", "", "", ""]]
    columns = {c["column"]: (c["field"], c["suggestions"]) for c in preview["columns"]}
    assert columns["E-mail"] == ("email", [])
    assert columns["Mobile"] == ("phone", [])
    assert columns["Zip code"] == ("zip", [])
    assert columns["Favourite colour"] == ("customField:favourite_colour", [])
    assert columns["Frist name"][0] is None and columns["Frist name"][1][0] == "firstName"
    assert columns["Notes"][0] is None

    body = await post_file(as_admin, PREVIEW, fixture("contacts.xls"), "contacts.xls")
    assert body["data"]["previewImport"]["format"] == "XLS"
    assert body["data"]["previewImport"]["sheet"] == "spreadsheet"


@pytest.mark.parametrize(
    ("mapping", "says"),
    [
        ([{"column": "Email", "field": "emial"}], "'emial' is not an importable field (did you mean email"),
        ([{"column": "Email", "field": "customField:nope"}], "is not an importable field"),
        ([{"column": "Nope", "field": "email"}], "the file does not have"),
        (
            [{"column": "Email", "field": "email"}, {"column": "Name", "field": "email"}],
            "given to two columns",
        ),
        (
            [{"column": "Email", "field": None}, {"column": "Name", "field": None}],
            "no column of the file matches",
        ),
    ],
)
async def test_mapping_errors_change_nothing(as_admin: Api, mapping: list[dict[str, Any]], says: str) -> None:
    data = csv_bytes([["Email", "Name"], ["a@example.com", "A"]])
    error = await refused(as_admin, data, "people.csv", mapping=mapping)
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and says in error["message"], error
    assert await BackgroundJob.all().count() == 0 and await Contact.all().count() == 0


@pytest.mark.parametrize(
    ("data", "filename", "says"),
    [
        (b"", "empty.csv", "the file is empty"),
        (b"\n\n", "blank.csv", "is empty"),
        (b"Email,,Phone\na@example.com,x,1\n", "gap.csv", "column 2 of 'gap.csv' has no header"),
        (b"Email,email\na,b\n", "twice.csv", "appears twice"),
        (b"not a workbook", "fake.xlsx", "named like a spreadsheet but is not one"),
        (b"PK\x03\x04garbage", "broken.xlsx", "could not be read as a spreadsheet"),
    ],
)
async def test_unreadable_files_are_bad_input(as_admin: Api, data: bytes, filename: str, says: str) -> None:
    error = await refused(as_admin, data, filename)
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and says in error["message"], error
    assert await BackgroundJob.all().count() == 0


async def test_a_required_custom_field_without_a_column_is_refused_up_front(as_admin: Api) -> None:
    await define(as_admin, "region", "TEXT", required=True)
    error = await refused(as_admin, csv_bytes([["Email"], ["a@example.com"]]), "people.csv")
    assert "required custom field(s) region" in error["message"]


# -- CONTACTS mode: merging ------------------------------------------------------------------------


@pytest.mark.parametrize("part_rows", [1, 250])
async def test_contacts_mode_merges_filling_empty_fields_never_overwriting(
    as_admin: Api, acme: Tenant, monkeypatch: pytest.MonkeyPatch, part_rows: int
) -> None:
    """`part_rows` 1: each row written while the next is checked (crm/services/imports.py), so a
    row must find the contact the previous part of its batch made."""
    monkeypatch.setattr(imports, "PART_ROWS", part_rows)
    create = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
    first = (await as_admin.data(create, {"i": {"firstName": "Ada", "email": "Ada@Example.com"}}))[
        "createContact"
    ]["id"]
    second = (
        await as_admin.data(
            create, {"i": {"firstName": "Bob", "phone": "+14155550199", "address": {"city": "Oslo"}}}
        )
    )["createContact"]["id"]
    data = csv_bytes(
        [
            ["First name", "Email", "Phone", "City"],
            [
                "Augusta",
                "ada@example.com",
                "+14155550101",
                "London",
            ],  # email, case aside: fills phone and city
            ["Robert", "", "+14155550199", "Bergen"],  # phone: city already set, kept
            ["Carl", "carl@example.com", "", "Rome"],  # new
            ["", "CARL@example.com", "+14155550177", ""],  # the new one again, in the same file
        ]
    )
    job = await run(as_admin, data, "merge.csv", mode="CONTACTS")
    assert counts(job) == {"created": 1, "merged": 3, "duplicates": 0, "invalid": 0}
    assert (job["done"], job["skipped"]) == (4, 0)

    ada = (await as_admin.data(CARD, {"id": first}))["contact"]
    assert (ada["email"], ada["phone"], ada["address"]["city"], ada["hasNewData"]) == (
        "Ada@example.com",
        "+14155550101",
        "London",
        True,
    )
    bob = (await as_admin.data(CARD, {"id": second}))["contact"]
    assert (bob["address"]["city"], bob["hasNewData"]) == ("Oslo", True)
    names = await Contact.all().order_by("id").values_list("first_name", "email", "phone")
    assert names == [
        ("Ada", "Ada@example.com", "+14155550101"),
        ("Bob", None, "+14155550199"),
        ("Carl", "carl@example.com", "+14155550177"),
    ]
    merged = await JourneyEvent.filter(kind="CONTACT_IMPORTED").order_by("id").values("summary", "changes")
    assert merged[0]["changes"] == {"phone": [None, "+14155550101"], "city": [None, "London"]}
    assert merged[1]["changes"] == {} and "filled nothing new" in merged[1]["summary"]

    cleared = (await as_admin.data(CLEAR, {"i": {"contactId": first}}))["clearNewData"]
    assert (cleared["hasNewData"], cleared["newDataAt"]) == (False, None)
    entry = await JourneyEvent.filter(kind="CONTACT_UPDATED").order_by("-id").first()
    assert entry is not None and "new-data mark" in entry.summary


async def test_clear_new_data_refuses_other_accounts(as_admin: Api, globex: Tenant) -> None:
    other = await make_tenant("Initech")
    create = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
    theirs = (await as_admin.as_(other.admin_key).data(create, {"i": {"firstName": "X"}}))["createContact"][
        "id"
    ]
    error = await as_admin.error(CLEAR, {"i": {"contactId": theirs}})
    assert error["extensions"]["code"] == "NOT_FOUND"


# -- LEADS mode ------------------------------------------------------------------------------------


async def test_leads_mode_marks_same_email_and_phone_as_duplicate(as_admin: Api) -> None:
    data = csv_bytes(
        [
            ["First name", "Email", "Phone"],
            ["Ada", "ada@example.com", "+14155550101"],
            ["Bob", "bob@example.com", ""],
        ]
    )
    job = await run(as_admin, data, "leads.csv", mode="LEADS")
    assert counts(job) == {"created": 2, "merged": 0, "duplicates": 0, "invalid": 0}
    assert await Lead.all().count() == 2 and set(await Lead.all().values_list("status", flat=True)) == {"NEW"}

    again = csv_bytes(
        [
            ["First name", "Email", "Phone"],
            ["Ada", "ADA@example.com", "+14155550101"],  # same email and phone: DUPLICATE
            ["Bob", "bob@example.com", "+14155550102"],  # same email, new phone: a new lead of Bob
        ]
    )
    job = await run(as_admin, again, "leads2.csv", mode="LEADS")
    assert counts(job) == {"created": 0, "merged": 0, "duplicates": 1, "invalid": 0}
    assert job["done"] == 2
    [error] = job["errors"]["nodes"]
    assert (error["row"], error["code"]) == (2, "DUPLICATE") and error["contact"] is not None
    leads = await Lead.all().order_by("id").values_list("status", "match_reason", "form_name")
    assert leads[2:] == [
        ("DUPLICATE", "EMAIL_AND_PHONE", "Import leads2.csv"),
        ("NEW", "EMAIL", "Import leads2.csv"),
    ]
    assert await Contact.all().count() == 2
    bob = await Contact.get(email="bob@example.com")
    assert bob.phone == "+14155550102"  # filled, it was empty
    assert await JourneyEvent.filter(kind="CONTACT_IMPORTED", subject_type="Lead").count() == 4


# -- dry run, resumption, cancel, tenancy ----------------------------------------------------------


async def test_a_dry_run_reports_and_writes_nothing(as_admin: Api, recorder: Recorder) -> None:
    job = await run(as_admin, fixture("contacts.csv"), "contacts.csv", dryRun=True)
    assert (job["status"], job["dryRun"], job["done"], job["skipped"]) == ("DONE", True, 2, 4)
    assert counts(job) == {"created": 2, "merged": 0, "duplicates": 0, "invalid": 4}
    assert len(job["errors"]["nodes"]) == 4 and job["file"] is not None
    assert await Contact.all().count() == 0 and await JourneyEvent.all().count() == 0
    await as_admin.runtime.dispatcher.drain()
    assert recorder.events == []


async def test_a_worker_killed_between_batches_resumes_without_importing_twice(as_admin: Api) -> None:
    rows = [["First name", "Email"]] + [[f"P{n}", f"p{n}@example.com"] for n in range(5)]
    job = await start(as_admin, csv_bytes(rows), "five.csv")
    [delivery] = [d for d in await outbox.claim_due(10, 0) if d.plugin == jobs.JOB_PLUGIN]
    assert await jobs.run_step(delivery.payload)
    assert await Contact.all().count() == 2
    # The same step delivered again (the worker died before marking it done) does nothing.
    assert not await jobs.run_step(delivery.payload)
    await as_admin.runtime.dispatcher.drain()
    job = (await as_admin.data(JOB, {"id": job["id"]}))["job"]
    assert (job["status"], job["done"], job["total"]) == ("DONE", 5, 5)
    assert sorted(await Contact.all().values_list("first_name", flat=True)) == [f"P{n}" for n in range(5)]
    assert await JourneyEvent.filter(kind="CONTACT_IMPORTED").count() == 5


async def test_cancel_stops_the_import_before_its_next_batch(as_admin: Api) -> None:
    rows = [["First name"]] + [[f"P{n}"] for n in range(6)]
    job = await start(as_admin, csv_bytes(rows), "six.csv")
    [delivery] = [d for d in await outbox.claim_due(10, 0) if d.plugin == jobs.JOB_PLUGIN]
    assert await jobs.run_step(delivery.payload)
    cancel = "mutation($i: CancelJobInput!) { cancelJob(input: $i) { status } }"
    assert (await as_admin.data(cancel, {"i": {"id": job["id"]}}))["cancelJob"]["status"] == "CANCELLED"
    await as_admin.runtime.dispatcher.drain()
    assert await Contact.all().count() == 2


async def test_imports_stay_in_their_account(as_admin: Api, acme: Tenant, globex: Tenant) -> None:
    create = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
    await as_admin.as_(globex.admin_key).data(
        create, {"i": {"firstName": "G", "email": "shared@example.com"}}
    )
    job = await run(as_admin, csv_bytes([["Email", "City"], ["shared@example.com", "Oslo"]]), "x.csv")
    assert job["result"]["created"] == 1  # Globex's contact with that email is not Acme's to merge into
    theirs = await Contact.get(email="shared@example.com", account__name="Globex")
    assert theirs.city is None and theirs.new_data_at is None
    error = await as_admin.as_(globex.admin_key).error(JOB, {"id": job["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await JobError.all().count() == 0


# -- the template ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["CSV", "XLSX"])
async def test_the_template_has_every_field_and_imports_as_is(as_admin: Api, fmt: str) -> None:
    await define(as_admin, "favourite_colour", "TEXT", label="Favourite colour")
    template = (await as_admin.data(TEMPLATE, {"f": fmt}))["importTemplate"]
    assert template["sheetName"] == "Contacts"
    assert template["columns"][:3] == ["First name", "Last name", "Business name"]
    assert "Favourite colour" in template["columns"] and "Lead source" in template["columns"]
    data = await download(as_admin, template["downloadUrl"])
    preview = (await post_file(as_admin, PREVIEW, data, template["name"]))["data"]["previewImport"]
    assert all(c["field"] for c in preview["columns"]), preview["columns"]
    if fmt == "XLSX":
        assert preview["sheet"] == "Contacts"
    job = await run(as_admin, data, template["name"])
    assert (job["status"], job["done"], job["skipped"]) == ("DONE", 1, 0)
    assert await Contact.filter(email="ada@example.com").exists()

    forged = template["downloadUrl"].rsplit(".", 1)[0] + ".forged"
    assert (await as_admin.client.get(forged.removeprefix("http://dossier.test"))).status_code == 404


async def test_contact_ids_are_global(as_admin: Api) -> None:
    job = await run(as_admin, csv_bytes([["Email"], ["z@example.com"]]), "z.csv")
    contact = await Contact.get(email="z@example.com")
    card = (await as_admin.data(CARD, {"id": global_id_text("Contact", contact.id)}))["contact"]
    assert card["hasNewData"] is False and job["id"].startswith(("QnVsa0pvYj", "BulkJob"))
