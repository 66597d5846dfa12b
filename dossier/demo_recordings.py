"""The demo's call recordings (B2): a recording on a past call of the first few live rich cards,
and a share link to the first one.

Called by `dossier.demo` in the seed's transaction, after the files (dossier/demo_attachments.py,
whose storage set-up it shares). Each recording is a short WAV -- a real, playable tone, so a
demo listener hears something -- written to storage before its row, with the RECORDING_ATTACHED
journey entry after the card's last one, as crm/services/recordings.py writes them. The share
link is valid for a week from the seed and made by the card's rep (RECORDING_SHARED); its URL
is `Call.recording.shareUrl` on that call. No outbox rows, as for the rest of the demo.
"""

from __future__ import annotations

import io
import math
import secrets
import struct
import wave
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from crm import audio
from crm.journey import JourneyKind
from crm.models import Attachment, Call, Contact, JourneyEvent, RecordingShare, User
from crm.services.attachments import new_key
from crm.services.recordings import share_token, token_hash
from dossier.demo_attachments import _storage
from dossier.demo_lifecycle import _entry
from dossier.demo_rich import rich_contact_ids

CARDS = 2
SHARE_DAYS = 7


def _tone(seconds: float, frequency: float, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV: a quiet tone, faded in and out."""
    frames = int(seconds * rate)
    fade = rate // 10
    samples = bytearray()
    for i in range(frames):
        level = min(1.0, i / fade, (frames - i) / fade)
        samples += struct.pack("<h", int(6000 * level * math.sin(2 * math.pi * frequency * i / rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(samples))
    return out.getvalue()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed_recordings(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    store = _storage()
    rich = await rich_contact_ids(conn, account_id)
    live = await (
        Contact.filter(id__in=rich, archived_at__isnull=True, merged_into_id__isnull=True)
        .using_db(conn)
        .order_by("id")
        .limit(CARDS)
        .values_list("id", flat=True)
    )
    users = (
        await User.filter(account_id=account_id).using_db(conn).order_by("id").values("id", "name", "role")
    )
    rep = next((u for u in users if u["role"] == "rep"), users[-1])
    for n, contact_id in enumerate(live):
        call = await (
            Call.filter(
                contact_id=contact_id, status="SCHEDULED", outcome__isnull=False, scheduled_at__lt=now
            )
            .using_db(conn)
            .order_by("-scheduled_at")
            .first()
        )
        if call is None:
            continue
        data = _tone(4.0 + n, 440.0 + 110 * n)
        duration = audio.duration_seconds(io.BytesIO(data), audio.WAV)
        key = new_key(account_id)
        stored = await store.put(key, _one(data))  # the object first, as the service writes it
        last = await JourneyEvent.filter(contact_id=contact_id).using_db(conn).order_by("-id").first()
        at = (last.occurred_at if last else now) + timedelta(milliseconds=1)
        row = await Attachment.create(
            account_id=account_id, contact_id=contact_id, call_id=call.id, kind="RECORDING",
            title=f"Recording of {call.event_name}"[:200], filename=f"call-{call.id}.wav",
            content_type=audio.WAV, size=stored.size, sha256=stored.sha256, storage_key=key,
            duration_seconds=duration, uploaded_by_id=rep["id"], using_db=conn,
        )  # fmt: skip
        await Attachment.filter(id=row.id).using_db(conn).update(created_at=at)
        await _entry(
            contact_id, account_id, rep, at, JourneyKind.RECORDING_ATTACHED,
            f"added a recording to the call {call.event_name!r} (0:{duration or 0:02d})",
            {"recording": [None, row.id]}, "Call", call.id,
        ).save(using_db=conn)  # fmt: skip
        if n:
            continue
        salt = secrets.token_urlsafe(24)
        expires_at = now + timedelta(days=SHARE_DAYS)
        share = await RecordingShare.create(
            account_id=account_id, call_id=call.id, attachment_id=row.id, salt=salt,
            token_hash=token_hash(share_token(salt)), expires_at=expires_at, created_by_id=rep["id"],
            created_by_name=rep["name"], using_db=conn,
        )  # fmt: skip
        shared_at = at + timedelta(milliseconds=1)
        await RecordingShare.filter(id=share.id).using_db(conn).update(created_at=shared_at)
        await _entry(
            contact_id, account_id, rep, shared_at, JourneyKind.RECORDING_SHARED,
            f"shared the recording of the call {call.event_name!r} until {expires_at:%Y-%m-%d %H:%M} UTC",
            {"expiresAt": [None, expires_at.isoformat()]}, "Call", call.id,
        ).save(using_db=conn)  # fmt: skip
