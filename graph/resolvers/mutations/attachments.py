"""addAttachment, deleteAttachment."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from crm.models import Attachment as AttachmentModel
from crm.services import attachments as attachment_service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.attachments_loaders import ATTACHMENT_COLUMNS, ATTACHMENT_USERS
from graph.resolvers.mutations import changed, joined_row
from graph.schema.attachments import Attachment
from graph.uploads import upload_chunks

FILE_HELP = (
    "The file, sent as a part of a multipart request (the GraphQL multipart request spec). At "
    "most DOSSIER_ATTACHMENT_MAX_BYTES (25 MB by default); programs, installers and scripts are "
    "refused by their bytes."
)


@strawberry.input
class AddAttachmentInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact's id.")
    file: Upload = strawberry.field(description=FILE_HELP)
    title: str | None = strawberry.field(
        default=None, description="What the file is, at most 200 characters; the file's name if left out."
    )


@strawberry.input
class DeleteAttachmentInput:
    id: strawberry.ID = strawberry.field(description="The attachment's id.")


async def _result(info: Info, attachment: AttachmentModel) -> Attachment:
    changed(info)
    return Attachment.from_row(await joined_row(info, attachment, ATTACHMENT_COLUMNS, ATTACHMENT_USERS))


@strawberry.type
class AttachmentMutations:
    @strawberry.mutation(description="Attach a file to a card; it shows in the journey.")
    async def add_attachment(self, info: Info, input: AddAttachmentInput) -> Attachment:
        upload = input.file
        attachment = await attachment_service.store_file(
            info.context.require_actor(),
            contact_id=decode_id(input.contact_id, "Contact", "contactId"),
            stream=upload_chunks(upload),
            filename=getattr(upload, "filename", None) or "",
            title=input.title,
            declared_type=getattr(upload, "content_type", None),
        )
        return await _result(info, attachment)

    @strawberry.mutation(
        description="Delete a file (its uploader, a manager or an admin); returns it as it was. "
        "Its download links stop working."
    )
    async def delete_attachment(self, info: Info, input: DeleteAttachmentInput) -> Attachment:
        attachment = await attachment_service.delete_attachment(
            info.context.require_actor(), decode_id(input.id, "Attachment")
        )
        return await _result(info, attachment)
