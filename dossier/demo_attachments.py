"""The demo's files (B8): a proposal (PDF), a floor plan (PNG) and meeting notes (text) on the
first few live rich cards, written to the configured storage before their rows (as the service
does), each with its ATTACHMENT_ADDED journey entry after the card's last one.

Called by `dossier.demo` in the seed's transaction; `dossier serve --demo` seeds before the app
starts, so the storage is set up here from the environment when nothing has set it yet. A
seed that rolls back leaves its objects as orphans for `dossier storage sweep`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from crm import storage
from crm.journey import JourneyKind
from crm.models import Attachment, Contact, JourneyEvent, User
from crm.services.attachments import new_key
from dossier.demo_lifecycle import _entry
from dossier.demo_rich import rich_contact_ids

CARDS = 3


def _png(width: int = 48, height: int = 32) -> bytes:
    """A small real PNG: a blue-and-white floor-plan grid."""
    rows = b"".join(
        b"\x00"
        + b"".join(b"\x1f\x4e\x9a" if x % 8 == 0 or y % 8 == 0 else b"\xff\xff\xff" for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pdf(title: str) -> bytes:
    """A one-page PDF saying `title`, with a correct cross-reference table."""
    stream = f"BT /F1 18 Tf 72 720 Td ({title}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _files(name: str) -> list[tuple[str, str, str, bytes]]:
    """(title, filename, content type, bytes) of one card's files."""
    notes = (
        f"Site visit with {name}\n\n- Wants the upstairs zoned separately\n- Budget approved by email\n"
        "- Follow up with the signed proposal\n"
    )
    return [
        ("Signed proposal", "proposal.pdf", "application/pdf", _pdf(f"Proposal for {name}")),
        ("Floor plan", "floor-plan.png", "image/png", _png()),
        ("Site visit notes", "site-visit.txt", "text/plain", notes.encode()),
    ]


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _storage() -> storage.Storage:
    try:
        return storage.current()
    except RuntimeError:  # `dossier serve --demo` seeds before the app configures it
        from dossier.files import configure_files
        from dossier.settings import Settings

        return configure_files(Settings.from_env())


async def seed_attachments(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    store = _storage()
    rich = await rich_contact_ids(conn, account_id)
    live = await (
        Contact.filter(id__in=rich, archived_at__isnull=True, merged_into_id__isnull=True)
        .using_db(conn)
        .order_by("id")
        .limit(CARDS)
        .values("id", "first_name", "last_name")
    )
    users = (
        await User.filter(account_id=account_id).using_db(conn).order_by("id").values("id", "name", "role")
    )
    rep = next((u for u in users if u["role"] == "rep"), users[-1])
    for card in live:
        name = " ".join(p for p in (card["first_name"], card["last_name"]) if p) or "the client"
        last = await JourneyEvent.filter(contact_id=card["id"]).using_db(conn).order_by("-id").first()
        at = (last.occurred_at if last else now) + timedelta(milliseconds=1)
        for n, (title, filename, content_type, data) in enumerate(_files(name)):
            key = new_key(account_id)
            stored = await store.put(key, _one(data))  # the object first, as the service writes it
            when = at + timedelta(milliseconds=n)
            row = await Attachment.create(
                account_id=account_id, contact_id=card["id"], kind="FILE", title=title, filename=filename,
                content_type=content_type, size=stored.size, sha256=stored.sha256, storage_key=key,
                uploaded_by_id=rep["id"], using_db=conn,
            )  # fmt: skip
            await Attachment.filter(id=row.id).using_db(conn).update(created_at=when)
            entry = _entry(
                card["id"], account_id, rep, when, JourneyKind.ATTACHMENT_ADDED,
                f"attached a file: {title} ({filename}, {stored.size:,} bytes)",
                {"attachment": [None, filename]}, "Attachment", row.id,
            )  # fmt: skip
            await entry.save(using_db=conn)
