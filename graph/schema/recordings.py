"""Call recordings (B2): `Call.recording` and its share links."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm import file_links
from crm.clock import utcnow
from crm.errors import BadInput
from crm.services import recordings as service
from graph.context import Info
from graph.resolvers.reads import Row
from graph.schema.accounts import User
from graph.schema.attachments import signed_download_url

if TYPE_CHECKING:
    from graph.schema.calls import Call

DOWNLOAD_EXPIRES_HELP = (
    f"Seconds the link works, 1 to {file_links.MAX_EXPIRES_IN} (a week); anyone holding it can "
    "download the recording until then."
)
SHARE_EXPIRES_HELP = (
    "Only a share link still valid for at least this many more seconds; omitted: any active one."
)


def _base_url(info: Info) -> str:
    return str(info.context.request.base_url)


@strawberry.type(
    description="A share link to a call's recording: plays without an API key until it expires "
    "or is revoked (revokeRecordingShare), or the recording is replaced."
)
class RecordingShare(relay.Node):
    id: relay.NodeID[int]
    expires_at: datetime
    created_at: datetime
    revoked_at: datetime | None
    created_by_name: str = strawberry.field(description="Who made the link (a user's or a plugin's name).")
    _salt: strawberry.Private[str]
    _call_id: strawberry.Private[int]
    _created_by_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Row | dict[str, Any]) -> RecordingShare:
        return cls(
            id=row["id"],
            expires_at=row["expires_at"],
            created_at=row["created_at"],
            revoked_at=row["revoked_at"],
            created_by_name=row["created_by_name"],
            _salt=row["salt"],
            _call_id=row["call_id"],
            _created_by_id=row["created_by_id"],
        )

    @strawberry.field(description="False once the link expired or was revoked.")
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()

    @strawberry.field(
        description="The link: `{public url}/shared/recordings/{token}`; null once it no longer works."
    )
    def url(self, info: Info) -> str | None:
        if not self.active():
            return None
        return service.share_url(self._salt, _base_url(info))

    @strawberry.field(description="The user who made the link, while that user exists.")
    async def created_by(self, info: Info) -> User | None:
        if self._created_by_id is None:
            return None
        row = await info.context.loaders.user.load(self._created_by_id)
        return User.from_row(row) if row is not None else None

    @strawberry.field(description="The call whose recording it shares.")
    async def call(self, info: Info) -> Annotated[Call, strawberry.lazy("graph.schema.calls")]:
        from graph.schema.calls import Call

        row = await info.context.loaders.call.load(self._call_id)
        return Call.from_row(row)  # type: ignore[arg-type]


@strawberry.type(description="A call's stored recording: listen to it, download it, share it.")
class Recording:
    duration: int | None = strawberry.field(
        description="Seconds it plays (rounded up), read from the audio; null when unknown."
    )
    content_type: str = strawberry.field(description="audio/mpeg, audio/wav, audio/ogg, audio/mp4, ...")
    filename: str
    size: int = strawberry.field(description="Bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the bytes (hex).")
    created_at: datetime = strawberry.field(description="When it was stored.")
    attachment_id: strawberry.ID = strawberry.field(
        description="The recording as an Attachment (kind RECORDING): node(id:) gives it."
    )
    _id: strawberry.Private[int]
    _call_id: strawberry.Private[int]
    _account_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row) -> Recording:
        from graph.ids import global_id_text

        return cls(
            duration=row["duration_seconds"],
            content_type=row["content_type"],
            filename=row["filename"],
            size=row["size"],
            sha256=row["sha256"],
            created_at=row["created_at"],
            attachment_id=strawberry.ID(global_id_text("Attachment", row["id"])),
            _id=row["id"],
            _call_id=row["call_id"],
            _account_id=row["account_id"],
        )

    @strawberry.field(
        description="A short-lived signed link to the audio (GET it without an API key until it "
        "expires), served with its content type as a download; an <audio> element plays it."
    )
    def download_url(
        self,
        info: Info,
        expires_in: Annotated[
            int, strawberry.argument(description=DOWNLOAD_EXPIRES_HELP)
        ] = file_links.DEFAULT_EXPIRES_IN,
    ) -> str:
        return signed_download_url(info, self._id, self._account_id, expires_in)

    @strawberry.field(
        description="The URL of the call's newest active share link (shareRecording makes one), "
        "or null when it has none -- or none valid for `expiresIn` more seconds. Reading never "
        "makes a link."
    )
    async def share_url(
        self,
        info: Info,
        expires_in: Annotated[int | None, strawberry.argument(description=SHARE_EXPIRES_HELP)] = None,
    ) -> str | None:
        if expires_in is not None and not 0 <= expires_in <= service.MAX_SHARE_SECONDS:
            raise BadInput(
                f"expiresIn must be between 0 and {service.MAX_SHARE_SECONDS} seconds, got {expires_in}",
                field="expiresIn",
            )
        rows = await info.context.loaders.active_shares_by_call.load(self._call_id)
        now = utcnow()
        for row in rows:
            if expires_in is None or (row["expires_at"] - now).total_seconds() >= expires_in:
                return service.share_url(row["salt"], _base_url(info))
        return None

    @strawberry.field(
        description=f"The active share links, newest first (at most {service.MAX_ACTIVE_SHARES})."
    )
    async def shares(self, info: Info) -> list[RecordingShare]:
        rows = await info.context.loaders.active_shares_by_call.load(self._call_id)
        return [RecordingShare.from_row(row) for row in rows]


async def load_recording(info: Info, call_id: int) -> Recording | None:
    row = await info.context.loaders.recording_by_call.load(call_id)
    return Recording.from_row(row) if row is not None else None
