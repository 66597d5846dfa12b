"""One contact with everything tied to it: the GDPR access request's document and ZIP.

The sections are found from the models themselves: every model with a foreign key to Contact
is a section (its rows where that key is this contact), so a card section added later is in the
document without anyone remembering to add it here. `EXCLUDED` lists the few that are not the
person's data, each with why (tests/test_export.py fails when a new one is neither). A few
sections reach the contact through another row and are listed in `_indirect`: invoice and quote
lines, shares of call recordings, the contacts this one invited, segments (static by membership,
dynamic by evaluating their filter now).

Columns that are bookkeeping, not data about the person (`account_id`, storage keys, send keys,
dedupe fingerprints), are left out. Values are JSON: times ISO 8601 in UTC, decimals as strings.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.fields.relational import ForeignKeyFieldInstance, OneToOneFieldInstance
from tortoise.models import Model

from crm import file_links, storage
from crm.clock import utcnow
from crm.custom_values import VALUE_COLUMNS, shown
from crm.exports.batches import as_time
from crm.exports.xlsx import ZipSink
from crm.models import (
    Attachment,
    Contact,
    ContactTag,
    CustomFieldValue,
    LineItem,
    RecordingShare,
    Segment,
    SegmentMember,
    User,
)
from crm.storage import ObjectMissing

ZIP_TYPE = "application/zip"
DOCUMENT_NAME = "contact.json"
# Models with a key to Contact that are not the person's data, and why.
EXCLUDED: dict[str, str] = {
    "JobError": "a job's bookkeeping (an import row or bulk action that failed), not the person's data",
    "Notification": "the account users' own inbox (reminders about the contact), kept with the users",
    "Contact": "the contact itself; `inviter` and `invited` are sections of their own, merged contacts "
    "are absorbed into this one",
}
# Columns that say nothing about the person: internal keys and dedupe machinery.
HIDDEN_COLUMNS = frozenset(
    {"account_id", "storage_key", "send_key", "fingerprint", "key_hash", "due_version"}
)


@dataclass
class ContactData:
    document: dict[str, Any]
    files: list[dict[str, Any]]  # attachments: id, filename, storage key, path in the ZIP


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_time(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: jsonable(value) for key, value in row.items() if key not in HIDDEN_COLUMNS}


def _section_name(model: type[Model]) -> str:
    table = model._meta.db_table
    head, *rest = table.split("_")
    name = head + "".join(part.title() for part in rest)
    return name[:-1] + "ies" if name.endswith("y") else name + "s"


def contact_keys() -> list[tuple[type[Model], str]]:
    """(model, the key's column) of every model with a foreign key (or 1:1) to Contact."""
    found = []
    for model in Tortoise.apps["models"].values():
        for name, field in model._meta.fields_map.items():
            if (
                isinstance(field, ForeignKeyFieldInstance | OneToOneFieldInstance)
                and field.related_model is Contact
            ):
                found.append((model, f"{name}_id"))
    return found


def sections() -> list[tuple[str, type[Model], str]]:
    """(section name, model, key column) of the direct sections, by name: a model's table in
    camelCase and plural (`journey_event` -> journeyEvents), `...As<Key>` for a key other
    than contact_id (a merge's `primary`)."""
    found = []
    for model, key in contact_keys():
        if model.__name__ in EXCLUDED:
            continue
        name = _section_name(model)
        found.append((name if key == "contact_id" else f"{name}As{key[:-3].title()}", model, key))
    return sorted(found, key=lambda section: section[0])


async def _indirect(
    account_id: int, contact_id: int, conn: BaseDBAsyncClient | None
) -> dict[str, list[dict[str, Any]]]:
    from crm.contact_filters import matching_contacts  # the filters compile with the model registry

    lines = (
        await LineItem.filter(Q(quote__contact_id=contact_id) | Q(invoice__contact_id=contact_id))
        .using_db(conn)
        .order_by("id")
        .values()
    )
    shares = (
        await RecordingShare.filter(attachment__contact_id=contact_id).using_db(conn).order_by("id").values()
    )
    invited = (
        await Contact.filter(inviter_id=contact_id)
        .using_db(conn)
        .order_by("id")
        .values("id", "first_name", "last_name", "business_name", "created_at")
    )
    segments = []
    members = set(
        await SegmentMember.filter(contact_id=contact_id).using_db(conn).values_list("segment_id", flat=True)
    )
    for segment in await Segment.filter(account_id=account_id).using_db(conn).order_by("id"):
        member = segment.id in members
        if segment.kind == "DYNAMIC" and segment.filter_spec is not None:
            try:
                matched = await matching_contacts(account_id, segment.filter_spec, archived=None)
                member = await matched.filter(id=contact_id).using_db(conn).exists()
            except Exception:  # a segment whose filter no longer compiles names nobody
                member = False
        if member:
            segments.append({"id": segment.id, "name": segment.name, "kind": segment.kind})
    tags = (
        await ContactTag.filter(contact_id=contact_id)
        .using_db(conn)
        .order_by("id")
        .values("tag__name", "created_at")
    )
    custom = []
    for value in (
        await CustomFieldValue.filter(contact_id=contact_id)
        .using_db(conn)
        .order_by("id")
        .values("field__key", "field__label", "field__type", *VALUE_COLUMNS)
    ):
        shown_value = shown(value["field__type"], value)
        custom.append({"key": value["field__key"], "label": value["field__label"], "value": shown_value})
    return {
        "tags": [{"name": t["tag__name"], "addedAt": t["created_at"]} for t in tags],
        "customFields": custom,
        "lineItems": lines,
        "recordingShares": shares,
        "invited": invited,
        "segments": segments,
    }


async def read(account_id: int, contact_id: int, conn: BaseDBAsyncClient | None = None) -> ContactData:
    """Every section of the contact (it must be in `account_id`: the caller checked); `conn`: a
    transaction to read in (the demo's seed)."""
    contact = await Contact.filter(id=contact_id, account_id=account_id).using_db(conn).first().values()
    users = dict(await User.filter(account_id=account_id).using_db(conn).values_list("id", "name"))
    for owner in ("setter_owner", "closer_owner", "assigned_to"):
        contact[f"{owner}_name"] = users.get(contact.get(f"{owner}_id"))
    inviter = None
    if contact.get("inviter_id"):
        inviter = (
            await Contact.filter(id=contact["inviter_id"], account_id=account_id)
            .using_db(conn)
            .first()
            .values("id", "first_name", "last_name", "business_name")
        )
    document: dict[str, Any] = {
        "exportedAt": utcnow().isoformat(),
        "contact": _row(contact),
        "inviter": _row(inviter) if inviter else None,
    }
    for name, model, key in sections():
        rows = await model.filter(**{key: contact_id}).using_db(conn).order_by("id").values()
        document[name] = [_row(r) for r in rows]
    for name, rows in (await _indirect(account_id, contact_id, conn)).items():
        document[name] = [_row(r) if isinstance(r, dict) else r for r in rows]
    files = []
    for attachment in (
        await Attachment.filter(contact_id=contact_id, account_id=account_id)
        .using_db(conn)
        .order_by("id")
        .values("id", "filename", "storage_key", "size", "content_type")
    ):
        safe = attachment["filename"].replace("/", "_").replace("\\", "_") or "file"
        files.append({**attachment, "path": f"files/{attachment['id']}-{safe}"})
    paths = {f["id"]: f["path"] for f in files}
    for entry in document.get("attachments", []):
        entry["path"] = paths.get(entry["id"])
    return ContactData(document, files)


def with_links(data: ContactData, account_id: int, base_url: str, expires_in: int) -> dict[str, Any]:
    """The document as the API answers it: each file with a signed `downloadUrl`."""
    document = dict(data.document)
    linked = []
    for entry in document.get("attachments", []):
        token = file_links.make_token(entry["id"], account_id, expires_in)
        linked.append({**entry, "downloadUrl": file_links.download_url(base_url, token)})
    document["attachments"] = linked
    return document


_README = """Data held about contact {id} ({name}), exported {at} (UTC).

contact.json   every record tied to the contact, one section per kind of record:
               "contact" is the card itself; "journeyEvents" its history (who did what,
               when); "messages", "notes", "calls", "deals", "tasks", "leads", "quotes",
               "invoices", "jobs", "lineItems", "rewardEntries", "customFieldValues",
               "segments" and the others hold what their names say. Times are ISO 8601
               in UTC, amounts are decimal strings.
files/         the files attached to the card (and call recordings), named
               <attachment id>-<file name>; "attachments" in contact.json describes each.
"""


async def zip_stream(data: ContactData) -> AsyncIterator[bytes]:
    """The ZIP: contact.json, README.txt and the files, streamed from storage (memory holds a
    chunk, whatever the files' sizes)."""
    contact = data.document["contact"]
    name = (
        " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
        or contact.get("business_name")
        or contact.get("email")
        or "Guest"
    )
    sink = ZipSink()
    store = storage.current()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        archive.writestr(DOCUMENT_NAME, json.dumps(data.document, indent=2, ensure_ascii=False))
        archive.writestr(
            "README.txt", _README.format(id=contact["id"], name=name, at=data.document["exportedAt"])
        )
        yield sink.take()
        for file in data.files:
            try:
                chunks = await store.open(file["storage_key"])
            except ObjectMissing:  # reported by `dossier storage sweep`; the rest is still owed
                continue
            with archive.open(file["path"], "w", force_zip64=True) as out:
                async for chunk in chunks:
                    out.write(chunk)
                    if written := sink.take():
                        yield written
    yield sink.take()
