"""Call recordings (B2): a call's recording, stored like an attachment, and its share links.

A recording is an `Attachment` of kind RECORDING with `call_id` set. A call has at most one
current recording: storing another replaces it (the old row goes, its object is deleted after
commit, and its share links with it), journaled RECORDING_ATTACHED on the call's contact. The
bytes are spooled to a temporary file first (streamed, never held in memory whole) so the
audio can be checked and timed before anything is stored: only audio is taken (crm/audio.py
reads the container, not the name), and a refusal changes nothing.

The file is then stored by the attachments service (`store_file`: the object first, then the
row), and the replacement and the journal follow in a second transaction. A crash between the
two leaves the call with two recordings; the newest is the current one (`current_recording`,
and the loaders read it the same way) and the next one stored removes both older ones.

Share links (`share_recording`) are rows: a random salt, the SHA-256 of the token, an expiry,
who made it and when it was revoked. The token is an HMAC of the salt under the server's secret
(DOSSIER_SECRET_KEY), so the API can show a share's URL again (`Call.recording.shareUrl`) while
the database alone never holds a working link. `{public url}/shared/recordings/{token}` plays
the recording without an API key until the share expires or is revoked, or the recording is
replaced or deleted (the share goes with it). Rotating the secret ends every share link.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

import httpx

from crm import audio, file_links
from crm.actor import Actor
from crm.clock import utcnow
from crm.errors import BadInput, Conflict, DomainError, Forbidden, NotFound
from crm.journey import JourneyKind
from crm.models import Attachment, Call, Contact, RecordingShare
from crm.models.attachments import AttachmentKind
from crm.services import _scoped
from crm.services import attachments as files
from crm.uow import UnitOfWork, unit_of_work

log = logging.getLogger("dossier.recordings")

SHARE_PATH = "/shared/recordings/{token}"
MIN_SHARE_SECONDS = 60
MAX_SHARE_SECONDS = 30 * 24 * 3600
DEFAULT_SHARE_SECONDS = 7 * 24 * 3600
# Active (unexpired, unrevoked) share links a call may have at once: bounds `Recording.shares`.
MAX_ACTIVE_SHARES = 20
_PURPOSE = b"dossier-recording-share:"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_CHUNK = 64 * 1024
ACCEPTED_TEXT = "MP3, WAV, Ogg (Opus, Vorbis), FLAC, M4A/MP4 audio, AAC or WebM audio"


class RecordingUnavailable(DomainError):
    """A recording could not be fetched from where a provider keeps it (HTTP error, network)."""

    code = "RECORDING_UNAVAILABLE"


# --------------------------------------------------------------------------------------
# Storing a recording
# --------------------------------------------------------------------------------------


async def _call_in_account(actor: Actor, call_id: int) -> Call:
    found = await Call.filter(id=call_id, contact__account_id=actor.account_id).first()
    if found is None:
        raise NotFound(f"no call with id {call_id} in this account")
    return found


@asynccontextmanager
async def _spooled(stream: AsyncIterator[bytes]) -> AsyncIterator[BinaryIO]:
    """The stream written to a temporary file (deleted afterwards); refused once it grows past
    the attachments' size limit (DOSSIER_ATTACHMENT_MAX_BYTES), before storage sees a byte."""
    limit = files.max_bytes()
    handle = tempfile.TemporaryFile(prefix="dossier-recording-")  # noqa: SIM115 -- closed below
    try:
        size = 0
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise BadInput(
                    f"the recording is over the size limit of {limit:,} bytes"
                    " (DOSSIER_ATTACHMENT_MAX_BYTES); nothing was stored",
                    field="file",
                )
            await asyncio.to_thread(handle.write, chunk)
        await asyncio.to_thread(handle.flush)
        yield handle
    finally:
        handle.close()


def _inspect(handle: BinaryIO) -> tuple[str, int | None]:
    mime = audio.audio_type(handle)
    if mime is None:
        raise BadInput(f"the file is not a recording: send audio ({ACCEPTED_TEXT})", field="file")
    return mime, audio.duration_seconds(handle, mime)


async def _replay(handle: BinaryIO) -> AsyncIterator[bytes]:
    await asyncio.to_thread(handle.seek, 0)
    while chunk := await asyncio.to_thread(handle.read, _CHUNK):
        yield chunk


def _filename(filename: str | None, mime: str) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    return name or f"recording.{audio.EXTENSIONS[mime]}"


async def attach_recording(
    actor: Actor,
    call_id: int,
    stream: AsyncIterator[bytes],
    filename: str | None = None,
    *,
    source: str = "upload",
    provider_recording_id: str | None = None,
) -> Attachment:
    """Store `stream` as the call's recording, replacing the one it had. BadInput when it is not
    audio or too big, NotFound for a call of another account; nothing changes then."""
    call = await _call_in_account(actor, call_id)
    replaced_keys: list[str] = []

    async def make_current(uow: UnitOfWork, contact: Contact, stored: Attachment) -> None:
        """In the new row's transaction: the call's older recordings go, the journal records it."""
        locked = await _scoped.call(uow, call.id)
        replaced = await (
            Attachment.filter(call_id=locked.id, kind=AttachmentKind.RECORDING.value, id__lt=stored.id)
            .using_db(uow.conn)
            .order_by("-id")
        )
        if replaced:
            ids = [a.id for a in replaced]
            await RecordingShare.filter(attachment_id__in=ids).using_db(uow.conn).delete()
            await Attachment.filter(id__in=ids).using_db(uow.conn).delete()
            replaced_keys.extend(a.storage_key for a in replaced)
        if provider_recording_id is not None:
            locked.provider_recording_id = provider_recording_id
            await locked.save(using_db=uow.conn, update_fields=["provider_recording_id", "updated_at"])
        previous = replaced[0].id if replaced else None
        duration = stored.duration_seconds
        timing = f" ({duration // 60}:{duration % 60:02d})" if duration is not None else ""
        verb = "replaced the recording of" if replaced else "added a recording to"
        await uow.record(
            contact,
            JourneyKind.RECORDING_ATTACHED,
            f"{actor.name} {verb} the call {locked.event_name!r}{timing}",
            {"recording": [previous, stored.id]},
            subject_type="Call",
            subject_id=locked.id,
            subject={
                "attachmentId": stored.id,
                "filename": stored.filename,
                "contentType": stored.content_type,
                "sizeBytes": stored.size,
                "durationSeconds": duration,
                "sha256": stored.sha256,
                "source": source,
                "replacedAttachmentId": previous,
            },
        )

    async with _spooled(stream) as handle:
        mime, duration = await asyncio.to_thread(_inspect, handle)
        stored = await files.store_file(
            actor,
            contact_id=call.contact_id,  # type: ignore[attr-defined]
            stream=_replay(handle),
            filename=_filename(filename, mime),
            title=f"Recording of {call.event_name}"[:200],
            declared_type=mime,
            call_id=call.id,
            kind=AttachmentKind.RECORDING.value,
            duration_seconds=duration,
            content_type=mime,
            within=make_current,
        )
    await files.discard_objects(replaced_keys)
    return stored


async def store_recording_from_url(
    actor: Actor,
    call_id: int,
    url: str,
    *,
    http: httpx.AsyncClient | None = None,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    filename: str | None = None,
    provider_recording_id: str | None = None,
) -> Attachment:
    """Fetch a recording from `url` (http(s); `auth` is HTTP basic auth, e.g. a provider's
    account SID and token) and store it as the call's recording, as `attachRecording` does.

    For a provider plugin's recording callback: `provider_recording_id` (the provider's id of
    the recording) makes a repeated callback a no-op that returns the stored recording.
    `http` is the client to use (a plugin passes `host.http`); redirects are followed, and
    basic auth is not sent to another host. Raises NotFound (call of another account),
    BadInput (not audio, too big, a bad URL) or RecordingUnavailable (the fetch failed)."""
    call = await _call_in_account(actor, call_id)
    target = _checked_url(url)
    if provider_recording_id is not None and call.provider_recording_id == provider_recording_id:
        current = await current_recording(actor, call.id)
        if current is not None:
            log.info("recording %s of call %s is already stored", provider_recording_id, call.id)
            return current
    source = actor.name if actor.kind.value == "PLUGIN" else "url"
    client = http or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
    try:
        fetch = client.stream("GET", target, auth=auth, headers=headers, follow_redirects=True)
        async with fetch as response:
            if response.status_code != 200:
                raise RecordingUnavailable(
                    f"fetching the recording answered HTTP {response.status_code}", field="url"
                )
            name = filename or os.path.basename(response.url.path) or None
            return await attach_recording(
                actor,
                call.id,
                response.aiter_bytes(_CHUNK),
                name,
                source=source,
                provider_recording_id=provider_recording_id,
            )
    except httpx.HTTPError as exc:
        what = type(exc).__name__
        raise RecordingUnavailable(f"could not fetch the recording: {what}", field="url") from exc
    finally:
        if http is None:
            await client.aclose()


def _checked_url(url: str) -> str:
    if not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url) or len(url) > 2000:
        raise BadInput("the recording's url must be an http(s) URL of at most 2,000 characters", field="url")
    return url


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


async def current_recording(actor: Actor, call_id: int) -> Attachment | None:
    """The call's recording (the newest, see the module's docstring), of the actor's account."""
    return (
        await Attachment.filter(
            call_id=call_id, kind=AttachmentKind.RECORDING.value, account_id=actor.account_id
        )
        .order_by("-id")
        .first()
    )


async def call_for_provider(provider_call_id: str) -> tuple[int, int] | None:
    """(call id, account id) of the call a provider knows by `provider_call_id`, or None."""
    found = await Call.filter(provider_call_id=provider_call_id).values("id", "contact__account_id")
    if not found:
        return None
    return found[0]["id"], found[0]["contact__account_id"]


async def account_of_call(call_id: int) -> int | None:
    """The account of a call named by id in a provider's signed callback URL, or None."""
    found = await Call.filter(id=call_id).values_list("contact__account_id", flat=True)
    return found[0] if found else None


# --------------------------------------------------------------------------------------
# Share links
# --------------------------------------------------------------------------------------


def share_token(salt: str) -> str:
    """The share's token: 43 URL-safe characters, an HMAC of its salt under the server's secret."""
    mac = hmac.new(file_links.signing_key(), _PURPOSE + salt.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    """What a share row stores of its token."""
    return hashlib.sha256(token.encode()).hexdigest()


def share_url(salt: str, base_url: str) -> str:
    """`{DOSSIER_PUBLIC_URL or the request's base URL}/shared/recordings/{token}`."""
    return (file_links.public_url() or base_url).rstrip("/") + SHARE_PATH.format(token=share_token(salt))


def check_expires_in(expires_in: int | None) -> int:
    seconds = DEFAULT_SHARE_SECONDS if expires_in is None else expires_in
    if not MIN_SHARE_SECONDS <= seconds <= MAX_SHARE_SECONDS:
        raise BadInput(
            f"expiresIn must be between {MIN_SHARE_SECONDS} seconds and {MAX_SHARE_SECONDS} "
            f"(30 days), got {seconds}",
            field="expiresIn",
        )
    return seconds


async def share_recording(actor: Actor, call_id: int, expires_in: int | None = None) -> RecordingShare:
    """A new share link to the call's recording, valid `expires_in` seconds (60 s to 30 days,
    default 7 days). Each call makes a new link; older ones stay until they expire or are
    revoked (at most MAX_ACTIVE_SHARES at once, else Conflict). NotFound for a call without a
    recording, or of another account."""
    seconds = check_expires_in(expires_in)
    async with unit_of_work(actor) as uow:
        call = await _scoped.call(uow, call_id)
        recording = (
            await Attachment.filter(call_id=call.id, kind=AttachmentKind.RECORDING.value)
            .using_db(uow.conn)
            .order_by("-id")
            .first()
        )
        if recording is None:
            raise NotFound(
                f"call {call_id} has no stored recording to share: attach one first (attachRecording)",
                field="callId",
            )
        now = utcnow()
        active = (
            await RecordingShare.filter(call_id=call.id, revoked_at__isnull=True, expires_at__gt=now)
            .using_db(uow.conn)
            .count()
        )
        if active >= MAX_ACTIVE_SHARES:
            raise Conflict(
                f"call {call_id} already has {MAX_ACTIVE_SHARES} active share links: revoke one "
                "(revokeRecordingShare) or reuse one (Call.recording.shares)",
                field="callId",
            )
        contact = await _scoped.contact(uow, call.contact_id)  # type: ignore[attr-defined]
        salt = secrets.token_urlsafe(24)
        expires_at = now + timedelta(seconds=seconds)
        share = RecordingShare(
            account_id=actor.account_id,
            call_id=call.id,
            attachment_id=recording.id,
            salt=salt,
            token_hash=token_hash(share_token(salt)),
            expires_at=expires_at,
            created_by_id=actor.user_id,
            created_by_name=actor.name[:120],
        )
        await share.save(using_db=uow.conn)
        await uow.record(
            contact,
            JourneyKind.RECORDING_SHARED,
            f"{actor.name} shared the recording of the call {call.event_name!r} until "
            f"{expires_at:%Y-%m-%d %H:%M} UTC",
            {"expiresAt": [None, expires_at.isoformat()]},
            subject_type="Call",
            subject_id=call.id,
            subject={"shareId": share.id, "attachmentId": recording.id, "expiresAt": expires_at.isoformat()},
        )
    return share


async def revoke_recording_share(actor: Actor, share_id: int) -> RecordingShare:
    """End a share link now (its creator, a manager or an admin). Revoking a revoked or expired
    share changes nothing and answers it as it is."""
    async with unit_of_work(actor) as uow:
        share = (
            await RecordingShare.filter(id=share_id, account_id=actor.account_id)
            .using_db(uow.conn)
            .select_for_update()
            .first()
        )
        if share is None:
            raise NotFound(f"no recording share with id {share_id} in this account")
        if not actor.is_manager and share.created_by_id != actor.user_id:  # type: ignore[attr-defined]
            raise Forbidden("only the share's creator, a manager or an admin can revoke it")
        now = utcnow()
        if share.revoked_at is not None or share.expires_at <= now:
            return share
        share.revoked_at = now
        share.revoked_by_name = actor.name[:120]
        await share.save(using_db=uow.conn, update_fields=["revoked_at", "revoked_by_name"])
        call = await _scoped.call(uow, share.call_id)  # type: ignore[attr-defined]
        contact = await _scoped.contact(uow, call.contact_id)  # type: ignore[attr-defined]
        await uow.record(
            contact,
            JourneyKind.RECORDING_SHARE_REVOKED,
            f"{actor.name} revoked a share link to the recording of the call {call.event_name!r}",
            {"revokedAt": [None, now.isoformat()]},
            subject_type="Call",
            subject_id=call.id,
            subject={
                "shareId": share.id,
                "attachmentId": share.attachment_id,  # type: ignore[attr-defined]
                "expiresAt": share.expires_at.isoformat(),
                "revokedAt": now.isoformat(),
            },
        )
    return share


@dataclass(frozen=True, slots=True)
class SharedRecording:
    """What the public route serves: the recording, or why not ("expired", "revoked", "unknown")."""

    attachment: Attachment | None
    refusal: str | None = None


async def shared_recording(token: str, *, now: datetime | None = None) -> SharedRecording:
    """The recording a share link names, if the link still works. No API key: the token is all
    the caller holds. A well-formed token that matches no share is "unknown"."""
    if not _TOKEN.fullmatch(token or ""):
        return SharedRecording(None, "unknown")
    share = await RecordingShare.filter(token_hash=token_hash(token)).first()
    if share is None or not hmac.compare_digest(share_token(share.salt), token):
        return SharedRecording(None, "unknown")
    if share.revoked_at is not None:
        return SharedRecording(None, "revoked")
    if share.expires_at <= (now or utcnow()):
        return SharedRecording(None, "expired")
    found = await Attachment.filter(id=share.attachment_id, account_id=share.account_id).first()  # type: ignore[attr-defined]
    return SharedRecording(found, None if found is not None else "unknown")
