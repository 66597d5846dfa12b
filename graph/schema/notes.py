"""Notes (remarks) on a contact."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm.richtext import visible_text
from graph.context import Info
from graph.schema.accounts import User, load_user

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
    _author_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Note:
        return cls(
            id=row["id"], body=row["body"], text_length=row["text_length"], created_at=row["created_at"],
            updated_at=row["updated_at"], _contact_id=row["contact_id"], _author_id=row["author_id"],
        )  # fmt: skip

    @strawberry.field(description="The note as plain text.")
    def text(self) -> str:
        return visible_text(self.body)

    @strawberry.field
    async def author(self, info: Info) -> User | None:
        return await load_user(info, self._author_id)

    @strawberry.field
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._contact_id)  # type: ignore[return-value]
