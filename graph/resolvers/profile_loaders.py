"""The request's loaders for the card's header and profile: a contact's profile row, and its
opportunity summary (A4, A5). Each batch costs one statement whatever the number of cards.

The opportunity is computed in SQL, one GROUP BY contact over the batch's deals, in the
account's currency (`Account.currency`); deals in another currency are counted, not summed:

- dealSize = sum(amount) over deals that are not LOST;
- quoted = sum(amount) over OPEN deals;  closed = sum(amount) over WON deals;
- likelihood = round(sum(amount * likelihood) / sum(amount)) over OPEN deals that have a
  likelihood (half up); null when there are none, or when their amounts add up to 0;
- closeDate = the earliest closeDate of the OPEN deals; null when none has one;
- excludedDeals = how many deals are in another currency than the account's.

Sums are exact: PostgreSQL's SUM over NUMERIC, and on SQLite (where decimals are text) the
`decimal_sum` aggregate crm/sqlite.py registers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from strawberry.dataloader import DataLoader

from crm.models.profile import PROFILE_COLUMNS, ContactProfile
from graph.resolvers.reads import Params, Row, connection, dialect, fetch, shape

PROFILE_READ = ("contact_id", *PROFILE_COLUMNS)
_CONTACT_JOIN = ' JOIN "contact" c ON c."id" = t."contact_id"'


@dataclass(frozen=True, slots=True)
class OpportunityRow:
    currency: str
    deal_size: Decimal
    quoted: Decimal
    closed: Decimal
    likelihood: int | None
    close_date: date | None
    excluded_deals: int


def _opportunity_sql(postgres: bool, params: Params, account_id: int, contact_ids: list[int]) -> str:
    total = "SUM" if postgres else "decimal_sum"
    same = 'd."currency" = a."currency"'
    open_ = f"{same} AND d.\"status\" = 'OPEN'"
    weighted = f'{open_} AND d."likelihood" IS NOT NULL'
    if postgres:
        weighted_sum = f'SUM(CASE WHEN {weighted} THEN d."amount" * d."likelihood" END)'
    else:  # decimal_sum(x, factor): the exact sum of x * factor
        weighted_sum = f'decimal_sum(CASE WHEN {weighted} THEN d."amount" END, d."likelihood")'
    return (
        'SELECT c."id", a."currency",'
        f' {total}(CASE WHEN {same} AND d."status" <> \'LOST\' THEN d."amount" END),'
        f' {total}(CASE WHEN {open_} THEN d."amount" END),'
        f' {total}(CASE WHEN {same} AND d."status" = \'WON\' THEN d."amount" END),'
        f" {weighted_sum},"
        f' {total}(CASE WHEN {weighted} THEN d."amount" END),'
        f' MIN(CASE WHEN {open_} THEN d."close_date" END),'
        f' COUNT(CASE WHEN d."currency" <> a."currency" THEN 1 END)'
        ' FROM "contact" c JOIN "account" a ON a."id" = c."account_id"'
        ' LEFT JOIN "deal" d ON d."contact_id" = c."id"'
        f' WHERE c."account_id" = {params(account_id)} AND c."id" IN ({params.many(contact_ids)})'
        ' GROUP BY c."id", a."currency"'
    )


def _decimal(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def _opportunity(record: Any) -> OpportunityRow:
    _, currency, deal_size, quoted, closed, weighted, weight, close_date, excluded = tuple(record)
    likelihood = None
    if weight is not None and _decimal(weight) != 0:
        mean = _decimal(weighted) / _decimal(weight)
        likelihood = int(mean.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if isinstance(close_date, str):
        close_date = date.fromisoformat(close_date)
    return OpportunityRow(
        currency=currency,
        deal_size=_decimal(deal_size),
        quoted=_decimal(quoted),
        closed=_decimal(closed),
        likelihood=likelihood,
        close_date=close_date,
        excluded_deals=int(excluded or 0),
    )


class ProfileLoaders:
    """`profile`: a contact's profile row (None until its first write); `opportunity`: the
    summary of its deals (None for a contact of another account or none at all)."""

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.profile: DataLoader[int, Row | None] = DataLoader(self._load_profiles)
        self.opportunity: DataLoader[int, OpportunityRow | None] = DataLoader(self._load_opportunities)

    def loaders(self) -> tuple[DataLoader[int, Row | None], DataLoader[int, OpportunityRow | None]]:
        return self.profile, self.opportunity

    async def _load_profiles(self, contact_ids: list[int]) -> list[Row | None]:
        params = Params(dialect())
        ids = params.many(set(contact_ids))
        where = f't."contact_id" IN ({ids}) AND c."account_id" = {params(self.account_id)}'
        rows = await fetch(shape(ContactProfile, PROFILE_READ), params, where, join=_CONTACT_JOIN)
        found = {row["contact_id"]: row for row in rows}
        return [found.get(i) for i in contact_ids]

    async def _load_opportunities(self, contact_ids: list[int]) -> list[OpportunityRow | None]:
        kind = dialect()
        params = Params(kind)
        sql = _opportunity_sql(kind == "postgres", params, self.account_id, sorted(set(contact_ids)))
        _, records = await connection().execute_query(sql, params.values)
        found = {record[0]: _opportunity(record) for record in records}
        return [found.get(i) for i in contact_ids]
