"""The request's loaders for merges: a card's merges, a merge by id, duplicate candidates.

Each batch costs one statement whatever the number of cards: merges come off the
(primary_id, id) index numbered per card; candidates are the account's other contacts that
share an email or phone with any card of the batch, found through the email/phone indexes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from strawberry.dataloader import DataLoader
from tortoise.expressions import Q

from crm.models import Contact, Merge
from crm.services.merges import MAX_DUPLICATES
from graph.resolvers.reads import Params, Row, dialect, fetch, fetch_tagged, shape

MERGE_COLUMNS = (
    "id", "primary_id", "absorbed_ids", "absorbed", "moved", "filled", "actor_kind", "actor_user_id",
    "actor_name", "created_at", "undone_at", "undone_by_name",
)  # fmt: skip
# List bounds (graph/cost.py LIST_BOUNDS).
MAX_CANDIDATES = 20  # Contact.duplicateCandidates(first:) at most
MAX_ABSORBED = MAX_DUPLICATES  # ContactMerge.absorbed
MAX_MOVED_KINDS = 50  # ContactMerge.moved: one per model with a contact foreign key
MAX_FILLED = 50  # ContactMerge.filled: one per fillable column (identity, owners, phone consent)
# Contacts read per batch of candidate lookups at most: a number shared by thousands (a
# switchboard) would otherwise read them all. Candidates are ordered, so the cut is stable.
MAX_CANDIDATE_ROWS = 2000


@dataclass(frozen=True, slots=True)
class MergesKey:
    contact_id: int
    first: int
    before_id: int | None  # the id of the last merge the client has (newest first)


@dataclass(frozen=True, slots=True)
class CandidatesKey:
    """A card and what it is matched by: no statement is needed to read the card itself."""

    contact_id: int
    emails: tuple[str, ...]  # (email, secondary email), casefolded, empties left out
    spellings: tuple[str, ...]  # the same as stored and casefolded, for the lookup
    phones: tuple[str, ...]  # (phone, secondary phone), E.164
    primary_email: str | None
    primary_phone: str | None
    name: str | None  # first and last name, casefolded; None when the card has neither


def _merge_read() -> tuple[str, ...]:
    from graph.resolvers.loaders import with_users

    return with_users(MERGE_COLUMNS, ("actor_user",))


class MergeLoaders:
    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.merge: DataLoader[int, Row | None] = DataLoader(self._load_by_id)
        self.merges_by_contact: DataLoader[MergesKey, list[Row]] = DataLoader(self._load_pages)
        self.duplicate_candidates: DataLoader[CandidatesKey, list[tuple[Row, str]]] = DataLoader(
            self._load_candidates
        )

    def loaders(
        self,
    ) -> tuple[
        DataLoader[int, Row | None],
        DataLoader[MergesKey, list[Row]],
        DataLoader[CandidatesKey, list[tuple[Row, str]]],
    ]:
        return self.merge, self.merges_by_contact, self.duplicate_candidates

    async def _load_by_id(self, ids: list[int]) -> list[Row | None]:
        params = Params(dialect())
        where = f't."id" IN ({params.many(set(ids))}) AND t."account_id" = {params(self.account_id)}'
        rows = await fetch(shape(Merge, _merge_read()), params, where)
        found = {row["id"]: row for row in rows}
        return [found.get(i) for i in ids]

    async def _load_pages(self, keys: list[MergesKey]) -> list[list[Row]]:
        """One statement for all the cards: each card's merges newest first, numbered per card
        and cut at `first` + 1 (one more says whether there is a next page)."""
        groups: dict[tuple[int, int | None], set[int]] = defaultdict(set)
        for key in keys:
            groups[(key.first, key.before_id)].add(key.contact_id)
        params = Params(dialect())
        branches = []
        for slot, ((first, before_id), contact_ids) in enumerate(groups.items()):
            where = [
                f'"account_id" = {params(self.account_id)}',
                f'"primary_id" IN ({params.many(sorted(contact_ids))})',
            ]
            if before_id is not None:
                where.append(f'"id" < {params(before_id)}')
            numbered = (
                f'SELECT "id", ROW_NUMBER() OVER (PARTITION BY "primary_id" ORDER BY "id" DESC) AS "rn"'
                f' FROM "contact_merge" WHERE {" AND ".join(where)}'
            )
            limit = params(first + 1)
            branches.append(
                f'SELECT w."id", {slot} AS "slot", w."rn" FROM ({numbered}) w WHERE w."rn" <= {limit}'
            )
        join = f' JOIN ({" UNION ALL ".join(branches)}) r ON r."id" = t."id"'
        merge_shape = shape(Merge, _merge_read())
        rows, tags = await fetch_tagged(
            merge_shape, params, 'r."slot", t."primary_id", r."rn"', join=join, tag='r."slot"'
        )
        pages: dict[tuple[int, int], list[Row]] = defaultdict(list)
        for row, slot in zip(rows, tags, strict=True):
            pages[(slot, row["primary_id"])].append(row)
        slots = {shape_key: slot for slot, shape_key in enumerate(groups)}
        return [pages.get((slots[(k.first, k.before_id)], k.contact_id), []) for k in keys]

    async def _load_candidates(self, keys: list[CandidatesKey]) -> list[list[tuple[Row, str]]]:
        from graph.resolvers.loaders import CONTACT_READ

        emails = {e for k in keys for e in k.spellings}
        phones = {p for k in keys for p in k.phones}
        if not emails and not phones:
            return [[] for _ in keys]
        # Stored emails are normalised by email-validator, which keeps the local part's case:
        # the lookup asks for the casefolded spelling too, and the comparison below is exact.
        conditions = []
        if emails:
            conditions += [Q(email__in=sorted(emails)), Q(secondary_email__in=sorted(emails))]
        if phones:
            conditions += [Q(phone__in=sorted(phones)), Q(secondary_phone__in=sorted(phones))]
        rows = (
            await Contact.filter(
                reduce(or_, conditions), account_id=self.account_id, archived_at__isnull=True
            )
            .order_by("id")
            .limit(MAX_CANDIDATE_ROWS)
            .values(*CONTACT_READ)
        )
        return [_candidates_of(key, rows) for key in keys]


_REASON_ORDER = {"EMAIL_AND_PHONE": 0, "EMAIL": 1, "PHONE": 2, "NAME_AND_IDENTIFIER": 3}


def candidate_key(row: Any) -> CandidatesKey:
    def fold(value: str | None) -> str | None:
        return value.casefold() if value else None

    emails = tuple(e for e in (fold(row["email"]), fold(row["secondary_email"])) if e)
    spellings = tuple(sorted({*emails, *(e for e in (row["email"], row["secondary_email"]) if e)}))
    phones = tuple(p for p in (row["phone"], row["secondary_phone"]) if p)
    name = " ".join(p.casefold() for p in (row["first_name"], row["last_name"]) if p) or None
    return CandidatesKey(row["id"], emails, spellings, phones, fold(row["email"]), row["phone"] or None, name)


def reason(key: CandidatesKey, other: Any) -> str | None:
    """Why `other` may be the same person as the card of `key`, or None.

    EMAIL / PHONE / EMAIL_AND_PHONE: the same (primary) email, phone or both. A match through a
    secondary email or phone only -- a shared office line, a family address -- counts when the
    names agree too: NAME_AND_IDENTIFIER."""
    if other["id"] == key.contact_id:
        return None
    theirs = candidate_key(other)
    same_email = key.primary_email is not None and key.primary_email == theirs.primary_email
    same_phone = key.primary_phone is not None and key.primary_phone == theirs.primary_phone
    if same_email and same_phone:
        return "EMAIL_AND_PHONE"
    if same_email:
        return "EMAIL"
    if same_phone:
        return "PHONE"
    shares = bool(set(key.emails) & set(theirs.emails) or set(key.phones) & set(theirs.phones))
    if shares and key.name is not None and key.name == theirs.name:
        return "NAME_AND_IDENTIFIER"
    return None


def _candidates_of(key: CandidatesKey, rows: list[Any]) -> list[tuple[Row, str]]:
    found = [(row, why) for row in rows if (why := reason(key, row)) is not None]
    found.sort(key=lambda pair: (_REASON_ORDER[pair[1]], pair[0]["id"]))
    return found
