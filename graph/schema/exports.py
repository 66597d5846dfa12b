"""Exports (D8): the table's export input and format, and one contact's export (GDPR)."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from crm import file_links
from crm.exports.columns import CUSTOM_PREFIX, DEFAULT_COLUMNS, DERIVED, MAX_COLUMNS
from crm.exports.formats import FileFormat
from graph.schema.contact_filter import ContactFilter
from graph.schema.jobs import BulkJob, JobFile

ExportFormat = strawberry.enum(
    FileFormat,
    name="ExportFormat",
    description="CSV (UTF-8 with a byte order mark, formula-safe cells) or XLSX (every cell text).",
)

_COLUMNS_HELP = (
    f"1 to {MAX_COLUMNS} columns, in the file's order: the Contact type's field names (firstName, email, "
    "status, assignedTo, setterOwner, closerOwner, createdAt...), tags, "
    f"{CUSTOM_PREFIX}<key> for a custom field, or a derived figure: "
    + "; ".join(f"{name} ({what})" for name, (_, what) in DERIVED.items())
    + f". Default: {', '.join(DEFAULT_COLUMNS)}. An unknown name is BAD_USER_INPUT."
)


@strawberry.input(
    description="Which contacts to export -- exactly one of filter, segmentId and ids -- with which "
    "columns, in which format."
)
class ExportContactsInput:
    filter: ContactFilter | None = strawberry.field(
        default=None, description="The contacts this filter matches (as contacts(filter:) does)."
    )
    segment_id: strawberry.ID | None = strawberry.field(default=None, description="A segment's members.")
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="These contacts (selected rows of the table)."
    )
    archived: bool = strawberry.field(
        default=False, description="With filter or segmentId: archived contacts instead of live ones."
    )
    columns: list[str] | None = strawberry.field(default=None, description=_COLUMNS_HELP)
    format: ExportFormat = strawberry.field(default=FileFormat.CSV, description="The file's format.")  # type: ignore[valid-type]


EXPIRES_HELP = (
    f"Seconds the document's file links (attachments[].downloadUrl) work, 1 to {file_links.MAX_EXPIRES_IN}."
)


@strawberry.type(description="Everything tied to one contact: a GDPR access request's answer.")
class ContactExport:
    document: JSON = strawberry.field(
        description="Every section of the card as JSON: the contact, its journey, messages, notes, "
        "calls, deals, tasks, leads, quotes, jobs, invoices and their lines, rewards, invited "
        "contacts, custom fields, tags, segments, and its files (attachments) each with a signed "
        "downloadUrl. Times are ISO 8601 UTC; amounts decimal strings."
    )
    file: JobFile = strawberry.field(
        description="The ZIP: contact.json (the document, files by their path in the ZIP), README.txt "
        "and the files themselves."
    )
    job: BulkJob = strawberry.field(
        description="The finished job that keeps the ZIP: who exported the contact, and when."
    )
