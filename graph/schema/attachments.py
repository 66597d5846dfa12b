"""Attachments (B8): files on a card, and call recordings (kind RECORDING)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm import file_links
from crm.errors import BadInput
from crm.models.attachments import AttachmentKind as _AttachmentKind
from graph.context import Info
from graph.ids import encode_cursor
from graph.schema.accounts import User, joined_user
from graph.schema.common import PageInfo

if TYPE_CHECKING:
    from graph.schema.contacts import Contact

ATTACHMENT_CURSOR = "attachment"

AttachmentKind = strawberry.enum(
    _AttachmentKind,
    name="AttachmentKind",
    description="FILE: uploaded to the card; RECORDING: a call's recording.",
)

EXPIRES_HELP = (
    f"Seconds the link works, 1 to {file_links.MAX_EXPIRES_IN} (a week); anyone holding it can "
    "download the file until then."
)


def signed_download_url(info: Info, attachment_id: int, account_id: int, expires_in: int) -> str:
    """The `downloadUrl` of a file or a call's recording (both are attachments)."""
    if not 1 <= expires_in <= file_links.MAX_EXPIRES_IN:
        raise BadInput(
            f"expiresIn must be between 1 and {file_links.MAX_EXPIRES_IN} seconds, got {expires_in}",
            field="expiresIn",
        )
    token = file_links.make_token(attachment_id, account_id, expires_in)
    return file_links.download_url(str(info.context.request.base_url), token)


@strawberry.type(description="A file on a card: its bytes are downloaded through `downloadUrl`.")
class Attachment(relay.Node):
    id: relay.NodeID[int]
    kind: AttachmentKind
    title: str
    filename: str = strawberry.field(description="The uploaded file's name, without any folder.")
    content_type: str = strawberry.field(
        description="The media type sniffed from the file's first bytes (not the client's claim)."
    )
    size: int = strawberry.field(description="Bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the bytes (hex), computed while storing them.")
    created_at: datetime
    uploaded_by: User | None = strawberry.field(description="Who uploaded it, while that user exists.")
    _contact_id: strawberry.Private[int]
    _account_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: dict[str, Any], batch: dict[Any, Any] | None = None) -> Attachment:
        return cls(
            id=row["id"],
            kind=AttachmentKind(row["kind"]),
            title=row["title"],
            filename=row["filename"],
            content_type=row["content_type"],
            size=row["size"],
            sha256=row["sha256"],
            created_at=row["created_at"],
            uploaded_by=joined_user(row, "uploaded_by", batch),
            _contact_id=row["contact_id"],
            _account_id=row["account_id"],
        )

    @strawberry.field(
        description="A short-lived signed link to the file: GET it without an API key until it "
        "expires. Served as a download (never shown inline), with the stored content type."
    )
    def download_url(
        self,
        info: Info,
        expires_in: Annotated[
            int, strawberry.argument(description=EXPIRES_HELP)
        ] = file_links.DEFAULT_EXPIRES_IN,
    ) -> str:
        return signed_download_url(info, self.id, self._account_id, expires_in)

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._contact_id)  # type: ignore[return-value]


@strawberry.type
class AttachmentEdge:
    cursor: str
    node: Attachment


@strawberry.type(description="A page of a card's files, newest first.")
class AttachmentConnection:
    edges: list[AttachmentEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Attachment]:
        return [edge.node for edge in self.edges]


def attachment_edges(rows: list[Any]) -> list[AttachmentEdge]:
    batch: dict[Any, Any] = {}
    return [
        AttachmentEdge(cursor=encode_cursor(ATTACHMENT_CURSOR, r["id"]), node=Attachment.from_row(r, batch))
        for r in rows
    ]


async def resolve_attachments(
    info: Info, contact_id: int, first: int, after: str | None
) -> AttachmentConnection:
    """A card's files, newest first: one statement for the page of every card the request shows."""
    from graph.ids import decode_cursor, page_size
    from graph.resolvers.loaders import PageKey
    from graph.schema.common import forward_page

    size = page_size(first)
    bound = decode_cursor(after, ATTACHMENT_CURSOR) if after else None
    rows = await info.context.loaders.attachment_page.load(PageKey(contact_id, size, bound, (), True))  # type: ignore[attr-defined]
    edges = attachment_edges(rows[:size])
    return AttachmentConnection(
        edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after)
    )
