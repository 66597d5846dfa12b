"""addNote, editNote, deleteNote."""

from __future__ import annotations

import strawberry

from crm.models import Note as NoteModel
from crm.services import notes as note_service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.loaders import NOTE_COLUMNS, NOTE_USERS
from graph.resolvers.mutations import changed, joined_row
from graph.schema.notes import Note

NOTE_BODY = (
    "HTML limited to bold, italic, underline, lists and links; at most 1500 characters of text, "
    "16,384 bytes of markup, 20 levels of nested tags and 2,048 characters per link."
)


@strawberry.input
class AddNoteInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")
    body: str = strawberry.field(description=NOTE_BODY)


@strawberry.input
class EditNoteInput:
    id: strawberry.ID = strawberry.field(description="The note's id.")
    body: str = strawberry.field(description=NOTE_BODY)


@strawberry.input
class DeleteNoteInput:
    id: strawberry.ID = strawberry.field(description="The note's id.")


async def _result(info: Info, note: NoteModel) -> Note:
    changed(info)
    return Note.from_row(await joined_row(info, note, NOTE_COLUMNS, NOTE_USERS))


@strawberry.type
class NoteMutations:
    @strawberry.mutation(description="Post a note; it shows in the journey.")
    async def add_note(self, info: Info, input: AddNoteInput) -> Note:
        note = await note_service.add_note(
            info.context.require_actor(), decode_id(input.contact_id, "Contact", "contactId"), input.body
        )
        return await _result(info, note)

    @strawberry.mutation(description="Edit a note (its author, a manager or an admin).")
    async def edit_note(self, info: Info, input: EditNoteInput) -> Note:
        note = await note_service.edit_note(
            info.context.require_actor(), decode_id(input.id, "Note"), input.body
        )
        return await _result(info, note)

    @strawberry.mutation(description="Delete a note; returns it as it was. The journey keeps its text.")
    async def delete_note(self, info: Info, input: DeleteNoteInput) -> Note:
        note = await note_service.delete_note(info.context.require_actor(), decode_id(input.id, "Note"))
        return await _result(info, note)
