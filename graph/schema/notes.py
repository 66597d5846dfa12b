"""Notes (remarks) on a contact."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm.richtext import visible_text
from graph.context import Info
from graph.schema.accounts import User, joined_user
from graph.schema.common import built
from graph.schema.journey import JourneyActor, shared_actor

if TYPE_CHECKING:
    from graph.schema.contacts import Contact


@strawberry.type(description="A note: sanitised rich text (bold, italic, underline, lists, links).")
class Note(relay.Node):
    id: relay.NodeID[int]
    body: str = strawberry.field(description="Sanitised HTML.")
    text_length: int = strawberry.field(description="Visible characters; at most 1500.")
    created_at: datetime
    updated_at: datetime
    _contact_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: dict[str, Any], batch: dict[Any, Any] | None = None) -> Note:
        """`batch`: shared by the rows of one statement (see `joined_user`)."""
        author = joined_user(row, "author", batch)
        return built(
            cls,
            {
                "id": row["id"],
                "body": row["body"],
                "text_length": row["text_length"],
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "_contact_id": row["contact_id"],
                "author": author,
                "created_by": shared_actor(row["author_kind"], row["author_name"], author),
            },
        )

    @strawberry.field(description="The note as plain text.")
    def text(self) -> str:
        return visible_text(self.body)

    author: User | None = strawberry.field(
        description="The user who wrote the note, if a user did and still exists (see createdBy)."
    )
    created_by: JourneyActor = strawberry.field(
        description="Who wrote the note, as the journey names it: a user, or the plugin that wrote it."
    )

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._contact_id)  # type: ignore[return-value]
