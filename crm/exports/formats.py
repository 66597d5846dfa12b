"""The file formats of a table export: how a header and a batch of rows become bytes, and how
the batches' bytes, in order, become the file.

Both are streamed: a batch is rendered on its own (`body`) so job steps can render theirs
separately, and `wrap` turns the sequence of rendered pieces into the file's bytes (CSV: as they
are; XLSX: the package around the sheet's rows, crm/exports/xlsx.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from crm.errors import BadInput
from crm.exports import xlsx
from crm.exports.escaping import csv_safe


class FileFormat(StrEnum):
    CSV = "CSV"
    XLSX = "XLSX"


@dataclass(frozen=True, slots=True)
class Encoding:
    extension: str
    content_type: str


ENCODINGS = {
    FileFormat.CSV: Encoding("csv", "text/csv; charset=utf-8"),
    FileFormat.XLSX: Encoding("xlsx", xlsx.CONTENT_TYPE),
}


def file_format(value: str) -> FileFormat:
    try:
        return FileFormat(str(getattr(value, "value", value)).upper())
    except ValueError:
        raise BadInput(f"unknown format {value!r}: use CSV or XLSX", field="format") from None


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerows([csv_safe(cell) for cell in row] for row in rows)
    return out.getvalue().encode()


def head(fmt: FileFormat, headers: Sequence[str]) -> bytes:
    """The file's first piece: its header row. A CSV starts with a UTF-8 byte order mark, without
    which Excel reads UTF-8 as the system's code page (names with accents come out garbled)."""
    if fmt is FileFormat.CSV:
        return "\ufeff".encode() + _csv([headers])
    return xlsx.header_xml(headers)


def body(fmt: FileFormat, rows: Sequence[Sequence[str]], first_row: int) -> bytes:
    """A batch of rows; `first_row` is the 1-based row number of its first row in the file (the
    header is row 1)."""
    if fmt is FileFormat.CSV:
        return _csv(rows)
    return xlsx.rows_xml(rows, first_row)


async def wrap(fmt: FileFormat, pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The file's bytes from its pieces (head first, then each body in order)."""
    if fmt is FileFormat.CSV:
        async for piece in pieces:
            yield piece
    else:
        async for chunk in xlsx.package(pieces):
            yield chunk
