"""Leads (form submissions), their first and latest touch, and intake forms."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from crm.services.leads import LeadStatus as _LeadStatus
from crm.services.leads import MatchReason as _MatchReason
from graph.context import Info
from graph.schema.common import PageInfo
from graph.schema.contacts import FormAnswer, Utm

if TYPE_CHECKING:
    from graph.schema.contacts import Contact

LeadStatus = strawberry.enum(
    _LeadStatus,
    name="LeadStatus",
    description="NEW, or DUPLICATE: the same contact sent the same form with the same answers within "
    "the duplicate window (DOSSIER_LEAD_DUPLICATE_WINDOW, 24 h by default). Duplicates are kept.",
)
MatchReason = strawberry.enum(
    _MatchReason,
    name="MatchReason",
    description="How a lead found its contact: by normalised email, by E.164 phone, by both "
    "(one contact has both), or NEW (no contact had either: one was made).",
)


def utm_of(row: dict[str, Any]) -> Utm:
    return Utm(
        source=row["source"], medium=row["medium"], campaign=row["campaign"], term=row["term"],
        content=row["content"], captured_at=row["captured_at"], _id=row["id"],
    )  # fmt: skip


def answer_of(row: dict[str, Any]) -> FormAnswer:
    return FormAnswer(
        question=row["question"], answer=row["answer"], form=row["form"], answered_at=row["answered_at"],
        _id=row["id"],
    )  # fmt: skip


@strawberry.type(description="A lead: one form submission, held by the contact it was matched to or made.")
class Lead(relay.Node):
    id: relay.NodeID[int]
    form_name: str = strawberry.field(description="The form or flow it was sent from.")
    variant: str | None = strawberry.field(description="The form's variant (an A/B version), if given.")
    status: LeadStatus
    match_reason: MatchReason
    ip_address: str | None = strawberry.field(description="The address the submission came from.")
    referrer: str | None = strawberry.field(description="The page that linked to the form.")
    submitted_at: datetime
    created_at: datetime
    identity: JSON = strawberry.field(
        description="The identity fields the submission gave (firstName, email, phone, ...), "
        "normalised as stored; a matched contact keeps its own values."
    )
    _contact_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Lead:
        return cls(
            id=row["id"],
            form_name=row["form_name"],
            variant=row["variant"],
            status=_LeadStatus(row["status"]),
            match_reason=_MatchReason(row["match_reason"]),
            ip_address=row["ip_address"],
            referrer=row["referrer"],
            submitted_at=row["submitted_at"],
            created_at=row["created_at"],
            identity=row["identity"],
            _contact_id=row["contact_id"],
        )

    @strawberry.field(description="The contact holding the lead.")
    async def contact(self, info: Info) -> Annotated[Contact, strawberry.lazy("graph.schema.contacts")]:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._contact_id)  # type: ignore[return-value]

    @strawberry.field(description="The answers the lead gave, in order (at most 100).")
    async def answers(self, info: Info) -> list[FormAnswer]:
        return [answer_of(r) for r in await info.context.loaders.answers_by_lead.load(self.id)]

    @strawberry.field(description="The UTM parameters the lead came with.")
    async def utms(self, info: Info) -> list[Utm]:
        return [utm_of(r) for r in await info.context.loaders.utms_by_lead.load(self.id)]


@strawberry.type(description="Attribution of a contact's first or latest lead: its form, UTMs and time.")
class Touch:
    lead: Lead
    form_name: str
    variant: str | None
    submitted_at: datetime

    @strawberry.field(description="The lead's first UTM set, if it came with one.")
    async def utm(self, info: Info) -> Utm | None:
        rows = await info.context.loaders.utms_by_lead.load(self.lead.id)
        return utm_of(rows[0]) if rows else None

    @classmethod
    def of(cls, row: dict[str, Any]) -> Touch:
        return cls(
            lead=Lead.from_row(row),
            form_name=row["form_name"],
            variant=row["variant"],
            submitted_at=row["submitted_at"],
        )


@strawberry.type
class LeadEdge:
    cursor: str
    node: Lead


@strawberry.type(description="A page of leads, newest first.")
class LeadConnection:
    edges: list[LeadEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Lead]:
        return [edge.node for edge in self.edges]


@strawberry.type(description="A web form's intake endpoint: POST /forms/{key}, no API key (admins).")
class Form(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="The leads it takes in carry this form name.")
    key: str = strawberry.field(
        description="The unguessable key in the intake URL; revoke the form to stop it."
    )
    intake_url: str = strawberry.field(
        description="Where the web page POSTs its fields (JSON or url-encoded): "
        "DOSSIER_PUBLIC_URL + /forms/{key}."
    )
    created_at: datetime
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked: its URL answers 404 since."
    )
