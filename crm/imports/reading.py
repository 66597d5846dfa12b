"""Reading an import file: CSV (any common encoding and delimiter), .xlsx, legacy .xls, .ods.

Whatever arrives is turned once, when the import is started, into one *normalised* CSV: UTF-8,
comma-separated, a header row, then one line per non-blank data row whose first column is the
row's number in the original file (1 is the header row, so data starts at 2). The job's batches
then read that CSV by byte offset (`read_batch`): each batch starts where the previous one
stopped, without parsing anything before it, so a 100,000-row file costs one pass.

Everything here is synchronous and works on local files: the service runs it in a thread.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

from crm.errors import BadInput

# The sheet the template names: a workbook with a sheet of this name is read from it, else from
# its first sheet (article 001: "The excel tab name must be like the example file").
SHEET_NAME = "Contacts"
ROW_COLUMN = "__row"  # the normalised CSV's first column: the row's number in the uploaded file
SAMPLE_ROWS = 5
MAX_COLUMNS = 200
MAX_HEADER = 200  # characters per header cell
SNIFF_BYTES = 64 * 1024
SPREADSHEET_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
TEXT_EXTENSIONS = {".csv", ".txt", ".tsv"}
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A cell may hold up to 131,072 characters in a spreadsheet; the csv module's default is less.
csv.field_size_limit(1 << 20)


@dataclass
class Normalised:
    """What `normalise` found: the header, how many data rows, the first few, and the format."""

    header: list[str]
    rows: int
    sample: list[list[str]] = field(default_factory=list)
    format: str = "CSV"
    sheet: str | None = None


def file_format(path: Path, filename: str) -> str:
    """CSV, XLSX (any zipped workbook: .xlsx, .ods) or XLS (legacy), by the bytes first (a
    renamed file is still what it is), then the name."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_ZIP):
        return "XLSX"
    if head.startswith(_OLE):
        return "XLS"
    suffix = Path(filename).suffix.lower()
    if suffix in SPREADSHEET_EXTENSIONS:
        raise BadInput(
            f"{filename!r} is named like a spreadsheet but is not one (a damaged or renamed file?)",
            field="file",
        )
    return "CSV"


# -- CSV ----------------------------------------------------------------------------------------


def sniff_encoding(head: bytes) -> str:
    """utf-8-sig with a BOM, utf-8 when the first bytes decode as UTF-8, else cp1252 (what
    Excel on Windows writes "CSV" in)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # A multi-byte character may be cut at the end of the sample: the incremental decoder
        # leaves it pending instead of failing.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def sniff_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """The delimiter among , ; tab | that splits the first lines most consistently."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return csv.excel
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"}
        best = max(counts, key=lambda d: counts[d])
        dialect = csv.excel()
        dialect.delimiter = best if counts[best] else ","
        return dialect


def _csv_rows(path: Path) -> Iterator[list[str]]:
    with open(path, "rb") as raw:
        head = raw.read(SNIFF_BYTES)
    encoding = sniff_encoding(head)
    dialect = sniff_dialect(head.decode(encoding if encoding != "utf-8-sig" else "utf-8", errors="replace"))
    # errors="replace": one mis-encoded byte deep in a file spoils one cell, not the import.
    with open(path, encoding=encoding, errors="replace", newline="") as text:
        yield from csv.reader(text, dialect)


# -- spreadsheets ---------------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person typed: 42 not 42.0, dates as ISO 8601."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat() if value.time() != time(0) else value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _spreadsheet_rows(path: Path, filename: str) -> tuple[Iterator[list[str]], str]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
        wanted = next((n for n in names if n.strip().casefold() == SHEET_NAME.casefold()), None)
        sheet = workbook.get_sheet_by_name(wanted) if wanted else workbook.get_sheet_by_index(0)
    except (CalamineError, ValueError, IndexError, OSError) as exc:
        raise BadInput(f"{filename!r} could not be read as a spreadsheet: {exc}", field="file") from exc

    def rows() -> Iterator[list[str]]:
        for row in sheet.iter_rows():
            yield [_cell_text(cell) for cell in row]

    return rows(), sheet.name


# -- normalising ----------------------------------------------------------------------------------


def _clean_header(cells: list[str], filename: str) -> list[str]:
    header = [" ".join(cell.replace("\ufeff", "").split()) for cell in cells]
    while header and not header[-1]:
        header.pop()
    if not any(header):
        raise BadInput(f"{filename!r} has no header row: its first row must name the columns", field="file")
    if len(header) > MAX_COLUMNS:
        raise BadInput(f"{filename!r} has {len(header)} columns; at most {MAX_COLUMNS}", field="file")
    seen: set[str] = set()
    for number, name in enumerate(header, 1):
        if not name:
            raise BadInput(
                f"column {number} of {filename!r} has no header: name it or delete it", field="file"
            )
        if len(name) > MAX_HEADER:
            raise BadInput(f"the header of column {number} is over {MAX_HEADER} characters", field="file")
        if name.casefold() in seen:
            raise BadInput(f"the column {name!r} appears twice in the header", field="file")
        seen.add(name.casefold())
    return header


def normalise(source: Path, filename: str, target: Path) -> Normalised:
    """Write `source` (an upload named `filename`) to `target` as the normalised CSV."""
    kind = file_format(source, filename)
    sheet = None
    if kind != "CSV":
        rows, sheet = _spreadsheet_rows(source, filename)
    else:
        rows = _csv_rows(source)
    number = 0
    header: list[str] | None = None
    found = Normalised(header=[], rows=0, format=kind, sheet=sheet)
    try:
        with open(target, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            for cells in rows:
                number += 1
                if header is None:
                    if not any(c.strip() for c in cells):
                        continue  # blank lines above the header
                    header = _clean_header(cells, filename)
                    writer.writerow([ROW_COLUMN, *header])
                    continue
                if not any(c.strip() for c in cells):
                    continue  # a blank row is no contact, and no error either
                cells = cells[: len(header)] + [""] * (len(header) - len(cells))
                writer.writerow([number, *cells])
                found.rows += 1
                if len(found.sample) < SAMPLE_ROWS:
                    found.sample.append(cells)
    except (csv.Error, UnicodeError) as exc:
        raise BadInput(f"{filename!r} could not be read as CSV at row {number}: {exc}", field="file") from exc
    if header is None:
        raise BadInput(f"{filename!r} is empty: it needs a header row and at least one row", field="file")
    found.header = header
    return found


@dataclass
class Batch:
    """Rows read from the normalised CSV: (row number, cells) each, and where the next batch starts."""

    rows: list[tuple[int, list[str]]]
    next_offset: int
    at_end: bool


def header_length(head: bytes) -> int:
    """The byte length of the normalised CSV's header line (where the first batch starts)."""
    return head.index(b"\n") + 1


def read_batch(data: bytes, offset: int, limit: int, at_eof: bool) -> Batch:
    """Up to `limit` rows from `data` (the normalised CSV's bytes from `offset`). Unless `data`
    reaches the end of the file, the last line may be cut short: it is left for the next batch."""
    lines = data.split(b"\n")
    complete = lines if at_eof else lines[:-1]
    rows: list[tuple[int, list[str]]] = []
    consumed = 0
    pending: list[bytes] = []
    for line in complete:
        pending.append(line)
        if not line and len(pending) == 1:
            consumed += 1
            pending = []
            continue
        text = b"\n".join(pending).decode("utf-8")
        try:
            parsed = next(csv.reader(io.StringIO(text), strict=True))
        except csv.Error:
            continue  # a quoted cell holding a newline: the record goes on in the next line
        consumed += len(text.encode("utf-8")) + 1
        pending = []
        rows.append((int(parsed[0]), parsed[1:]))
        if len(rows) >= limit:
            break
    end = offset + min(consumed, len(data))
    return Batch(rows, end, at_eof and end >= offset + len(data) and not pending)


def read_header(head: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(head[: header_length(head)].decode("utf-8"))))[1:]


def write_csv(out: IO[str], rows: Iterator[list[Any]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows)
