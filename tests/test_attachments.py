"""Attachments (B8): uploads both ways, the size limit, sniffing and the block-list, signed
download links, deletion, contact deletion, merges, the sweep and the journey -- on both backends."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from crm import file_links
from crm.models import Account, Attachment, BackgroundJob
from crm.services import attachments as attachment_service
from crm.storage import current as current_storage
from dossier import Settings
from graph.ids import global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant

FIELDS = (
    "id kind title filename contentType size sha256 createdAt uploadedBy { name } contact { id } downloadUrl"
)
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
ADD = f"mutation($i: AddAttachmentInput!) {{ addAttachment(input: $i) {{ {FIELDS} }} }}"
DELETE = f"mutation($i: DeleteAttachmentInput!) {{ deleteAttachment(input: $i) {{ {FIELDS} }} }}"
CARD = f"""
query($id: ID!, $first: Int = 20, $after: String) {{
  contact(id: $id) {{
    attachments(first: $first, after: $after) {{
      nodes {{ {FIELDS} }} pageInfo {{ hasNextPage endCursor }}
    }}
    journey(first: 20) {{ nodes {{ kind summary subjectId changes {{ field before after }} }} }}
  }}
}}
"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Attachment {{ {FIELDS} }} }} }}"
LINK = "query($id: ID!, $s: Int!) { node(id: $id) { ... on Attachment { downloadUrl(expiresIn: $s) } } }"

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + b"PE\x00\x00"
    + b"\x00" * 400
)
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>\n"
)


# --------------------------------------------------------------------------------------
# Helpers: the two ways in, and the way out
# --------------------------------------------------------------------------------------


async def new_contact(api: Api, name: str = "Ada") -> str:
    return (await api.data(CREATE_CONTACT, {"i": {"firstName": name, "lastName": "Lovelace"}}))[
        "createContact"
    ]["id"]


async def graphql_upload(
    api: Api,
    contact_id: str,
    data: bytes,
    filename: str,
    *,
    title: str | None = None,
    key: str | None = None,
    content_type: str = "application/octet-stream",
) -> dict[str, Any]:
    """addAttachment over the GraphQL multipart request spec: the whole response body."""
    variables: dict[str, Any] = {"i": {"contactId": contact_id, "file": None}}
    if title is not None:
        variables["i"]["title"] = title
    operations = orjson.dumps({"query": ADD, "variables": variables}).decode()
    response = await api.client.post(
        "/graphql",
        data={"operations": operations, "map": orjson.dumps({"0": ["variables.i.file"]}).decode()},
        files={"0": (filename, data, content_type)},
        headers={"Authorization": f"Bearer {key or api.key}"},
    )
    assert response.status_code < 500, response.text
    return response.json()


async def upload(api: Api, contact_id: str, data: bytes, filename: str, **kwargs: Any) -> dict[str, Any]:
    body = await graphql_upload(api, contact_id, data, filename, **kwargs)
    assert not body.get("errors"), body
    return body["data"]["addAttachment"]


async def upload_error(
    api: Api, contact_id: str, data: bytes, filename: str, **kwargs: Any
) -> dict[str, Any]:
    body = await graphql_upload(api, contact_id, data, filename, **kwargs)
    assert body.get("data") is None and len(body["errors"]) == 1, body
    return body["errors"][0]


async def form_upload(
    api: Api, fields: dict[str, str], file: tuple[str, bytes, str] | None, *, key: str | None = ""
) -> Any:
    headers = {"Authorization": f"Bearer {key or api.key}"} if key is not None else {}
    files = {"file": file} if file is not None else {"unused": ("x.txt", b"x", "text/plain")}
    return await api.client.post("/attachments", data=fields, files=files, headers=headers)


def path_of(url: str) -> str:
    return url.split("dossier.test", 1)[1] if "dossier.test" in url else "/" + url.split("/", 3)[3]


async def download(api: Api, url: str, **headers: str) -> Any:
    return await api.client.get(path_of(url), headers=headers)


def objects(settings: Settings) -> list[Path]:
    """Every file in the storage folder, temporary ones included."""
    root = Path(settings.storage_dir or "")
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def rows() -> list[dict[str, Any]]:
    return await Attachment.all().order_by("id").values()


# --------------------------------------------------------------------------------------
# Uploading
# --------------------------------------------------------------------------------------


async def test_graphql_multipart_upload_records_the_file_and_serves_it_back(
    as_admin: Api, acme: Tenant, settings: Settings
) -> None:
    contact_id = await new_contact(as_admin)

    made = await upload(as_admin, contact_id, PDF, "proposal.pdf", title="  Signed   proposal ")

    assert made["kind"] == "FILE"
    assert made["title"] == "Signed proposal"
    assert made["filename"] == "proposal.pdf"
    assert made["contentType"] == "application/pdf"
    assert made["size"] == len(PDF)
    assert made["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert made["uploadedBy"] == {"name": "Acme Admin"}
    assert made["contact"] == {"id": contact_id}
    assert made["downloadUrl"].startswith("http://dossier.test/files/")
    stored = objects(settings)
    assert len(stored) == 1 and stored[0].read_bytes() == PDF

    got = await download(as_admin, made["downloadUrl"])
    assert got.status_code == 200
    assert got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert (
        got.headers["content-disposition"]
        == "attachment; filename=\"proposal.pdf\"; filename*=UTF-8''proposal.pdf"
    )
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"].startswith("sandbox")
    assert got.headers["content-length"] == str(len(PDF))

    card = (await as_admin.data(CARD, {"id": contact_id}))["contact"]
    assert [n["id"] for n in card["attachments"]["nodes"]] == [made["id"]]
    entry = card["journey"]["nodes"][0]
    assert entry["kind"] == "ATTACHMENT_ADDED"
    assert entry["summary"] == f"Acme Admin attached a file: Signed proposal (proposal.pdf, {len(PDF)} bytes)"
    assert entry["changes"] == [{"field": "attachment", "before": None, "after": "proposal.pdf"}]
    assert entry["subjectId"] == made["id"]
    node = (await as_admin.data(NODE, {"id": made["id"]}))["node"]
    assert {k: v for k, v in node.items() if k != "downloadUrl"} == {
        k: v for k, v in made.items() if k != "downloadUrl"
    }


async def test_the_plain_form_upload_takes_an_api_key_like_graphql(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    name = "Café menu.png"

    response = await form_upload(
        as_admin, {"contactId": contact_id, "title": "Menu"}, (name, PNG, "image/png")
    )

    assert response.status_code == 201, response.text
    made = response.json()
    assert made["title"] == "Menu"
    assert made["filename"] == name
    assert made["contentType"] == "image/png"
    assert made["sha256"] == hashlib.sha256(PNG).hexdigest()
    got = await download(as_admin, made["downloadUrl"])
    assert got.content == PNG
    assert got.headers["content-disposition"].endswith("filename*=UTF-8''Caf%C3%A9%20menu.png")
    node = (await as_admin.data(NODE, {"id": made["id"]}))["node"]
    assert node["filename"] == name and node["uploadedBy"] == {"name": "Acme Admin"}

    missing = await form_upload(
        as_admin, {"contactId": contact_id}, ("a.pdf", PDF, "application/pdf"), key=None
    )
    assert missing.status_code == 401
    assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    wrong = await form_upload(
        as_admin, {"contactId": contact_id}, ("a.pdf", PDF, "application/pdf"), key="dsk_nope"
    )
    assert wrong.status_code == 401
    no_file = await form_upload(as_admin, {"contactId": contact_id}, None)
    assert no_file.status_code == 400
    assert no_file.json()["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "file",
        "requestId": no_file.headers["x-request-id"],
    }
    bad_id = await form_upload(as_admin, {"contactId": "nope"}, ("a.pdf", PDF, "application/pdf"))
    assert bad_id.status_code == 400
    json_body = await as_admin.client.post(
        "/attachments", json={"contactId": contact_id}, headers={"Authorization": f"Bearer {as_admin.key}"}
    )
    assert json_body.status_code == 415
    assert len(await rows()) == 1


@pytest.mark.parametrize("way", ["graphql", "form"])
async def test_one_byte_over_the_limit_stores_nothing_and_exactly_at_it_is_fine(
    running_app: AppFactory, settings: Settings, way: str
) -> None:
    limit = 20_000
    async with running_app(attachment_max_bytes=limit) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await new_contact(api)
        over = PDF + b"0" * (limit + 1 - len(PDF))
        if way == "graphql":
            error = await upload_error(api, contact_id, over, "big.pdf")
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
            message = error["message"]
        else:
            response = await form_upload(api, {"contactId": contact_id}, ("big.pdf", over, "application/pdf"))
            assert response.status_code == 400
            message = response.json()["errors"][0]["message"]
        assert message == (
            "the file is over the size limit of 20,000 bytes (20,000 bytes, DOSSIER_ATTACHMENT_MAX_BYTES);"
            " nothing was stored"
        )
        assert await rows() == []
        assert objects(settings) == []  # no object, no temporary file

        exact = over[:limit]
        made = await upload(api, contact_id, exact, "exact.pdf")
        assert made["size"] == limit
        assert made["sha256"] == hashlib.sha256(exact).hexdigest()
        assert [p.read_bytes() for p in objects(settings)] == [exact]


async def test_a_body_far_over_the_limit_is_refused_at_the_edge(
    running_app: AppFactory, settings: Settings
) -> None:
    async with running_app(attachment_max_bytes=1000) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await new_contact(api)
        response = await form_upload(
            api, {"contactId": contact_id}, ("huge.bin", b"x" * 200_000, "text/plain")
        )
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
        assert objects(settings) == []


@pytest.mark.parametrize(
    ("data", "filename", "what"),
    [
        (EXE, "invoice.pdf", "a Windows program (PE/DOS executable)"),
        (ELF, "photo.png", "a Linux/Unix program (ELF)"),
        (b"#!/bin/sh\nrm -rf ~\n", "notes.txt", "a script (#! line)"),
        (b"@echo off\r\ndel *.*\r\n", "cleanup.bat", "named .bat, a type that runs when opened"),
        (b"PK\x03\x04" + b"\x00" * 100, "tool.jar", "named .jar, a type that runs when opened"),
    ],
)
async def test_programs_are_refused_by_their_bytes_whatever_their_name(
    as_admin: Api, acme: Tenant, settings: Settings, data: bytes, filename: str, what: str
) -> None:
    contact_id = await new_contact(as_admin)

    error = await upload_error(as_admin, contact_id, data, filename, content_type="application/pdf")

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "file"
    assert error["message"] == f"the file is {what}; programs, installers and scripts cannot be attached"
    assert await rows() == []
    assert objects(settings) == []
    card = (await as_admin.data(CARD, {"id": contact_id}))["contact"]
    assert [e["kind"] for e in card["journey"]["nodes"]] == ["CONTACT_CREATED"]


async def test_an_svg_with_a_script_is_only_ever_served_as_a_sandboxed_download(
    as_admin: Api, acme: Tenant
) -> None:
    contact_id = await new_contact(as_admin)
    made = await upload(as_admin, contact_id, SVG, "logo.svg", content_type="image/svg+xml")
    html = await upload(as_admin, contact_id, b"<!DOCTYPE html><script>alert(1)</script>", "page.html")

    assert made["contentType"] == "image/svg+xml"
    assert html["contentType"] == "text/html"
    for item, body in ((made, SVG), (html, b"<!DOCTYPE html><script>alert(1)</script>")):
        got = await download(as_admin, item["downloadUrl"])
        assert got.status_code == 200 and got.content == body
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"] == "sandbox; default-src 'none'"


async def test_text_and_unknown_bytes_get_honest_types(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    csv = await upload(as_admin, contact_id, "name,city\nZoë,Zürich\n".encode(), "list.csv")
    note = await upload(as_admin, contact_id, b"MZ is a fine way to start a sentence.\n", "mz.txt")
    blob = await upload(as_admin, contact_id, bytes([0, 1, 2, 3, 250, 251]) * 10, "data.bin", title="Blob")
    assert (csv["contentType"], note["contentType"], blob["contentType"]) == (
        "text/csv", "text/plain", "application/octet-stream"
    )  # fmt: skip
    assert blob["title"] == "Blob" and csv["title"] == "list.csv"
    empty = await upload_error(as_admin, contact_id, b"", "empty.txt")
    assert (empty["extensions"]["code"], empty["message"]) == ("BAD_USER_INPUT", "the file is empty")
    long_title = await upload_error(as_admin, contact_id, PDF, "a.pdf", title="x" * 201)
    assert long_title["extensions"]["field"] == "title"
    folder = await upload(as_admin, contact_id, PDF, "../../etc/passwd.pdf")
    assert folder["filename"] == "passwd.pdf"


async def test_a_json_value_instead_of_a_file_is_bad_input(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    error = await as_admin.error(ADD, {"i": {"contactId": contact_id, "file": "not a file"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "multipart" in error["message"]
    assert await rows() == []


# --------------------------------------------------------------------------------------
# Download links
# --------------------------------------------------------------------------------------


async def test_forged_expired_and_foreign_tokens_all_answer_the_same_404(
    api: Api, acme: Tenant, globex: Tenant
) -> None:
    as_acme, as_globex = api.as_(acme.admin_key), api.as_(globex.admin_key)
    mine = await upload(as_acme, await new_contact(as_acme), PDF, "a.pdf")
    theirs = await upload(as_globex, await new_contact(as_globex, "Gus"), PNG, "b.png")
    assert (await download(api, mine["downloadUrl"])).status_code == 200
    token = path_of(mine["downloadUrl"]).removeprefix("/files/")
    attachment_id, account_id, expires, signature = token.split(".")
    globex_account = (await Account.get(name="Globex")).id
    their_id = int(theirs["id"] and (await Attachment.get(filename="b.png")).id)

    forged_signature = f"{attachment_id}.{account_id}.{expires}.{signature[:-2]}AA"
    other_file = f"{their_id}.{account_id}.{expires}.{signature}"
    later = f"{attachment_id}.{account_id}.{int(expires) + 3600}.{signature}"
    expired = file_links.make_token(int(attachment_id), int(account_id), 60, now=time.time() - 3600)
    # Correctly signed, but for Globex's account: the file is Acme's, so it is not found.
    foreign = file_links.make_token(int(attachment_id), globex_account, 300)
    theirs_as_ours = file_links.make_token(their_id, int(account_id), 300)
    answers = []
    for bad in (
        forged_signature,
        other_file,
        later,
        expired,
        foreign,
        theirs_as_ours,
        "nonsense",
        "1.2.3.4.5",
    ):
        got = await api.client.get(f"/files/{bad}")
        assert got.status_code == 404, bad
        answers.append(got.json()["errors"][0]["message"])
    assert set(answers) == {"this download link is invalid or has expired; ask the API for a new downloadUrl"}

    short = (await as_acme.data(LINK, {"id": mine["id"], "s": 1}))["node"]["downloadUrl"]
    assert int(path_of(short).split("/")[-1].split(".")[2]) <= time.time() + 2
    for seconds in (0, 604_801):
        error = await as_acme.error(LINK, {"id": mine["id"], "s": seconds})
        assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "expiresIn")


async def test_another_accounts_contact_and_file_are_not_found(
    api: Api, acme: Tenant, globex: Tenant, settings: Settings
) -> None:
    as_acme, as_globex = api.as_(acme.admin_key), api.as_(globex.admin_key)
    acme_contact = await new_contact(as_acme)
    mine = await upload(as_acme, acme_contact, PDF, "a.pdf")

    error = await upload_error(as_globex, acme_contact, PDF, "sneaky.pdf")
    assert error["extensions"]["code"] == "NOT_FOUND"
    form = await form_upload(as_globex, {"contactId": acme_contact}, ("sneaky.pdf", PDF, "application/pdf"))
    assert form.status_code == 404
    for query in (NODE, DELETE):
        variables = {"id": mine["id"]} if query is NODE else {"i": {"id": mine["id"]}}
        assert (await as_globex.error(query, variables))["extensions"]["code"] == "NOT_FOUND"
    assert [r["filename"] for r in await rows()] == ["a.pdf"]
    assert len(objects(settings)) == 1


async def test_range_requests_serve_part_of_the_file(as_admin: Api, acme: Tenant) -> None:
    made = await upload(as_admin, await new_contact(as_admin), PNG, "pic.png")
    size = len(PNG)

    part = await download(as_admin, made["downloadUrl"], Range="bytes=8-15")
    assert part.status_code == 206
    assert part.content == PNG[8:16]
    assert part.headers["content-range"] == f"bytes 8-15/{size}"
    tail = await download(as_admin, made["downloadUrl"], Range="bytes=-4")
    assert (tail.status_code, tail.content) == (206, PNG[-4:])
    rest = await download(as_admin, made["downloadUrl"], Range=f"bytes={size - 2}-")
    assert rest.content == PNG[-2:]
    beyond = await download(as_admin, made["downloadUrl"], Range=f"bytes={size}-")
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"


# --------------------------------------------------------------------------------------
# Deleting, and what goes with a contact
# --------------------------------------------------------------------------------------


async def test_uploader_or_manager_deletes_and_the_object_goes_after_commit(
    api: Api, acme: Tenant, settings: Settings
) -> None:
    as_rep, as_manager = api.as_(acme.rep_key), api.as_(acme.manager_key)
    contact_id = await new_contact(as_rep)
    own = await upload(as_rep, contact_id, PDF, "mine.pdf")
    admins = await upload(api.as_(acme.admin_key), contact_id, PNG, "boss.png")

    refused = await as_rep.error(DELETE, {"i": {"id": admins["id"]}})
    assert refused["extensions"]["code"] == "FORBIDDEN"
    assert len(objects(settings)) == 2

    gone = (await as_rep.data(DELETE, {"i": {"id": own["id"]}}))["deleteAttachment"]
    assert gone["filename"] == "mine.pdf"
    await as_manager.data(DELETE, {"i": {"id": admins["id"]}})

    assert await rows() == []
    assert objects(settings) == []
    assert (await download(api, own["downloadUrl"])).status_code == 404
    again = await as_manager.error(DELETE, {"i": {"id": own["id"]}})
    assert again["extensions"]["code"] == "NOT_FOUND"
    card = (await as_manager.data(CARD, {"id": contact_id}))["contact"]
    kinds = [(e["kind"], e["summary"]) for e in card["journey"]["nodes"][:2]]
    assert kinds == [
        ("ATTACHMENT_DELETED", "Acme Manager deleted a file: boss.png (boss.png)"),
        ("ATTACHMENT_DELETED", "Acme Rep deleted a file: mine.pdf (mine.pdf)"),
    ]


async def test_deleting_a_contact_deletes_its_files_from_storage(
    as_admin: Api, acme: Tenant, settings: Settings
) -> None:
    doomed, kept = await new_contact(as_admin, "Doomed"), await new_contact(as_admin, "Kept")
    for n in range(3):
        await upload(as_admin, doomed, PDF + str(n).encode(), f"d{n}.pdf")
    survivor = await upload(as_admin, kept, PNG, "keep.png")

    await as_admin.data("mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }",
                        {"i": {"ids": [doomed]}})  # fmt: skip
    await as_admin.data("mutation($i: DeleteContactsInput!) { deleteContacts(input: $i) { deletedIds } }",
                        {"i": {"ids": [doomed]}})  # fmt: skip

    assert [r["filename"] for r in await rows()] == ["keep.png"]
    assert [p.read_bytes() for p in objects(settings)] == [PNG]
    assert (await download(as_admin, survivor["downloadUrl"])).status_code == 200


async def test_a_merge_moves_files_to_the_survivor(as_admin: Api, acme: Tenant) -> None:
    primary, duplicate = await new_contact(as_admin, "Ada"), await new_contact(as_admin, "Ada2")
    moved = await upload(as_admin, duplicate, PDF, "dup.pdf")

    await as_admin.data(
        "mutation($i: MergeContactsInput!) { mergeContacts(input: $i) { contact { id } } }",
        {"i": {"primaryId": primary, "duplicateIds": [duplicate]}},
    )

    card = (await as_admin.data(CARD, {"id": primary}))["contact"]
    assert [n["id"] for n in card["attachments"]["nodes"]] == [moved["id"]]
    assert (await download(as_admin, moved["downloadUrl"])).status_code == 200


async def test_a_card_pages_its_files_newest_first(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    made = [await upload(as_admin, contact_id, PDF + bytes([n]), f"f{n}.pdf") for n in range(5)]

    first = (await as_admin.data(CARD, {"id": contact_id, "first": 2}))["contact"]["attachments"]
    second = (
        await as_admin.data(CARD, {"id": contact_id, "first": 10, "after": first["pageInfo"]["endCursor"]})
    )["contact"]["attachments"]

    ids = [m["id"] for m in reversed(made)]
    assert [n["id"] for n in first["nodes"]] == ids[:2] and first["pageInfo"]["hasNextPage"]
    assert [n["id"] for n in second["nodes"]] == ids[2:] and not second["pageInfo"]["hasNextPage"]


async def test_a_page_of_cards_reads_their_files_in_one_statement(
    as_admin: Api, acme: Tenant, count_statements: Any
) -> None:
    for n in range(4):
        contact_id = await new_contact(as_admin, f"C{n}")
        for m in range(n):
            await upload(as_admin, contact_id, PDF + bytes([m]), f"c{n}-{m}.pdf")
    few = "{ contacts(first: 2) { nodes { id } } }"
    files = (
        "{ contacts(first: 4) { nodes { id attachments(first: 2) "
        "{ nodes { filename uploadedBy { name } } pageInfo { hasNextPage } } } } }"
    )
    await as_admin.data(few)
    with count_statements() as base:
        await as_admin.data(few)
    with count_statements() as counter:
        data = await as_admin.data(files)
    assert counter.count == base.count + 1, counter.statements
    counts = sorted(len(c["attachments"]["nodes"]) for c in data["contacts"]["nodes"])
    assert counts == [0, 1, 2, 2]


# --------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------


async def test_the_sweep_removes_old_orphans_keeps_young_ones_and_reports_missing_objects(
    as_admin: Api, acme: Tenant, settings: Settings
) -> None:
    contact_id = await new_contact(as_admin)
    kept = await upload(as_admin, contact_id, PDF, "kept.pdf")
    lost = await upload(as_admin, contact_id, PNG, "lost.png")
    store = current_storage()

    async def chunks(data: bytes) -> Any:
        yield data

    await store.put("1/oldorphan", chunks(b"left by a crash"))
    await store.put("1/youngorphan", chunks(b"upload in flight"))
    root = Path(settings.storage_dir or "")
    two_hours_ago = time.time() - 7200
    os.utime(root / "1" / "oldorphan", (two_hours_ago, two_hours_ago))
    lost_key = (await Attachment.get(filename="lost.png")).storage_key
    await store.delete(lost_key)

    dry = await attachment_service.sweep(grace=timedelta(hours=1), dry_run=True)
    assert (dry.orphans, dry.young, dry.deleted) == (["1/oldorphan"], 1, 0)
    assert (root / "1" / "oldorphan").exists()

    report = await attachment_service.sweep(grace=timedelta(hours=1))
    assert (report.orphans, report.young, report.deleted, report.failed) == (["1/oldorphan"], 1, 1, [])
    lost_id = (await Attachment.get(filename="lost.png")).id
    assert report.missing == [(lost_id, lost_key)]
    assert not (root / "1" / "oldorphan").exists()
    assert (root / "1" / "youngorphan").exists()
    assert (await download(as_admin, kept["downloadUrl"])).status_code == 200
    assert (await download(as_admin, lost["downloadUrl"])).status_code == 404


def test_the_sweep_command_reports_and_deletes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from dossier.cli import main

    folder = tmp_path / "files"
    (folder / "7").mkdir(parents=True)
    orphan = folder / "7" / "orphan"
    orphan.write_bytes(b"x")
    old = time.time() - 3 * 86400
    os.utime(orphan, (old, old))
    monkeypatch.setenv("DOSSIER_DATABASE_URL", f"sqlite://{tmp_path / 'sweep.db'}")
    monkeypatch.setenv("DOSSIER_STORAGE_DIR", str(folder))
    assert main(["migrate"]) == 0

    assert main(["storage", "sweep", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete 1 orphaned object" in out and "7/orphan" in out
    assert orphan.exists()
    assert main(["storage", "sweep", "--older-than", "4d"]) == 0
    assert orphan.exists()
    assert main(["storage", "sweep", "--older-than", "2d"]) == 0
    assert "deleted 1 orphaned object" in capsys.readouterr().out
    assert not orphan.exists()


# --------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------


class Archive:
    name = "archive"

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def attachment_added(self, event: Any) -> None:
        self.events.append(("attachment_added", event))

    @hookimpl
    async def attachment_deleted(self, event: Any) -> None:
        self.events.append(("attachment_deleted", event))


async def test_adding_and_deleting_fire_their_hooks(running_app: AppFactory, settings: Settings) -> None:
    archive = Archive()
    async with running_app(plugins=(archive,), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await new_contact(api)
        made = await upload(
            api, contact_id, PDF, "deal.pdf", title="Deal", content_type="application/x-made-up"
        )
        await api.data(DELETE, {"i": {"id": made["id"]}})
        await api.runtime.dispatcher.drain()

    # The dispatcher delivers the two events independently: in either order.
    (added_hook, added), (deleted_hook, deleted) = sorted(
        archive.events, key=lambda e: e[0] != "attachment_added"
    )
    assert (added_hook, deleted_hook) == ("attachment_added", "attachment_deleted")
    assert added.kind == "ATTACHMENT_ADDED" and deleted.kind == "ATTACHMENT_DELETED"
    assert added.subject_type == "Attachment"
    assert global_id_text("Attachment", added.subject_id) == made["id"]
    assert added.subject == {
        "kind": "FILE", "title": "Deal", "filename": "deal.pdf", "contentType": "application/pdf",
        "size": len(PDF), "sha256": hashlib.sha256(PDF).hexdigest(), "callId": None, "durationSeconds": None,
        "declaredType": "application/x-made-up",
    }  # fmt: skip
    assert deleted.subject == {k: v for k, v in added.subject.items() if k != "declaredType"}


def test_settings_read_the_storage_variables() -> None:
    env = {
        "DOSSIER_ATTACHMENT_MAX_BYTES": "1000",
        "DOSSIER_STORAGE_DIR": "/srv/files",
        "DOSSIER_S3_BUCKET": "crm",
        "DOSSIER_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "DOSSIER_SECRET_KEY": "k",
    }
    settings = Settings.from_env(env)
    assert (settings.attachment_max_bytes, settings.storage_dir, settings.s3_bucket) == (
        1000,
        "/srv/files",
        "crm",
    )
    assert (settings.s3_endpoint_url, settings.secret_key) == ("http://127.0.0.1:9000", "k")
    assert Settings.from_env({}).attachment_max_bytes == 25 * 1024 * 1024
    assert replace(settings, s3_bucket=None).s3_bucket is None
    assert sys.version_info >= (3, 11)


async def test_the_demo_has_files_on_a_few_cards(api: Api, settings: Settings) -> None:
    from dossier.demo import ensure_demo

    demo = await ensure_demo(contacts=60, rich=12)
    as_demo = api.as_(demo.api_key)
    everything = await rows()
    files = [r for r in everything if r["kind"] == "FILE"]  # recordings are the calls' (B2)
    cards = sorted({r["contact_id"] for r in files})
    assert len(cards) == 3 and len(files) == 9
    card = (await as_demo.data(CARD, {"id": global_id_text("Contact", cards[0])}))["contact"]
    by_type = {n["contentType"]: n for n in card["attachments"]["nodes"] if n["kind"] == "FILE"}
    assert set(by_type) == {"application/pdf", "image/png", "text/plain"}
    assert "ATTACHMENT_ADDED" in [e["kind"] for e in card["journey"]["nodes"]]
    got = await download(as_demo, by_type["image/png"]["downloadUrl"])
    assert got.content.startswith(b"\x89PNG")
    assert hashlib.sha256(got.content).hexdigest() == by_type["image/png"]["sha256"]
    # Every row has its object; the rest are the demo's finished jobs' files (an export, a GDPR
    # export's ZIP, an import's report), which jobs name through file_key.
    job_files = await BackgroundJob.exclude(file_key=None).count()
    assert len(objects(settings)) == len(everything) + job_files
