"""Notes: sanitised rich text; authors (and managers) edit and delete them."""

from __future__ import annotations

from crm.actor import Actor
from crm.errors import Forbidden
from crm.journey import JourneyKind
from crm.models import Note
from crm.richtext import clean_note_in_thread, visible_text
from crm.services import _scoped
from crm.uow import unit_of_work


def _excerpt(body: str, limit: int = 80) -> str:
    text = " ".join(visible_text(body).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _may_change(actor: Actor, note: Note) -> None:
    if not actor.is_manager and note.author_id != actor.user_id:  # type: ignore[attr-defined]
        raise Forbidden("only the note's author, a manager or an admin can change it")


async def add_note(actor: Actor, contact_id: int, body: str) -> Note:
    clean = await clean_note_in_thread(body)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        note = Note(
            contact_id=contact.id,
            body=clean.html,
            text_length=clean.text_length,
            author_id=actor.user_id,
            author_kind=actor.kind.value,
            author_name=actor.name[:120],
        )
        await note.save(using_db=uow.conn)
        await uow.record(
            contact,
            JourneyKind.NOTE_ADDED,
            f"{actor.name} posted a note: {_excerpt(clean.html)}",
            {"body": [None, clean.html]},
            subject_type="Note",
            subject_id=note.id,
            subject={"body": clean.html},
        )
    return note


async def edit_note(actor: Actor, note_id: int, body: str) -> Note:
    clean = await clean_note_in_thread(body)
    async with unit_of_work(actor) as uow:
        note = await _scoped.note(uow, note_id)
        _may_change(actor, note)
        if note.body == clean.html:
            return note
        before = note.body
        note.body, note.text_length = clean.html, clean.text_length
        await note.save(using_db=uow.conn)
        contact = await _scoped.contact(uow, note.contact_id)  # type: ignore[attr-defined]
        await uow.record(
            contact,
            JourneyKind.NOTE_EDITED,
            f"{actor.name} edited a note: {_excerpt(clean.html)}",
            {"body": [before, clean.html]},
            subject_type="Note",
            subject_id=note.id,
            subject={"body": clean.html},
        )
    return note


async def delete_note(actor: Actor, note_id: int) -> Note:
    """Delete a note; the journey keeps what it said. Returns the note as it was."""
    async with unit_of_work(actor) as uow:
        note = await _scoped.note(uow, note_id)
        _may_change(actor, note)
        contact = await _scoped.contact(uow, note.contact_id)  # type: ignore[attr-defined]
        await note.delete(using_db=uow.conn)
        await uow.record(
            contact,
            JourneyKind.NOTE_DELETED,
            f"{actor.name} deleted a note: {_excerpt(note.body)}",
            {"body": [note.body, None]},
            subject_type="Note",
            subject_id=note.id,
            subject={"body": note.body},
        )
    return note
