"""Counting a contacts-table filter's matches without reading contacts (issue 14, D6: the table's
`totalCount` at 1M contacts, bench/filters.py).

A filter's related-record clauses compile to `id IN (SELECT contact_id FROM <rows> ...)`. When
those rows are the account's own -- its tags, its custom fields' values, its forms' leads, its
deals, its static segments' members -- every contact id they hold is one of the account's
contacts, so a filter made only of such clauses matches exactly the ids they share, less the
account's archived and merged contacts (a few percent of it). Counted that way the count reads
the rows' index ranges and that small set, not one contact row or index entry per match: tags
`any` at 1M, 90k matches, 170 -> 26 ms in psql.

Any other condition (a contact column, a call or task clause, `not`, `or`, search) needs the
contact rows, and the count stays the plain `COUNT(*)` over the filtered contacts, except for
one shape: an OR of contact columns each with an index of its own (`DisjointAny`: the owner
filter's setter, closer, assigned) is counted as disjoint parts that add up, each an index-only
count, instead of one bitmap OR that reads every matching contact row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_
from typing import Any

from pypika_tortoise.terms import Term
from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from crm.models.contacts import every_contact


class ScopedIds(Subquery):
    """The `Subquery` of a membership whose rows all belong to one account's contacts (`rows`
    selects `column`, a contact id). It renders exactly like `Subquery(rows.values(column))`.
    `unique`: a contact has one row at most (a custom field's values, one tag's or one
    segment's rows); `field_id`: the rows are that custom field's values; `leads`: the rows are
    an index range, fit to drive an intersection (a JSON containment is a bitmap of heap rows,
    better probed per contact: bench/filters.py 13, 111 -> 29 ms)."""

    def __init__(
        self,
        rows: QuerySet[Any],
        column: str = "contact_id",
        *,
        unique: bool = False,
        field_id: int | None = None,
        leads: bool = True,
    ) -> None:
        super().__init__(rows.values(column))
        self.rows = rows
        self.column = column
        self.unique = unique
        self.field_id = field_id
        self.leads = leads


def _conjuncts(condition: Q) -> list[Q]:
    """The conditions whose AND `condition` is (itself when it is anything else)."""
    parts = len(condition.children) + len(condition.filters)
    if (
        isinstance(condition, DisjointAny)
        or condition._is_negated
        or (condition.join_type != Q.AND and parts > 1)
    ):
        return [condition]
    found = [Q(**{key: value}) for key, value in condition.filters.items()]
    for child in condition.children:
        found.extend(_conjuncts(child))
    return found


def scoped_sets(condition: Q) -> list[ScopedIds] | None:
    """The memberships whose intersection `condition` is, when it is nothing but an AND of
    `id IN (<ScopedIds>)`; None for any other condition."""
    found: list[ScopedIds] = []
    for part in _conjuncts(condition):
        value = part.filters.get("id__in")
        if part._is_negated or part.children or len(part.filters) != 1 or not isinstance(value, ScopedIds):
            return None
        found.append(value)
    return found


@dataclass(frozen=True)
class ScopedCount:
    """How to count matches from their memberships: the sets and the contacts to leave out."""

    account_id: int
    sets: list[ScopedIds]
    archived: bool | None  # False: live contacts only; None: archived ones too

    def rows(self, first: ScopedIds | None = None) -> QuerySet[Any]:
        """The rows of `first` (default: a set with one row per contact, if any) whose contact
        is in every other set and in the list: its matches, once each when `first` is unique."""
        first = first or self._first()
        rows, column = first.rows, first.column
        for other in self.sets:
            if other is not first:
                rows = rows.filter(**{f"{column}__in": Subquery(other.rows.values(other.column))})
        # The account's contacts the list leaves out: absorbed by a merge, and (live list)
        # archived. A partial index holds exactly those (migration 0024).
        gone = Q(merged_into_id__isnull=False)
        if self.archived is False:
            gone |= Q(archived_at__isnull=False)
        left_out = every_contact().filter(Q(account_id=self.account_id), gone).values("id")
        return rows.filter(~Q(**{f"{column}__in": Subquery(left_out)}))

    def _first(self) -> ScopedIds:
        """The set whose rows the others filter: one row per contact if any (no DISTINCT), an
        index range rather than a JSON containment; PostgreSQL then probes the others per row
        by their (field, contact) or (tag, contact) index."""
        ranked = sorted(self.sets, key=lambda s: (not s.unique, not s.leads))
        return ranked[0]

    def ids(self) -> QuerySet[Any]:
        """The matches' ids (a one-column query; repeated when no set is unique)."""
        first = self._first()
        return self.rows(first).values(first.column)

    async def __call__(self) -> int:
        first = self._first()
        rows = self.rows(first)
        if first.unique:  # one row per match: no DISTINCT (a sort of every match)
            return await rows.count()
        found = await rows.annotate(matches=Count(first.column, distinct=True)).values("matches")
        return int(found[0]["matches"]) if found else 0

    @property
    def once_each(self) -> bool:
        """Whether the matches' rows hold each contact once (some set is unique)."""
        return self._first().unique

    async def newest_counted(self, size: int) -> tuple[list[int], int]:
        """The `size` newest matches' ids (highest first) and the number of all matches, in one
        statement (`COUNT(*) OVER ()` is taken before the LIMIT): the first page of a list
        newest first with its totalCount, for one pass over the memberships instead of one for
        the count and another for the page (bench/filters.py 13). Only when `once_each`."""
        first = self._first()
        assert first.unique, "a set with a row per contact"
        table = first.rows.model._meta.db_table
        found = (
            await self.rows(first)
            # Ordered by `contact_id + 0`, not the column: ordered by the column, PostgreSQL
            # walked a (field, contact) index backwards through every value of the field to
            # skip the sort (bench/filters.py 11: 164 ms instead of 69); all the matches are
            # counted anyway, so sorting them is the cheap part.
            .annotate(matches=RawSQL("COUNT(*) OVER ()"), newest=RawSQL(f'"{table}"."{first.column}" + 0'))
            .order_by("-newest")
            .limit(size)
            .values(first.column, "matches")
        )
        return [row[first.column] for row in found], (int(found[0]["matches"]) if found else 0)

    def field_values(self, field_id: int) -> ScopedIds | None:
        """The set of this custom field's values, if the filter has one."""
        return next((s for s in self.sets if s.field_id == field_id), None)


def scoped_count(account_id: int, condition: Q, archived: bool | None) -> ScopedCount | None:
    """A count of the matches of `condition` (a compiled filter) from its memberships alone, or
    None when it needs the contact rows. `archived` True (the archive) is counted on contacts."""
    if archived is True:
        return None
    sets = scoped_sets(condition)
    if not sets:
        return None
    return ScopedCount(account_id, sets, archived)


class DisjointAny(Q):
    """An OR of conditions on contact columns, each the range of an index of its own, counted as
    disjoint parts: the first branch; the second where the first is false; and so on. The parts'
    counts add up to the OR's (a contact in several branches is counted in its first only), and
    each is one index-only scan when its index holds the other columns it reads (migration 0026
    for the owners: bench/filters.py 6, 186 ms of SQL -> 3 scans of ~20 ms together at 1M).
    Every branch must be true or false, never NULL (`_present` in crm/contact_filters.py), so
    that "where the first is false" is `NOT first` exactly."""

    def __init__(self, branches: list[Q]) -> None:
        # Branches on contact columns first: a later part is "this branch and not the earlier
        # ones", and "not" of a column is a test of the row already read, while "not" of a
        # membership (`NOT id IN (...)`) hashes every row of the membership first.
        ordered = sorted(branches, key=_reads_rows)
        super().__init__(*ordered, join_type=Q.OR)

    def parts(self) -> list[Q]:
        return [
            reduce(and_, [branch, *(~earlier for earlier in self.children[:index])])
            for index, branch in enumerate(self.children)
        ]


# At most this many parts in one count: each is a scalar subquery of the statement, planned and
# run on its own.
MAX_PARTS = 8


def _reads_rows(condition: Q) -> bool:
    """Whether `condition` holds a subquery (a membership), not only contact columns."""
    if any(isinstance(value, Term) for value in condition.filters.values()):  # Subquery, UnionOf
        return True
    return any(_reads_rows(child) for child in condition.children)


def disjoint_parts(condition: Q) -> list[Q] | None:
    """`condition` as disjoint conditions whose counts add up to its count, when it is an AND
    holding `DisjointAny`s: each splits (the parts of two ORs are each pair of their parts), as
    long as there are at most MAX_PARTS; the others stay whole. None when nothing splits.

    An OR of memberships and contact columns counted whole reads every live contact
    (bench/filters.py 20: a scan of 970k rows); in parts each is driven by its own index."""
    conjuncts = _conjuncts(condition)
    parts: list[list[Q]] = [[]]
    for conjunct in conjuncts:
        if isinstance(conjunct, DisjointAny) and len(parts) * len(conjunct.children) <= MAX_PARTS:
            parts = [[*done, branch] for done in parts for branch in conjunct.parts()]
        else:
            parts = [[*done, conjunct] for done in parts]
    if len(parts) == 1:
        return None
    return [reduce(and_, part) for part in parts]


def any_of(branches: list[Q]) -> Q:
    """The OR of `branches`: a `DisjointAny` when there are several."""
    return DisjointAny(branches) if len(branches) > 1 else reduce(or_, branches)


async def count_parts(parts: Sequence[QuerySet[Any]]) -> int:
    """The sum of the parts' counts, in one statement (each part a scalar subquery: one round
    trip, and one statement for `totalCount` as for any other filter)."""
    first, *others = parts
    names = [f"part_{index}" for index in range(len(others))]
    counted = first.annotate(
        matches=Count("id"),
        **{
            name: Subquery(part.annotate(matches=Count("id")).values("matches"))
            for name, part in zip(names, others, strict=True)
        },
    )
    row = (await counted.values("matches", *names))[0]
    return sum(int(row[name] or 0) for name in ("matches", *names))
