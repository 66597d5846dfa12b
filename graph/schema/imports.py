"""Imports (D7) as the API shows them: inputs, the preview, the template."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload

from crm import file_links
from crm.errors import BadInput
from graph.context import Info

IMPORT_TEMPLATE_PURPOSE = b"dossier-import-template:"
IMPORT_TEMPLATE_PATH = "/import-template"
FILE_HELP = (
    "The file (.csv in any common encoding and delimiter, .xlsx, legacy .xls or .ods), sent as a part "
    "of a multipart request (the GraphQL multipart request spec). Its first row names the columns; "
    "a workbook is read from its sheet named as the template's (Contacts), else its first sheet. "
    "Through the API at most DOSSIER_ATTACHMENT_MAX_BYTES (25 MB: ~250,000 rows of 10 columns); "
    "`dossier import` takes up to 100 MB."
)


@strawberry.enum(description="What importContacts makes of each row.")
class ImportMode(Enum):
    LEADS = strawberry.enum_value(
        "LEADS",
        description="A lead of the contact it matches (made when none does); a row with the email and phone "
        "of an existing lead is stored as a DUPLICATE lead and reported.",
    )
    CONTACTS = strawberry.enum_value(
        "CONTACTS",
        description="A contact; a row whose email or phone is a contact's merges into it (fills empty "
        "fields, never overwrites) and marks it hasNewData.",
    )


@strawberry.enum(description="The import template's file format.")
class ImportFormat(Enum):
    CSV = "CSV"
    XLSX = strawberry.enum_value(
        "XLSX", description="A workbook with one sheet, Contacts (opens where .xls does)."
    )


@strawberry.input(description="Which contact field a column of the file fills.")
class ImportColumnMapping:
    column: str = strawberry.field(description="The column's header, as in the file (case aside).")
    field: str | None = strawberry.field(
        description="A createContact input field (firstName, email, phone, street, city, leadSource...) or "
        "customField:<key>; null skips the column."
    )


@strawberry.input
class ImportContactsInput:
    file: Upload = strawberry.field(description=FILE_HELP)
    mapping: list[ImportColumnMapping] | None = strawberry.field(
        default=None,
        description="Columns to fields (at most 200). Columns left out are matched by their header "
        "(previewImport shows how); a field named twice or unknown is BAD_USER_INPUT.",
    )
    mode: ImportMode = strawberry.field(default=ImportMode.CONTACTS, description="CONTACTS by default.")
    dry_run: bool = strawberry.field(
        default=False,
        description="Check every row and report what would happen, writing no contact, lead or journey "
        "entry.",
    )


@strawberry.input
class PreviewImportInput:
    file: Upload = strawberry.field(description=FILE_HELP)


@strawberry.input
class ClearNewDataInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")


@strawberry.type(description="One column of a file to import, and the field it would fill.")
class ImportColumn:
    column: str = strawberry.field(description="The header, as in the file.")
    field: str | None = strawberry.field(
        description="The field it is matched to without a mapping; null: none (the column is skipped)."
    )
    suggestions: list[str] = strawberry.field(
        description="For a column matched to nothing: the closest fields, best first."
    )


@strawberry.type(description="What importContacts would read from a file.")
class ImportPreview:
    filename: str
    format: str = strawberry.field(description="CSV or XLSX (any workbook: .xlsx, .xls, .ods).")
    sheet: str | None = strawberry.field(description="The sheet read, for a workbook.")
    rows: int = strawberry.field(description="Data rows (blank rows aside).")
    columns: list[ImportColumn]
    sample: list[list[str]] = strawberry.field(
        description="The first rows, cells in column order (at most 5)."
    )


@strawberry.type(description="The example file to fill in and import (importTemplate).")
class ImportTemplate:
    name: str = strawberry.field(description="The file's name.")
    content_type: str
    sheet_name: str = strawberry.field(description="The sheet an import reads from (XLSX).")
    columns: list[str] = strawberry.field(
        description="Its headers: every importable contact field, then the account's custom fields."
    )
    _format: strawberry.Private[str]
    _account_id: strawberry.Private[int]

    @strawberry.field(description="A signed link to download it, working for expiresIn seconds.")
    def download_url(
        self,
        info: Info,
        expires_in: Annotated[
            int, strawberry.argument(description=f"1 to {file_links.MAX_EXPIRES_IN} seconds.")
        ] = file_links.DEFAULT_EXPIRES_IN,
    ) -> str:
        if not 1 <= expires_in <= file_links.MAX_EXPIRES_IN:
            raise BadInput(
                f"expiresIn must be between 1 and {file_links.MAX_EXPIRES_IN} seconds, got {expires_in}",
                field="expiresIn",
            )
        number = list(ImportFormat.__members__).index(self._format)
        token = file_links.make_token(number, self._account_id, expires_in, purpose=IMPORT_TEMPLATE_PURPOSE)
        base = (file_links.public_url() or str(info.context.request.base_url)).rstrip("/")
        return f"{base}{IMPORT_TEMPLATE_PATH}/{token}"
