"""Merges on the card: what was merged into a contact (and undone), and who may be its duplicate."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm.errors import BadInput, NotFound
from crm.models.contacts import every_contact
from crm.services.merges import FILLED_NAMES, KIND_NAMES, kind_name, table_models
from graph.context import Info
from graph.ids import decode_id, global_id_text, page_size
from graph.resolvers.merge_loaders import MAX_CANDIDATES, MergesKey, candidate_key
from graph.schema.accounts import joined_user
from graph.schema.journey import JourneyActor, shared_actor

if TYPE_CHECKING:
    from graph.schema.contacts import Contact

LazyContact = Annotated["Contact", strawberry.lazy("graph.schema.contacts")]
_MAX_HOPS = 20  # merges of merged cards followed for the NOT_FOUND hint; a chain is rarely 2 long


@strawberry.enum(description="Why a contact may be the same person as the card.")
class DuplicateReason(Enum):
    EMAIL_AND_PHONE = strawberry.enum_value("EMAIL_AND_PHONE", description="The same email and phone.")
    EMAIL = strawberry.enum_value("EMAIL", description="The same (normalised) email.")
    PHONE = strawberry.enum_value("PHONE", description="The same E.164 phone.")
    NAME_AND_IDENTIFIER = strawberry.enum_value(
        "NAME_AND_IDENTIFIER",
        description="The same first and last name (ignoring case), and one email or phone in "
        "common through a secondary email or phone.",
    )


@strawberry.type(description="A contact a merge absorbed, as it was when merged.")
class MergedContact:
    id: strawberry.ID = strawberry.field(
        description="The contact's id: NOT_FOUND while it is merged, its card again once the merge is undone."
    )
    display_name: str


@strawberry.type(description="How many rows of one kind a merge moved to the primary.")
class MergeMoved:
    kind: str = strawberry.field(
        description="Call, Deal, Note, Message, Tag, Utm, FormAnswer, Lead, JourneyEvent, ..."
    )
    count: int


@strawberry.type(description="A field of the primary that was empty and a merge filled.")
class MergeFilledField:
    field: str = strawberry.field(
        description="The field's API name, e.g. lastName or assignedToId; inviter when the merge set or "
        "cleared the primary's inviter (its value: the inviter's id, null when cleared)."
    )
    from_contact_id: strawberry.ID = strawberry.field(description="The absorbed contact it came from.")
    value: str | None = strawberry.field(description="The value filled in, as text.")


@strawberry.type(
    description="One merge of contacts into a primary contact: what moved, what was filled, and "
    "whether it was undone (unmergeContacts)."
)
class ContactMerge(relay.Node):
    id: relay.NodeID[int]
    created_at: datetime
    undone_at: datetime | None = strawberry.field(description="When unmergeContacts undid it.")
    undone_by: str | None = strawberry.field(description="Who undid it, by name.")
    actor: JourneyActor = strawberry.field(description="Who merged.")
    absorbed: list[MergedContact] = strawberry.field(description="The contacts absorbed, in the order given.")
    moved: list[MergeMoved] = strawberry.field(description="What moved to the primary, counted per kind.")
    filled: list[MergeFilledField] = strawberry.field(description="The primary's empty fields it filled.")
    _primary_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> ContactMerge:
        actor_user = joined_user(row, "actor_user")
        counts: dict[str, int] = {}
        models = table_models()
        for table, by_from in (row["moved"] or {}).items():
            model = models.get(table)
            kind = kind_name(model) if model is not None else KIND_NAMES.get(table, table)
            counts[kind] = counts.get(kind, 0) + sum(len(ids) for ids in by_from.values())
        return cls(
            id=row["id"],
            created_at=row["created_at"],
            undone_at=row["undone_at"],
            undone_by=row["undone_by_name"],
            actor=shared_actor(row["actor_kind"], row["actor_name"], actor_user),
            absorbed=[
                MergedContact(
                    id=strawberry.ID(global_id_text("Contact", a["id"])), display_name=a["displayName"]
                )
                for a in row["absorbed"] or ()
            ],
            moved=[MergeMoved(kind=kind, count=n) for kind, n in sorted(counts.items())],
            filled=[
                MergeFilledField(
                    field=FILLED_NAMES.get(column, column),
                    from_contact_id=strawberry.ID(global_id_text("Contact", fill["from"])),
                    value=None
                    if fill["after"] is None
                    else global_id_text("Contact", fill["after"])
                    if column == "inviter_id"
                    else str(fill["after"]),
                )
                for column, fill in (row["filled"] or {}).items()
                if column in FILLED_NAMES
            ],
            _primary_id=row["primary_id"],
        )

    @strawberry.field(description="The contact the others were merged into.")
    async def primary(self, info: Info) -> LazyContact:
        from graph.schema.contacts import load_contact

        return await load_contact(info, self._primary_id)


async def missing_contact_message(info: Info, contact_id: int) -> str:
    """Why a contact id finds no card: unknown here, or absorbed by a merge (then into which
    card: a merge into a contact later merged itself is followed to the card that shows)."""
    account_id = info.context.require_actor().account_id
    into, hops = contact_id, 0
    while hops < _MAX_HOPS:
        found = (
            await every_contact()
            .filter(id=into, account_id=account_id, merged_into_id__isnull=False)
            .values_list("merged_into_id", flat=True)
        )
        if not found:
            break
        into, hops = found[0], hops + 1
    if hops == 0:
        return f"no contact with id {contact_id} in this account"
    primary = global_id_text("Contact", into)
    return (
        f"contact {contact_id} was merged into contact {primary}: read that card (its `merges` list this "
        "merge), or undo the merge with unmergeContacts to have it back"
    )


async def load_merge(info: Info, merge_id: int) -> ContactMerge:
    row = await info.context.loaders.merge.load(merge_id)
    if row is None:
        raise NotFound(f"no ContactMerge with id {merge_id} in this account")
    return ContactMerge.from_row(row)


@strawberry.type(description="A contact that may be the same person as the card, and why.")
class DuplicateCandidate:
    contact: LazyContact
    reason: DuplicateReason


async def resolve_merges(
    root: Any,
    info: Info,
    first: Annotated[int, strawberry.argument(description="At most this many merges (1 to 100).")] = 10,
    after: Annotated[
        strawberry.ID | None, strawberry.argument(description="The id of the last merge the client has.")
    ] = None,
) -> list[ContactMerge]:
    size = page_size(first)
    before_id = None
    if after is not None:
        before_id = decode_id(after, "ContactMerge", field="after")
        anchor = await info.context.loaders.merge.load(before_id)
        if anchor is None or anchor["primary_id"] != root.id:
            raise BadInput(f"after {after!r} is not one of this contact's merges", field="after")
    rows = await info.context.loaders.merges_by_contact.load(MergesKey(root.id, size, before_id))
    return [ContactMerge.from_row(r) for r in rows[:size]]


async def resolve_duplicate_candidates(
    root: Any,
    info: Info,
    first: Annotated[
        int, strawberry.argument(description=f"At most this many candidates (1 to {MAX_CANDIDATES}).")
    ] = 10,
) -> list[DuplicateCandidate]:
    if not 1 <= first <= MAX_CANDIDATES:
        raise BadInput(f"first must be between 1 and {MAX_CANDIDATES}", field="first")
    from graph.schema.contacts import Contact

    found = await info.context.loaders.duplicate_candidates.load(candidate_key(root._row))
    loader = info.context.loaders.contact
    result = []
    for row, why in found[:first]:
        loader.prime(row["id"], row)
        result.append(DuplicateCandidate(contact=Contact.from_row(row), reason=DuplicateReason(why)))
    return result


@strawberry.type(description="The primary contact with everything merged into it, and the merge.")
class MergeContactsPayload:
    contact: LazyContact
    merge: ContactMerge


@strawberry.type(description="The undone merge, and the contacts it gave back their own.")
class UnmergeContactsPayload:
    merge: ContactMerge
    contacts: list[LazyContact] = strawberry.field(
        description="The primary first, then each restored contact."
    )
