"""attachRecording, shareRecording, revokeRecordingShare."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from crm.services import recordings as service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.mutations import changed
from graph.schema.calls import Call
from graph.schema.recordings import RecordingShare
from graph.uploads import upload_chunks

FILE_HELP = (
    f"The audio, sent as a part of a multipart request (the GraphQL multipart request spec): "
    f"{service.ACCEPTED_TEXT}, told by its bytes. At most DOSSIER_ATTACHMENT_MAX_BYTES (25 MB by "
    "default)."
)
EXPIRES_HELP = (
    f"Seconds the link works, {service.MIN_SHARE_SECONDS} to {service.MAX_SHARE_SECONDS} (30 days); "
    f"{service.DEFAULT_SHARE_SECONDS} (7 days) if left out."
)


@strawberry.input
class AttachRecordingInput:
    call_id: strawberry.ID = strawberry.field(description="The call's id.")
    file: Upload = strawberry.field(description=FILE_HELP)


@strawberry.input
class ShareRecordingInput:
    call_id: strawberry.ID = strawberry.field(description="The call's id; it must have a stored recording.")
    expires_in: int | None = strawberry.field(default=None, description=EXPIRES_HELP)


@strawberry.input
class RevokeRecordingShareInput:
    id: strawberry.ID = strawberry.field(description="The share link's id (RecordingShare.id).")


_SHARE_FIELDS = (
    "id", "expires_at", "created_at", "revoked_at", "created_by_name", "salt", "call_id", "created_by_id",
)  # fmt: skip


async def _share(info: Info, share: object) -> RecordingShare:
    changed(info)
    return RecordingShare.from_row({name: getattr(share, name) for name in _SHARE_FIELDS})


@strawberry.type
class RecordingMutations:
    @strawberry.mutation(
        description="Store a call's recording (audio only), replacing the one it had; returns the "
        "call, its recording in `recording`."
    )
    async def attach_recording(self, info: Info, input: AttachRecordingInput) -> Call:
        actor = info.context.require_actor()
        call_id = decode_id(input.call_id, "Call", "callId")
        upload = input.file
        stored = await service.attach_recording(
            actor, call_id, upload_chunks(upload), getattr(upload, "filename", None)
        )
        changed(info)
        call = await info.context.loaders.call.load(stored.call_id)  # type: ignore[attr-defined]
        return Call.from_row(call)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Make a link to a call's recording that plays without an API key until it "
        "expires or is revoked; `url` holds it."
    )
    async def share_recording(self, info: Info, input: ShareRecordingInput) -> RecordingShare:
        share = await service.share_recording(
            info.context.require_actor(), decode_id(input.call_id, "Call", "callId"), input.expires_in
        )
        return await _share(info, share)

    @strawberry.mutation(
        description="End a share link now (its creator, a manager or an admin); returns it, revoked."
    )
    async def revoke_recording_share(self, info: Info, input: RevokeRecordingShareInput) -> RecordingShare:
        share = await service.revoke_recording_share(
            info.context.require_actor(), decode_id(input.id, "RecordingShare")
        )
        return await _share(info, share)
