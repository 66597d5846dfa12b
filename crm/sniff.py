"""What a file is, from its first bytes: its content type, and whether it is a program.

puremagic (pure Python, maintained, no system library) matches magic numbers; what it cannot
name -- text, scripts -- is told here. The client's filename and declared type are hints only:
an `.exe` renamed `.pdf` is still refused, because the bytes say PE. Executables and scripts
are refused by their bytes (PE, ELF, Mach-O, `#!` scripts), by what puremagic names them, and
by extensions that run when opened (.bat, .msi, .jar, ...) whatever their bytes.
"""

from __future__ import annotations

import contextlib
import os
import unicodedata

import puremagic

from crm.errors import BadInput

# Bytes sniffed before anything is written: every signature below sits in the first few.
HEAD_BYTES = 8192

_PROGRAM_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows program (PE/DOS executable)"),
    (b"\x7fELF", "a Linux/Unix program (ELF)"),
    (b"\xfe\xed\xfa\xce", "a macOS program (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "a macOS program (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "a macOS program (Mach-O)"),
    (b"\xcf\xfa\xed\xfe", "a macOS program (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "a macOS universal program or Java class (Mach-O fat / class file)"),
    (b"#!", "a script (#! line)"),
    (b"\x00asm", "a WebAssembly module"),
)
# Types puremagic (or a client) may name that are programs or installers.
_PROGRAM_TYPES = {
    "application/vnd.microsoft.portable-executable",
    "application/x-msdownload",
    "application/x-dosexec",
    "application/x-executable",
    "application/x-elf",
    "application/x-mach-binary",
    "application/x-msi",
    "application/x-ms-installer",
    "application/x-sh",
    "application/x-shellscript",
    "application/x-bat",
    "application/java-archive",
    "application/x-java-archive",
    "application/vnd.android.package-archive",
    "application/x-iso9660-appimage",
    "application/wasm",
}
# Extensions that run when opened. Their bytes are often an ordinary container (a .jar or .apk
# is a zip, an .msi an OLE file, a .bat plain text), so the name alone refuses them.
BLOCKED_EXTENSIONS = frozenset(
    (
        "exe", "dll", "com", "scr", "cpl", "msi", "msp", "msu", "sys", "drv", "ocx", "bat", "cmd",
        "ps1", "psm1", "psd1", "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta", "jar", "apk", "appx",
        "msix", "sh", "bash", "zsh", "csh", "ksh", "command", "app", "appimage", "run", "elf", "deb",
        "rpm", "lnk", "pif", "reg", "gadget", "msc", "scf", "inf", "ws", "wasm",
    )
)  # fmt: skip
# Text types a text file may keep from its name; any other text is text/plain.
_TEXT_BY_EXTENSION = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "md": "text/markdown",
    "json": "application/json",
    "txt": "text/plain",
    "log": "text/plain",
    "ics": "text/calendar",
    "vcf": "text/vcard",
}


def extension(filename: str) -> str:
    return os.path.splitext(filename)[1].lstrip(".").lower()


def refuse(what: str) -> BadInput:
    return BadInput(f"the file is {what}; programs, installers and scripts cannot be attached", field="file")


def sniff(head: bytes, filename: str) -> str:
    """The content type of a file starting with `head` (up to HEAD_BYTES), or BadInput when
    the file is a program, an installer or a script, or is empty."""
    if not head:
        raise BadInput("the file is empty", field="file")
    ext = extension(filename)
    body = head.removeprefix(b"\xef\xbb\xbf")
    for signature, what in _PROGRAM_SIGNATURES:
        # "MZ" also starts some words: a text file that happens to is no program.
        if body.startswith(signature) and not (signature == b"MZ" and _is_text(body)):
            raise refuse(what)
    if ext in BLOCKED_EXTENSIONS:
        raise refuse(f"named .{ext}, a type that runs when opened")
    matched = _magic(head, ext)
    if matched in _PROGRAM_TYPES:
        raise refuse(f"a program ({matched})")
    if matched:
        return matched
    if _is_text(body):
        return _text_type(body, ext)
    return "application/octet-stream"


def _magic(head: bytes, ext: str) -> str:
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return ""
    # "application/octet-stream" names nothing (puremagic gives it to bare "MZ" matches).
    named = [m for m in matches if m.mime_type and m.mime_type != "application/octet-stream"]
    if not named:
        return ""
    best = max(m.confidence for m in named)
    top = [m for m in named if m.confidence == best]
    # Equally sure answers (a zip as .docx, .xlsx or .pptx; %PDF as .pdf or .fdf): the one the
    # file's name agrees with, else the first.
    for match in top:
        if match.extension.lstrip(".").lower() == ext:
            return match.mime_type
    return top[0].mime_type


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the head
            return False
        text = head[: exc.start].decode("utf-8")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    return controls <= len(text) // 100


def _text_type(head: bytes, ext: str) -> str:
    start = head.lstrip()[:512].lower()
    if start.startswith(b"<svg") or (b"<svg" in start and start.startswith((b"<?xml", b"<!doctype svg"))):
        return "image/svg+xml"
    if start.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return "text/html"
    if start.startswith(b"<?xml"):
        return "application/xml"
    with contextlib.suppress(KeyError):
        return _TEXT_BY_EXTENSION[ext]
    return "text/plain"
