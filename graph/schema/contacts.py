"""The contact card and its small sections: address, tags, UTMs, form answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from crm.clock import utcnow
from crm.errors import NotFound
from crm.uow import display_name
from graph.context import Info
from graph.ids import decode_cursor, encode_cursor, page_size
from graph.resolvers.loaders import JourneyPageKey
from graph.schema.accounts import Tag, User, load_user
from graph.schema.calls import Call
from graph.schema.common import PageInfo
from graph.schema.deals import Deal
from graph.schema.enums import CallWhen, JourneyKind, JourneyOrder
from graph.schema.journey import JourneyConnection, JourneyEvent, JourneyEventEdge
from graph.schema.notes import Note

JOURNEY_CURSOR = "journey"


@strawberry.type
class Address:
    street: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 code.")


@strawberry.type(description="UTM parameters captured with a lead or booking.")
class Utm:
    source: str | None
    medium: str | None
    campaign: str | None
    term: str | None
    content: str | None
    captured_at: datetime


@strawberry.type(description="A question the lead answered on a scheduler form or survey.")
class FormAnswer:
    question: str
    answer: str
    form: str | None = strawberry.field(description="The form or flow the answer came from.")
    answered_at: datetime


@strawberry.type(description="A contact card: one person the business deals with.")
class Contact(relay.Node):
    id: relay.NodeID[int]
    first_name: str | None
    last_name: str | None
    business_name: str | None
    title: str | None
    contact_type: str | None
    email: str | None
    secondary_email: str | None
    phone: str | None = strawberry.field(description="Primary (cell) phone, E.164.")
    secondary_phone: str | None = strawberry.field(description="E.164.")
    ip_address: str | None
    status: str
    sub_status: str | None
    converted_at: datetime | None = strawberry.field(description="When the contact first became a customer.")
    created_at: datetime
    updated_at: datetime
    _row: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Contact:
        return cls(
            id=row["id"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            business_name=row["business_name"],
            title=row["title"],
            contact_type=row["contact_type"],
            email=row["email"],
            secondary_email=row["secondary_email"],
            phone=row["phone"],
            secondary_phone=row["secondary_phone"],
            ip_address=row["ip_address"],
            status=row["status"],
            sub_status=row["sub_status"],
            converted_at=row["converted_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            _row=row,
        )

    @strawberry.field(description='Full name, else business name, else email, else "Guest".')
    def display_name(self) -> str:
        return display_name(self.first_name, self.last_name, self.business_name, self.email)

    @strawberry.field
    def address(self) -> Address | None:
        row = self._row
        parts = {k: row[k] for k in ("street", "city", "state", "zip", "country")}
        return Address(**parts) if any(parts.values()) else None

    @strawberry.field
    async def setter_owner(self, info: Info) -> User | None:
        return await load_user(info, self._row["setter_owner_id"])

    @strawberry.field
    async def closer_owner(self, info: Info) -> User | None:
        return await load_user(info, self._row["closer_owner_id"])

    @strawberry.field(description="The representative the contact is assigned to.")
    async def assigned_to(self, info: Info) -> User | None:
        return await load_user(info, self._row["assigned_to_id"])

    @strawberry.field
    async def tags(self, info: Info) -> list[Tag]:
        return [Tag.from_row(r) for r in await info.context.loaders.tags_by_contact.load(self.id)]

    @strawberry.field
    async def utms(self, info: Info) -> list[Utm]:
        rows = await info.context.loaders.utms_by_contact.load(self.id)
        return [
            Utm(source=r["source"], medium=r["medium"], campaign=r["campaign"], term=r["term"],
                content=r["content"], captured_at=r["captured_at"])
            for r in rows
        ]  # fmt: skip

    @strawberry.field
    async def form_answers(self, info: Info) -> list[FormAnswer]:
        rows = await info.context.loaders.answers_by_contact.load(self.id)
        return [
            FormAnswer(
                question=r["question"], answer=r["answer"], form=r["form"], answered_at=r["answered_at"]
            )
            for r in rows
        ]

    @strawberry.field(description="The event name of the most recently booked call.")
    async def last_booked_event(self, info: Info) -> str | None:
        calls = await info.context.loaders.calls_by_contact.load(self.id)
        if not calls:
            return None
        return max(calls, key=lambda r: (r["created_at"], r["id"]))["event_name"]

    @strawberry.field(description="Calls; UPCOMING soonest first, PAST latest first, ALL in time order.")
    async def calls(self, info: Info, when: CallWhen = CallWhen.ALL) -> list[Call]:
        rows = await info.context.loaders.calls_by_contact.load(self.id)
        now = utcnow()
        if when is CallWhen.UPCOMING:
            rows = [r for r in rows if r["scheduled_at"] > now]
        elif when is CallWhen.PAST:
            rows = [r for r in reversed(rows) if r["scheduled_at"] <= now]
        return [Call.from_row(r) for r in rows]

    @strawberry.field(description="Deals, oldest first.")
    async def deals(self, info: Info) -> list[Deal]:
        return [Deal.from_row(r) for r in await info.context.loaders.deals_by_contact.load(self.id)]

    @strawberry.field(description="Notes, newest first.")
    async def notes(self, info: Info) -> list[Note]:
        return [Note.from_row(r) for r in await info.context.loaders.notes_by_contact.load(self.id)]

    @strawberry.field(description="Every change made to the card, newest first unless asked otherwise.")
    async def journey(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        kinds: list[JourneyKind] | None = None,
        order: JourneyOrder = JourneyOrder.NEWEST_FIRST,
    ) -> JourneyConnection:
        size = page_size(first)
        bound = decode_cursor(after, JOURNEY_CURSOR) if after else None
        kind_values = tuple(sorted({k.value for k in kinds or ()}))
        key = JourneyPageKey(self.id, size, bound, kind_values, order is JourneyOrder.NEWEST_FIRST)
        rows = await info.context.loaders.journey_page.load(key)
        edges = [
            JourneyEventEdge(cursor=encode_cursor(JOURNEY_CURSOR, r["id"]), node=JourneyEvent.from_row(r))
            for r in rows[:size]
        ]
        return JourneyConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > size,
                has_previous_page=bool(after),
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            _contact_id=self.id,
            _kinds=kind_values,
        )


async def load_contact(info: Info, contact_id: int) -> Contact:
    row = await info.context.loaders.contact.load(contact_id)
    if row is None:
        raise NotFound(f"no contact with id {contact_id} in this account")
    return Contact.from_row(row)


@strawberry.type
class ContactEdge:
    cursor: str
    node: Contact


@strawberry.type(description="A page of contacts.")
class ContactConnection:
    edges: list[ContactEdge]
    page_info: PageInfo
    _count: strawberry.Private[Any]

    @strawberry.field(description="Contacts matching the search in the whole account.")
    async def total_count(self) -> int:
        return int(await self._count())

    @strawberry.field
    def nodes(self) -> list[Contact]:
        return [edge.node for edge in self.edges]
