"""The journey: who changed what on a card, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from graph.context import Info
from graph.ids import global_id_text
from graph.schema.accounts import User, joined_user
from graph.schema.common import FieldChange, PageInfo, SharedObjects, built
from graph.schema.enums import ActorKind, JourneyKind

# Enum members by value: a dict lookup per journey entry instead of an Enum call.
_KINDS = {kind.value: kind for kind in JourneyKind}
_ACTOR_KINDS = {kind.value: kind for kind in ActorKind}


@strawberry.type(description="Who made a change: a user, the system, or a plugin.")
class JourneyActor:
    kind: ActorKind
    name: str
    user: User | None = strawberry.field(
        description="The user, when a user made the change and still exists."
    )


# A journey has few distinct actors: entries by the same one share its object. The entry holds
# the user (through the actor), so an id in the key cannot be reused while it is cached.
_ACTORS: SharedObjects[tuple[str, str, int], JourneyActor] = SharedObjects(4096)


def _actor(kind: str, name: str, user: User | None) -> JourneyActor:
    return _ACTORS.get((kind, name, id(user)), _new_actor, kind, name, user)


shared_actor = _actor  # for other rows naming an actor the same way (Note.createdBy)


def _new_actor(kind: str, name: str, user: User | None) -> JourneyActor:
    return JourneyActor(kind=_ACTOR_KINDS.get(kind) or ActorKind(kind), name=name, user=user)


@strawberry.type(description="One entry of a card's journey. Entries are never edited.")
class JourneyEvent(relay.Node):
    id: relay.NodeID[int]
    kind: JourneyKind
    occurred_at: datetime
    actor: JourneyActor
    summary: str
    changes: list[FieldChange]  # a shared tuple on the read path (FieldChange.of)
    subject_type: str | None = strawberry.field(
        description="The kind of record the entry is about (Call, Deal, Note, Tag), if any."
    )
    _subject_id: strawberry.Private[int | None]
    _contact_id: strawberry.Private[int]

    @strawberry.field(description="Global ID of the call, deal, note or tag the entry is about.")
    def subject_id(self) -> strawberry.ID | None:
        if self.subject_type is None or self._subject_id is None:
            return None
        return strawberry.ID(global_id_text(self.subject_type, self._subject_id))

    @classmethod
    def from_row(cls, row: dict[str, Any], batch: dict[Any, Any] | None = None) -> JourneyEvent:
        """`batch`: a dict shared by the rows of one statement (see `joined_user`); entries by
        the same actor then share one actor object, found by its key alone."""
        occurred = row["occurred_at"]
        if type(occurred) is str:  # from the live broker
            occurred = datetime.fromisoformat(occurred)
        kind = row["kind"]
        actor_key = (row["actor_kind"], row["actor_name"], row["actor_user_id"])
        actor = batch.get(actor_key) if batch is not None else None
        if actor is None:
            user = joined_user(row, "actor_user", batch)
            actor = _actor(row["actor_kind"], row["actor_name"], user)
            if batch is not None:
                batch[actor_key] = actor
        return built(
            cls,
            {
                "id": row["id"],
                "kind": _KINDS.get(kind) or JourneyKind(kind),
                "occurred_at": occurred,
                "actor": actor,
                "summary": row["summary"],
                "changes": FieldChange.of(row["changes"]),
                "subject_type": row["subject_type"],
                "_subject_id": row["subject_id"],
                "_contact_id": row["contact_id"],
            },
        )


@strawberry.type
class JourneyEventEdge:
    cursor: str
    node: JourneyEvent


@strawberry.type(description="A page of journey entries.")
class JourneyConnection:
    edges: list[JourneyEventEdge]
    page_info: PageInfo
    _contact_id: strawberry.Private[int]
    _kinds: strawberry.Private[tuple[str, ...]]

    @strawberry.field(description="Entries matching the filter on the whole card, not just this page.")
    async def total_count(self, info: Info) -> int:
        return await info.context.loaders.journey_count.load((self._contact_id, self._kinds))

    @strawberry.field(description="The entries of this page, without edges.")
    def nodes(self) -> list[JourneyEvent]:
        return [edge.node for edge in self.edges]
