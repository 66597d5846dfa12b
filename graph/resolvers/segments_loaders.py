"""The request's loaders for saved views and segments (graph/schema/views.py, segments.py).

Dynamic segments' filters are compiled (crm/contact_filters.py) by one compiler per request: it
reads the account's statuses and custom field definitions once (2 statements), however many
filters it compiles.

A page of cards' `segments` then costs, whatever the number of cards and of segments: one
statement for the account's segments, one for the static memberships of every card of the page,
and one for all the dynamic segments at once -- each filter becomes a CASE column of a single
SELECT over the page's contact ids (live contacts only) -- plus the compiler's two: at most 5.
A segment whose stored filter no longer compiles (a custom field deleted since, say) is left off
the cards rather than failing them; `Segment.count` and `Segment.contacts` say why.

`Segment.count` for a page of segments: one GROUP BY for the static ones, one COUNT per dynamic
one (at most MAX_DYNAMIC in an account, crm/services/segments.py).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from strawberry.dataloader import DataLoader
from tortoise.expressions import Case, Q, Subquery, When
from tortoise.queryset import QuerySet

# One compiler for every filter of the request: compile_filter() would build one per filter, two
# reads each (see the module docstring).
from crm.contact_filters import filter_compiler, validate_shape
from crm.errors import BadInput
from crm.models import Contact, SavedView, Segment, SegmentMember
from crm.models.segments import DYNAMIC
from graph.resolvers.reads import Params, Row, connection, dialect

log = logging.getLogger("dossier.segments")

VIEW_COLUMNS = (
    "id",
    "user_id",
    "name",
    "filter_spec",
    "order_by",
    "columns",
    "shared",
    "created_at",
    "updated_at",
)
SEGMENT_COLUMNS = ("id", "name", "kind", "filter_spec", "created_by_id", "created_at", "updated_at")
# What an empty dynamic filter matches: every (live) contact.
_EVERYONE = Q(id__isnull=False)


def _with_user(columns: tuple[str, ...], relation: str) -> tuple[str, ...]:
    from graph.resolvers.loaders import with_users

    return with_users(columns, (relation,))


def view_read() -> tuple[str, ...]:
    return _with_user(VIEW_COLUMNS, "user")


def segment_read() -> tuple[str, ...]:
    return _with_user(SEGMENT_COLUMNS, "created_by")


class SegmentLoaders:
    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.view: DataLoader[int, Row | None] = DataLoader(self._views)
        self.segment: DataLoader[int, Row | None] = DataLoader(self._segments)
        self.segment_count: DataLoader[int, int | None] = DataLoader(self._counts)
        self.segments_by_contact: DataLoader[int, list[Row]] = DataLoader(self._by_contact)
        # The account's segments, by name (one key per request: None).
        self.account_segments: DataLoader[None, list[Row]] = DataLoader(self._account_segments)
        self._compiler: Any = None

    # -- what a segment holds -----------------------------------------------------------

    async def condition(self, segment: Row) -> Q:
        """A dynamic segment's filter as a condition on Contact; BadInput when it no longer compiles."""
        spec = segment["filter_spec"] or {}
        if not spec:
            return _EVERYONE
        validate_shape(spec)
        if self._compiler is None:
            self._compiler = await filter_compiler(self.account_id)
        return await self._compiler.compile(spec)  # type: ignore[no-any-return]

    async def members(self, segment: Row) -> QuerySet[Contact]:
        """The segment's live contacts, now (BadInput: a dynamic filter that no longer compiles)."""
        live = Contact.filter(account_id=self.account_id, archived_at__isnull=True)
        if segment["kind"] == DYNAMIC:
            return live.filter(await self.condition(segment))
        return live.filter(
            id__in=Subquery(SegmentMember.filter(segment_id=segment["id"]).values("contact_id"))
        )

    # -- batch functions ----------------------------------------------------------------

    async def _views(self, ids: list[int]) -> list[Row | None]:
        rows = await SavedView.filter(id__in=set(ids), account_id=self.account_id).values(*view_read())
        found = {row["id"]: row for row in rows}
        return [found.get(i) for i in ids]

    async def _segments(self, ids: list[int]) -> list[Row | None]:
        rows = await Segment.filter(id__in=set(ids), account_id=self.account_id).values(*segment_read())
        found = {row["id"]: row for row in rows}
        return [found.get(i) for i in ids]

    async def _account_segments(self, keys: list[None]) -> list[list[Row]]:
        rows = await Segment.filter(account_id=self.account_id).order_by("name", "id").values(*segment_read())
        return [rows for _ in keys]

    async def _counts(self, ids: list[int]) -> list[int | None]:
        """Live members: a static segment's rows (one GROUP BY), a dynamic one's matches (a COUNT
        each); None for a dynamic segment whose filter no longer compiles."""
        segments = {row["id"]: row for row in await self.segment.load_many(list(dict.fromkeys(ids))) if row}
        counts: dict[int, int | None] = {}
        static = [i for i, row in segments.items() if row["kind"] != DYNAMIC]
        if static:
            counts.update(await self._static_counts(static))
        for segment_id, row in segments.items():
            if row["kind"] == DYNAMIC:
                try:
                    counts[segment_id] = await (await self.members(row)).count()
                except BadInput:  # Segment.count says why, for this segment only
                    counts[segment_id] = None
        return [counts.get(i, 0) for i in ids]

    async def _static_counts(self, segment_ids: list[int]) -> dict[int, int]:
        params = Params(dialect())
        sql = (
            'SELECT m."segment_id", COUNT(*) FROM "segment_member" m'
            ' JOIN "contact" c ON c."id" = m."contact_id"'
            f' WHERE m."segment_id" IN ({params.many(segment_ids)})'
            f' AND c."account_id" = {params(self.account_id)}'
            ' AND c."archived_at" IS NULL AND c."merged_into_id" IS NULL GROUP BY m."segment_id"'
        )
        _, rows = await connection().execute_query(sql, params.values)
        return {row[0]: row[1] for row in rows}

    async def _by_contact(self, contact_ids: list[int]) -> list[list[Row]]:
        segments = await self.account_segments.load(None)
        if not segments:
            return [[] for _ in contact_ids]
        wanted = list(dict.fromkeys(contact_ids))
        member_of: dict[int, set[int]] = defaultdict(set)
        static = [row["id"] for row in segments if row["kind"] != DYNAMIC]
        if static:
            pairs = await SegmentMember.filter(segment_id__in=static, contact_id__in=wanted).values_list(
                "contact_id", "segment_id"
            )
            for contact_id, segment_id in pairs:
                member_of[contact_id].add(segment_id)
        for contact_id, segment_id in await self._dynamic_matches(
            [r for r in segments if r["kind"] == DYNAMIC], wanted
        ):
            member_of[contact_id].add(segment_id)
        return [[row for row in segments if row["id"] in member_of.get(i, ())] for i in contact_ids]

    async def _dynamic_matches(self, segments: list[Row], contact_ids: list[int]) -> list[tuple[int, int]]:
        """(contact id, segment id) for each of `contact_ids` (live) that a dynamic segment matches:
        one SELECT with a CASE column per segment."""
        columns: dict[str, Any] = {}
        for row in segments:
            try:
                columns[f"s{row['id']}"] = Case(When(await self.condition(row), then="1"), default="0")
            except BadInput as problem:
                log.info("segment %s's filter no longer compiles: %s", row["id"], problem.message)
        if not columns:
            return []
        rows = (
            await Contact.filter(account_id=self.account_id, archived_at__isnull=True, id__in=contact_ids)
            .annotate(**columns)
            .values("id", *columns)
        )
        return [(row["id"], int(name[1:])) for row in rows for name in columns if str(row[name]) == "1"]


def attach_segments(loaders: Any) -> None:
    """Give the request's Loaders the view and segment loaders as attributes, so `release()` clears
    them with the rest; `segment_members(row)` is a segment's live contacts (a QuerySet)."""
    found = SegmentLoaders(loaders.account_id)
    loaders.view = found.view
    loaders.segment = found.segment
    loaders.segment_count = found.segment_count
    loaders.segments_by_contact = found.segments_by_contact
    loaders.account_segments = found.account_segments
    loaders.segment_members = found.members
