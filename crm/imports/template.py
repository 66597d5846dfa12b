"""The import template (importTemplate): the sheet name and columns an import reads best.

One column per importable contact field, headed by a label that the automatic matching takes
("First name" folds to firstName), then one per live custom field headed by its label (or by
`customField:<key>` when the label would read as a contact field). One example row shows the
expected forms (E.164 or national phones, ISO country codes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence

from crm.imports.mapping import CONTACT_FIELDS, CUSTOM_PREFIX, CustomColumn, fold
from crm.imports.reading import SHEET_NAME

FORMATS = {
    "CSV": ("text/csv", "csv"),
    "XLSX": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}
LABELS = {
    "firstName": "First name",
    "lastName": "Last name",
    "businessName": "Business name",
    "title": "Title",
    "contactType": "Contact type",
    "email": "Email",
    "secondaryEmail": "Secondary email",
    "phone": "Phone",
    "secondaryPhone": "Secondary phone",
    "street": "Street",
    "city": "City",
    "state": "State",
    "zip": "Zip",
    "country": "Country",
    "ipAddress": "IP address",
    "leadSource": "Lead source",
    "actionPlan": "Action plan",
    "salesCycle": "Sales cycle",
}
EXAMPLE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "businessName": "Analytical Engines Ltd",
    "email": "ada@example.com",
    "phone": "+14155550123",
    "city": "London",
    "country": "GB",
}


def columns(custom: Sequence[CustomColumn]) -> list[str]:
    headers = [LABELS.get(api, api) for api in CONTACT_FIELDS]
    taken = {fold(h) for h in headers} | {fold(api) for api in CONTACT_FIELDS}
    for c in custom:
        label = c.label if fold(c.label) not in taken and fold(c.label) else CUSTOM_PREFIX + c.key
        taken.add(fold(label))
        headers.append(label)
    return headers


def example_row(custom: Sequence[CustomColumn]) -> list[str]:
    return [EXAMPLE.get(api, "") for api in CONTACT_FIELDS] + ["" for _ in custom]


async def build(format_: str, custom: Sequence[CustomColumn]) -> tuple[bytes, str, str]:
    """(bytes, file name, content type) of the template in CSV or XLSX. The XLSX is written by
    the exports' writer (crm/exports/xlsx.py): every cell text, so a phone keeps its "+"."""
    content_type, extension = FORMATS[format_]
    header, example = columns(custom), example_row(custom)
    name = f"contacts-import-template.{extension}"
    if format_ == "CSV":
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerows([header, example])
        # A BOM: Excel opens a UTF-8 CSV as UTF-8 only with one.
        return ("\ufeff" + text.getvalue()).encode("utf-8"), name, content_type
    from crm.exports.xlsx import header_xml, package, rows_xml

    async def rows() -> AsyncIterator[bytes]:
        yield header_xml(header)
        yield rows_xml([example], 2)

    return b"".join([chunk async for chunk in package(rows(), sheet_name=SHEET_NAME)]), name, content_type
