"""The request's loaders for one communication history and insights (issue 12: B9, A9).

The history is a UNION ALL over the tables that hold communications -- calls, messages (SMS,
email, chat) and leads (web forms) -- ordered and cut in SQL: one statement per page shape
whatever the number of cards (a page of cards numbers each card's items with ROW_NUMBER()
OVER (PARTITION BY contact)). Its rows are positions (time, kind, id, channel, direction);
when the query selects the items themselves, the same statement LEFT JOINs each position's
call, message or lead (the columns the per-type loaders read), so a page with its items is
one statement.

Every item sorts by one time, newest first: a call by `scheduled_at` (when it takes or took
place; a logged call's is when it happened), a message by `created_at` (queued or received; a
chat message's is when it was said), a lead by `submitted_at`. Ties at one time sort by kind
(lead, message, call) then id, both descending, so (time, kind, id) is a total order and a
cursor holding it is exact at ties.

Insights are one statement for a whole page of cards: totals (customer since, jobs done,
lifetime value) and interactions (the most common channel and the last interaction), each also
its own loader (a query asking only `jobsCompleted` runs the totals alone).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from strawberry.dataloader import DataLoader

from graph.resolvers.reads import Params, connection, dialect

# The kinds of item, as numbered in SQL; the number is the tie-break at one time.
CALL, MESSAGE, LEAD = 1, 2, 3
KINDS = (CALL, MESSAGE, LEAD)
MESSAGE_CHANNELS = ("SMS", "EMAIL", "CHAT")
CHANNELS = ("CALL", *MESSAGE_CHANNELS, "WEBFORM")
SUMMARY_CHARS = 140  # lastInteraction.summary at most
_BODY_READ = 2000  # characters of a message body read to make its summary


@dataclass(frozen=True, slots=True)
class Position:
    """Where an item sits in the history: the order's (time, kind, id)."""

    at: datetime
    kind: int
    id: int


@dataclass(frozen=True, slots=True)
class CommunicationsKey:
    contact_id: int
    first: int
    after: Position | None
    channels: tuple[str, ...]  # sorted; never empty (all channels spelled out)
    nodes: bool = False  # read each item's call, message or lead in the page statement
    count: bool = False  # count the card's items in the page statement (first pages only)


@dataclass(frozen=True, slots=True)
class Item:
    contact_id: int
    position: Position
    channel: str
    direction: str | None
    # The item's row (as the per-type loader reads it) when the page was read with nodes;
    # None when not asked for.
    row: Any = field(default=None, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Totals:
    customer_since: datetime | None
    jobs_completed: int
    lifetime_value: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Interactions:
    most_common_channel: str | None
    last_at: datetime | None
    last_channel: str | None
    last_summary: str | None


def as_time(value: Any) -> datetime:
    """A timestamp as the driver returns it (SQLite: ISO text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _branches(
    params: Params,
    contact_ids: list[int],
    channels: tuple[str, ...],
    after: Position | None,
    *,
    happened: bool = False,
    limit: int | None = None,
) -> str:
    """The UNION ALL of the history's items of `contact_ids`, columns cid, at, kind, id,
    channel, direction.

    `happened`: calls only once they happened (logged, or with an outcome), for insights.
    `limit`: each branch cut to its own first rows (one card's page: the union's first rows
    are among them). Placeholders are made in text order (SQLite's are positional)."""
    parts = []

    def branch(table: str, time: str, kind: int, channel: str, direction: str, where: list[str]) -> None:
        if len(contact_ids) == 1:
            conditions = [f'x."contact_id" = {params(contact_ids[0])}']
        else:
            conditions = [f'x."contact_id" IN ({params.many(contact_ids)})']
        conditions.extend(where)  # constant text, no placeholders
        if after is not None:
            bound = f"{params(after.at)}, {params(after.kind)}, {params(after.id)}"
            conditions.append(f'(x."{time}", {kind}, x."id") < ({bound})')
        sql = (
            f'SELECT x."contact_id" AS "cid", x."{time}" AS "at", {kind} AS "kind", x."id" AS "id",'
            f' {channel} AS "channel", {direction} AS "direction"'
            f' FROM "{table}" x WHERE {" AND ".join(conditions)}'
        )
        if limit is not None:
            sql = f'SELECT * FROM ({sql} ORDER BY x."{time}" DESC, x."id" DESC LIMIT {params(limit)}) b{kind}'
        parts.append(sql)

    if "CALL" in channels:
        where = ['(x."direction" IS NOT NULL OR x."outcome" IS NOT NULL)'] if happened else []
        branch("call", "scheduled_at", CALL, "'CALL'", 'x."direction"', where)
    wanted = [c for c in MESSAGE_CHANNELS if c in channels]
    if wanted:
        # The channels are this module's constants, never the client's text.
        where = (
            []
            if len(wanted) == len(MESSAGE_CHANNELS)
            else ['x."channel" IN (' + ", ".join(f"'{c}'" for c in wanted) + ")"]
        )
        branch("message", "created_at", MESSAGE, 'x."channel"', 'x."direction"', where)
    if "WEBFORM" in channels:
        branch("lead", "submitted_at", LEAD, "'WEBFORM'", "'INBOUND'", [])
    return " UNION ALL ".join(parts)


_ORDER = 'u."at" DESC, u."kind" DESC, u."id" DESC'


def _item(row: Any) -> Item:
    return Item(row[0], Position(as_time(row[1]), row[2], row[3]), row[4], row[5])


@dataclass(frozen=True, slots=True)
class _NodeRead:
    """One kind's columns in the page statement: `select` and `join` text, and how to turn
    the record's values from `start` on back into the per-type loader's row."""

    kind: int
    start: int
    keys: tuple[str, ...]
    converters: tuple[tuple[int, Any], ...]

    def row(self, values: tuple[Any, ...]) -> dict[str, Any]:
        found = dict(zip(self.keys, values[self.start : self.start + len(self.keys)], strict=True))
        for index, convert in self.converters:
            key = self.keys[index]
            value = found[key]
            if value is not None:
                found[key] = convert(value)
        return found


@dataclass(frozen=True, slots=True)
class Page:
    """Up to first + 1 items of one card; `total`: its items in the key's channels, all pages
    together, when the key asked for the count and the page has items (else None: count
    through the count loader)."""

    items: list[Item]
    total: int | None = None


_NO_PAGE = Page([])


_NODE_READS: dict[str, tuple[str, str, tuple[_NodeRead, ...]]] = {}


def _node_reads(kind: str, outer: str) -> tuple[str, str, tuple[_NodeRead, ...]]:
    """(select columns, LEFT JOINs, reads) for the page statement whose positions are alias
    `outer`: each kind's row read as the per-type loader reads it (its shape, users joined),
    as a derived table joined on (kind, id). Built once per dialect and alias."""
    cached = _NODE_READS.get(f"{kind}:{outer}")
    if cached is not None:
        return cached
    from crm.models import Call, Lead, Message
    from graph.resolvers.loaders import CALL_READ, LEAD_COLUMNS, MESSAGE_READ
    from graph.resolvers.reads import shape

    columns: list[str] = []
    joins: list[str] = []
    reads: list[_NodeRead] = []
    start = 6  # after cid, at, kind, id, channel, direction
    for number, model, read in (
        (CALL, Call, CALL_READ),
        (MESSAGE, Message, MESSAGE_READ),
        (LEAD, Lead, LEAD_COLUMNS),
    ):
        select, keys, converters = shape(model, read).compile(kind)
        alias = f"n{number}"
        columns.extend(f'{alias}."{key}"' for key in keys)
        joins.append(
            f' LEFT JOIN ({select}) {alias} ON {outer}."kind" = {number} AND {alias}."id" = {outer}."id"'
        )
        reads.append(_NodeRead(number, start, tuple(keys), tuple(converters)))
        start += len(keys)
    built = _NODE_READS[f"{kind}:{outer}"] = (", " + ", ".join(columns), "".join(joins), tuple(reads))
    return built


def summary_of(text: str | None) -> str | None:
    """Plain text on one line, at most SUMMARY_CHARS characters (cut with an ellipsis)."""
    if not text:
        return None
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


def _call_summary(outcome: str | None, summary: str | None, event_name: str | None) -> str | None:
    label = outcome.replace("_", " ").capitalize() if outcome else None
    said = summary or (None if label else event_name)
    return summary_of(": ".join(part for part in (label, said) if part))


class CommunicationLoaders:
    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.pages: DataLoader[CommunicationsKey, Page] = DataLoader(self._load_pages)
        self.counts: DataLoader[tuple[int, tuple[str, ...]], int] = DataLoader(self._load_counts)
        self.totals: DataLoader[int, Totals] = DataLoader(self._load_totals)
        self.interactions: DataLoader[int, Interactions] = DataLoader(self._load_interactions)
        self.insights: DataLoader[int, tuple[Totals, Interactions]] = DataLoader(self._load_insights)

    def loaders(
        self,
    ) -> tuple[
        DataLoader[CommunicationsKey, Page],
        DataLoader[tuple[int, tuple[str, ...]], int],
        DataLoader[int, Totals],
        DataLoader[int, Interactions],
        DataLoader[int, tuple[Totals, Interactions]],
    ]:
        return self.pages, self.counts, self.totals, self.interactions, self.insights

    # -- the history ------------------------------------------------------------------

    async def _load_pages(self, keys: list[CommunicationsKey]) -> list[Page]:
        """One statement per distinct page shape (first, after, channels, nodes, count): up to
        first + 1 items per card (one more tells whether there is a next page), in history
        order."""
        shapes: dict[tuple[Any, ...], set[int]] = defaultdict(set)
        for key in keys:
            count = key.count and key.after is None
            shapes[(key.first, key.after, key.channels, key.nodes, count)].add(key.contact_id)
        found: dict[tuple[Any, ...], dict[int, Page]] = {}
        for shape_key, contact_ids in shapes.items():
            found[shape_key] = await self._page(sorted(contact_ids), *shape_key)
        return [
            found[(k.first, k.after, k.channels, k.nodes, k.count and k.after is None)].get(
                k.contact_id, _NO_PAGE
            )
            for k in keys
        ]

    async def _page(
        self,
        contact_ids: list[int],
        first: int,
        after: Position | None,
        channels: tuple[str, ...],
        nodes: bool,
        count: bool,
    ) -> dict[int, Page]:
        """`count` (a first page only): each card's items counted in the same statement, as
        its last column."""
        kind = dialect()
        params = Params(kind)
        single = len(contact_ids) == 1
        outer = "u" if single else "w"
        columns, joins, reads = _node_reads(kind, outer) if nodes else ("", "", ())
        if single:
            # The count first: its placeholders come first in the text.
            total = (
                f', (SELECT COUNT(*) FROM ({_branches(params, contact_ids, channels, None)}) q) AS "total"'
                if count
                else ""
            )
            union = _branches(params, contact_ids, channels, after, limit=first + 1)
            sql = (
                f'SELECT u."cid", u."at", u."kind", u."id", u."channel", u."direction"{columns}{total}'
                f" FROM ({union}) u"
                f' JOIN "contact" c ON c."id" = u."cid" AND c."account_id" = {params(self.account_id)}'
                f"{joins} ORDER BY {_ORDER} LIMIT {params(first + 1)}"
            )
        else:
            # Without `after` the union holds every item: the window counts them.
            union = _branches(params, contact_ids, channels, after)
            total = ', w."total"' if count else ""
            counted = ', COUNT(*) OVER (PARTITION BY u."cid") AS "total"' if count else ""
            sql = (
                f'SELECT w."cid", w."at", w."kind", w."id", w."channel", w."direction"{columns}{total} FROM ('
                f'SELECT u.*, ROW_NUMBER() OVER (PARTITION BY u."cid" ORDER BY {_ORDER}) AS "rn"{counted}'
                f" FROM ({union}) u"
                f' JOIN "contact" c ON c."id" = u."cid" AND c."account_id" = {params(self.account_id)}'
                f') w{joins} WHERE w."rn" <= {params(first + 1)} ORDER BY w."cid", w."rn"'
            )
        _, rows = await connection().execute_query(sql, params.values)
        pages: dict[int, Page] = {}
        by_kind = {read.kind: read for read in reads}
        for row in rows:
            values = _values(row)
            item = _item(values)
            if nodes:
                read = by_kind[item.position.kind]
                # A row deleted meanwhile cannot be missing here (one snapshot), but keep None
                # for an id the join did not find.
                node = read.row(values) if values[read.start] is not None else None
                item = Item(item.contact_id, item.position, item.channel, item.direction, node)
            page = pages.get(item.contact_id)
            if page is None:
                page = pages[item.contact_id] = Page([], int(values[-1]) if count else None)
            page.items.append(item)
        return pages

    async def _load_counts(self, keys: list[tuple[int, tuple[str, ...]]]) -> list[int]:
        by_channels: dict[tuple[str, ...], set[int]] = defaultdict(set)
        for contact_id, channels in keys:
            by_channels[channels].add(contact_id)
        counts: dict[tuple[int, tuple[str, ...]], int] = {}
        for channels, contact_ids in by_channels.items():
            params = Params(dialect())
            union = _branches(params, sorted(contact_ids), channels, None)
            sql = (
                f'SELECT u."cid", COUNT(*) FROM ({union}) u'
                f' JOIN "contact" c ON c."id" = u."cid" AND c."account_id" = {params(self.account_id)}'
                ' GROUP BY u."cid"'
            )
            _, rows = await connection().execute_query(sql, params.values)
            found = {_values(row)[0]: _values(row)[1] for row in rows}
            for contact_id in contact_ids:
                counts[(contact_id, channels)] = int(found.get(contact_id, 0))
        return [counts[key] for key in keys]

    # -- insights ---------------------------------------------------------------------

    def _totals_sql(self, params: Params, ids: list[int], interactions: bool = False) -> str:
        """The totals statement's SELECT ... WHERE (columns id, since, done, value, currency);
        with `interactions`, also the columns of the CTE `i` (see _interactions_sql) joined on."""
        kind = params.dialect
        total = "SUM" if kind == "postgres" else "decimal_sum"

        def among() -> str:
            return f'"contact_id" IN ({params.many(ids)})'

        def currency() -> str:
            return f'(SELECT a."currency" FROM "account" a WHERE a."id" = {params(self.account_id)})'

        since = (
            f'SELECT "contact_id", MIN("at") AS "since" FROM ('
            f'SELECT "contact_id", "closed_at" AS "at" FROM "deal" WHERE {among()} AND "status" = \'WON\''
            f' UNION ALL SELECT "contact_id", "completed_at" FROM "job" WHERE {among()}'
            " AND \"status\" = 'DONE'"
            f' UNION ALL SELECT "contact_id", "paid_at" FROM "invoice" WHERE {among()}'
            " AND \"status\" IN ('PAID', 'PARTIALLY_PAID')"
            ') f GROUP BY "contact_id"'
        )
        jobs = (
            f'SELECT "contact_id", COUNT(*) AS "done" FROM "job" WHERE {among()}'
            ' AND "status" = \'DONE\' GROUP BY "contact_id"'
        )
        value = (
            f'SELECT "contact_id", {total}("amount") AS "value" FROM ('
            f'SELECT "contact_id", "amount" FROM "deal" WHERE {among()} AND "status" = \'WON\''
            f' AND "currency" = {currency()}'
            f' UNION ALL SELECT "contact_id", "amount_paid" FROM "invoice" WHERE {among()}'
            f' AND "status" <> \'VOID\' AND "currency" = {currency()}'
            ') m GROUP BY "contact_id"'
        )
        return (
            'SELECT c."id", COALESCE(c."converted_at", s."since") AS "since", j."done", v."value",'
            ' a."currency"'
            + (
                ', i."at", i."kind", i."channel", i."common", i."outcome", i."summary",'
                ' i."event_name", i."body", i."form_name"'
                if interactions
                else ""
            )
            + ' FROM "contact" c JOIN "account" a ON a."id" = c."account_id"'
            f' LEFT JOIN ({since}) s ON s."contact_id" = c."id"'
            f' LEFT JOIN ({jobs}) j ON j."contact_id" = c."id"'
            f' LEFT JOIN ({value}) v ON v."contact_id" = c."id"'
            + (' LEFT JOIN i ON i."cid" = c."id"' if interactions else "")
            + f' WHERE c."account_id" = {params(self.account_id)} AND c."id" IN ({params.many(ids)})'
        )

    def _interactions_sql(self, params: Params, ids: list[int]) -> tuple[str, str]:
        """(CTEs, SELECT) of the interactions statement: `WITH <CTEs> <SELECT>`, columns cid, at,
        kind, channel, common, outcome, summary, event_name, body, form_name."""
        union = _branches(params, ids, CHANNELS, None, happened=True)
        ctes = (
            f"h AS ({union}),"
            " n AS (SELECT u.*,"
            f' ROW_NUMBER() OVER (PARTITION BY u."cid" ORDER BY {_ORDER}) AS "rn" FROM h u),'
            ' t AS (SELECT "cid", "channel", COUNT(*) AS "cnt", MIN("rn") AS "newest" FROM n'
            ' GROUP BY "cid", "channel"),'
            ' b AS (SELECT "cid", "channel", ROW_NUMBER() OVER (PARTITION BY "cid" ORDER BY "cnt" DESC,'
            ' "newest") AS "pick" FROM t)'
        )
        select = (
            'SELECT n."cid", n."at", n."kind", n."channel", b."channel" AS "common", ca."outcome",'
            f' ca."summary", ca."event_name", SUBSTR(me."body", 1, {_BODY_READ}) AS "body", le."form_name"'
            ' FROM n JOIN b ON b."cid" = n."cid" AND b."pick" = 1'
            f' JOIN "contact" c ON c."id" = n."cid" AND c."account_id" = {params(self.account_id)}'
            f' LEFT JOIN "call" ca ON n."kind" = {CALL} AND ca."id" = n."id"'
            f' LEFT JOIN "message" me ON n."kind" = {MESSAGE} AND me."id" = n."id"'
            f' LEFT JOIN "lead" le ON n."kind" = {LEAD} AND le."id" = n."id"'
            ' WHERE n."rn" = 1'
        )
        return ctes, select

    async def _load_totals(self, contact_ids: list[int]) -> list[Totals]:
        """customerSince, jobsCompleted and lifetimeValue of every card asked, in one statement.

        customerSince = the contact's convertedAt, else the earliest of its WON deals' closedAt,
        its DONE jobs' completedAt and its PAID / PARTIALLY_PAID invoices' paidAt.
        lifetimeValue = the amounts of WON deals + the amountPaid of invoices that are not VOID,
        counting only rows in the account's currency (exact: NUMERIC sums on PostgreSQL,
        `decimal_sum` on SQLite, see crm/sqlite.py)."""
        params = Params(dialect())
        sql = self._totals_sql(params, sorted(set(contact_ids)))
        _, rows = await connection().execute_query(sql, params.values)
        found = {values[0]: _totals(values) for values in map(_values, rows)}
        return [found.get(cid, _NO_TOTALS) for cid in contact_ids]

    async def _load_interactions(self, contact_ids: list[int]) -> list[Interactions]:
        """The most common channel and the last interaction of every card asked, in one
        statement, over the history's items that happened (calls once logged or given an
        outcome; every message and lead). The most common channel has the most items; at a
        tie, the channel whose newest item is newer wins."""
        params = Params(dialect())
        ctes, select = self._interactions_sql(params, sorted(set(contact_ids)))
        _, rows = await connection().execute_query(f"WITH {ctes} {select}", params.values)
        found = {values[0]: _interactions(values[1:]) for values in map(_values, rows)}
        return [found.get(cid, _NO_INTERACTIONS) for cid in contact_ids]

    async def _load_insights(self, contact_ids: list[int]) -> list[tuple[Totals, Interactions]]:
        """Totals and interactions together (a query asking for both): the interactions
        statement as a CTE joined onto the totals statement, one statement for both."""
        params = Params(dialect())
        ids = sorted(set(contact_ids))
        ctes, select = self._interactions_sql(params, ids)  # placeholders in text order
        sql = f"WITH {ctes}, i AS ({select}) {self._totals_sql(params, ids, interactions=True)}"
        _, rows = await connection().execute_query(sql, params.values)
        found: dict[int, tuple[Totals, Interactions]] = {}
        for values in map(_values, rows):
            found[values[0]] = (
                _totals(values[:5]),
                _NO_INTERACTIONS if values[5] is None else _interactions(values[5:]),
            )
        return [found.get(cid, (_NO_TOTALS, _NO_INTERACTIONS)) for cid in contact_ids]


_NO_TOTALS = Totals(None, 0, Decimal(0), "USD")
_NO_INTERACTIONS = Interactions(None, None, None, None)


def _totals(values: tuple[Any, ...]) -> Totals:
    """Totals from (id, since, done, value, currency)."""
    _, since_at, done, amount, code = values
    return Totals(
        customer_since=as_time(since_at) if since_at is not None else None,
        jobs_completed=int(done or 0),
        lifetime_value=Decimal(str(amount)) if amount is not None else Decimal(0),
        currency=code,
    )


def _interactions(values: tuple[Any, ...]) -> Interactions:
    """Interactions from (at, kind, channel, common, outcome, summary, event_name, body, form_name)."""
    at, kind, channel, common, outcome, said, event_name, body, form_name = values
    if kind == CALL:
        summary = _call_summary(outcome, said, event_name)
    elif kind == MESSAGE:
        summary = summary_of(body)
    else:
        summary = summary_of(form_name)
    return Interactions(common, as_time(at), channel, summary)


def _values(row: Any) -> tuple[Any, ...]:
    """A row's values in column order (an asyncpg record or an sqlite3 row)."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)
