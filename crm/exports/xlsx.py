"""A streamed .xlsx writer: one sheet of text cells, written row by row, never held whole.

Why not a library: an export's rows are rendered by several job steps, possibly in different
worker processes (crm/services/exports.py), and joined into one file at the end. The writers we
could use (openpyxl write-only, xlsxwriter constant_memory) build a workbook in one process; a
sheet's XML, though, is just its rows in order, so each step renders its rows' XML (`rows_xml`)
and the last one wraps them into the package (`package`). Every cell is an inline string
(`t="inlineStr"`): a value is never a formula, nor turned into a number or a date (phones and
zips keep their leading `+` and zeros). The package holds only the parts a reader needs
(SpreadsheetML, ECMA-376 part 1): content types, relationships, the workbook, a minimal style
sheet (bold header) and the sheet, with the header row frozen.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import AsyncIterator, Sequence
from xml.sax.saxutils import escape

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_CELL_CHARS = 32_767  # Excel's limit per cell
# Characters XML 1.0 cannot hold at all (escaping does not help): dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ESCAPES = {'"': "&quot;"}

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
# Style 0: the default; style 1: bold (the header row).
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    "</sheetView></sheetViews><sheetData>"
)
_SHEET_TAIL = "</sheetData></worksheet>"


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell_text(value: str) -> str:
    text = _NOT_XML.sub("", value)[:MAX_CELL_CHARS]
    escaped = escape(text, _ESCAPES)
    if text != text.strip():
        return f'<t xml:space="preserve">{escaped}</t>'
    return f"<t>{escaped}</t>"


def rows_xml(rows: Sequence[Sequence[str]], first_row: int, *, style: int = 0) -> bytes:
    """The `<row>` elements of `rows`, numbered from `first_row` (1-based); empty cells are
    left out, as spreadsheet programs write them."""
    letters = [column_letters(i) for i in range(max((len(r) for r in rows), default=0))]
    styled = f' s="{style}"' if style else ""
    out: list[str] = []
    for offset, row in enumerate(rows):
        number = first_row + offset
        out.append(f'<row r="{number}">')
        for letter, value in zip(letters, row, strict=False):
            if value:
                out.append(f'<c r="{letter}{number}"{styled} t="inlineStr"><is>{_cell_text(value)}</is></c>')
        out.append("</row>")
    return "".join(out).encode()


def header_xml(headers: Sequence[str]) -> bytes:
    return rows_xml([headers], 1, style=1)


class ZipSink:
    """A write-only stream zipfile writes into; `take()` hands over what it wrote so far.
    It cannot seek, so zipfile writes each entry's sizes after its data (a data descriptor)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._written = 0

    def write(self, data: bytes) -> int:
        self._buffer += data
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


async def package(rows: AsyncIterator[bytes], *, sheet_name: str = "Contacts") -> AsyncIterator[bytes]:
    """The .xlsx file whose one sheet holds `rows` (XML from `header_xml` / `rows_xml`, in order),
    as a stream of chunks: memory holds one chunk of rows at a time."""
    sink = ZipSink()
    # Level 1: sheet XML is repetitive, so the fastest level already shrinks it ~10x.
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:  # type: ignore[arg-type]
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK.format(name=escape(sheet_name[:31], _ESCAPES)))
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _STYLES)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_SHEET_HEAD.encode())
            async for chunk in rows:
                sheet.write(chunk)
                if written := sink.take():
                    yield written
            sheet.write(_SHEET_TAIL.encode())
    yield sink.take()
