"""The request's loaders for referrals and rewards (E1, E2): each batch is one statement for
any number of cards.

- invited_page: a card's invited contacts, oldest first, numbered per inviter in one window
  over the (inviter_id, id) index, cut at `first` + 1;
- referral_count: invited contacts with at least one lead, one GROUP BY for the batch;
- flow_key: the form key of each card's first lead (its flow), one windowed statement;
- reward_totals: each card's ledger sums by kind and direct, one GROUP BY;
- reward_ledger: a card's ledger lines, newest first (the shared paged-section reader);
- account_currency: the account's currency, for cards without ledger lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader

from crm.models import Account, Contact
from crm.services.rewards import TOTALS_SELECT, Totals, totals_of
from graph.resolvers.reads import Params, Row, _datetime_converter, connection, dialect, fetch_tagged, shape

REWARD_COLUMNS = (
    "id", "contact_id", "kind", "amount_units", "currency", "reason", "promo_code", "direct", "created_by_id",
    "created_by_name", "created_at",
)  # fmt: skip
REWARD_USERS = ("created_by",)

PageLoad = Callable[[Any, list[Any]], Coroutine[Any, Any, list[list[Row]]]]


@dataclass(frozen=True, slots=True)
class InvitedKey:
    contact_id: int  # the inviter
    first: int
    after_id: int | None  # the id of the last invited contact the client has


def _rewards_section() -> Any:
    from crm.models import RewardEntry
    from graph.resolvers.loaders import _PagedSection, with_users

    return _PagedSection(
        RewardEntry,
        "reward_entry",
        with_users(REWARD_COLUMNS, REWARD_USERS),
        "account_id = {account}",
        "kind",
    )


class ReferralLoaders:
    def __init__(self, account_id: int, pages: PageLoad) -> None:
        self.account_id = account_id
        self.invited_page: DataLoader[InvitedKey, list[Row]] = DataLoader(self._load_invited)
        self.referral_count: DataLoader[int, int] = DataLoader(self._load_counts)
        self.flow_key: DataLoader[int, str | None] = DataLoader(self._load_flow_keys)
        self.reward_totals: DataLoader[int, Totals] = DataLoader(self._load_totals)
        section = _rewards_section()
        self.reward_ledger: DataLoader[Any, list[Row]] = DataLoader(lambda keys: pages(section, keys))
        self.account_currency: DataLoader[int, str] = DataLoader(self._load_currency)

    def loaders(self) -> tuple[DataLoader[Any, Any], ...]:
        return (
            self.invited_page,
            self.referral_count,
            self.flow_key,
            self.reward_totals,
            self.reward_ledger,
            self.account_currency,
        )

    async def _load_invited(self, keys: list[InvitedKey]) -> list[list[Row]]:
        from graph.resolvers.loaders import CONTACT_READ

        groups: dict[tuple[int, int | None], set[int]] = defaultdict(set)
        for key in keys:
            groups[(key.first, key.after_id)].add(key.contact_id)
        params = Params(dialect())
        branches = []
        for slot, ((first, after_id), inviter_ids) in enumerate(groups.items()):
            where = [
                f'"account_id" = {params(self.account_id)}',
                f'"inviter_id" IN ({params.many(sorted(inviter_ids))})',
                '"merged_into_id" IS NULL',
            ]
            if after_id is not None:
                where.append(f'"id" > {params(after_id)}')
            numbered = (
                f'SELECT "id", ROW_NUMBER() OVER (PARTITION BY "inviter_id" ORDER BY "id") AS "rn"'
                f' FROM "contact" WHERE {" AND ".join(where)}'
            )
            limit = params(first + 1)
            branches.append(
                f'SELECT w."id", {slot} AS "slot", w."rn" FROM ({numbered}) w WHERE w."rn" <= {limit}'
            )
        join = f' JOIN ({" UNION ALL ".join(branches)}) r ON r."id" = t."id"'
        rows, tags = await fetch_tagged(
            shape(Contact, (*CONTACT_READ, "inviter_id")), params, 'r."slot", t."inviter_id", r."rn"',
            join=join, tag='r."slot"',
        )  # fmt: skip
        pages: dict[tuple[int, int], list[Row]] = defaultdict(list)
        for row, slot in zip(rows, tags, strict=True):
            pages[(slot, row["inviter_id"])].append(row)
        slots = {group: slot for slot, group in enumerate(groups)}
        return [pages.get((slots[(k.first, k.after_id)], k.contact_id), []) for k in keys]

    async def _load_counts(self, contact_ids: list[int]) -> list[int]:
        params = Params(dialect())
        sql = (
            'SELECT c."inviter_id", COUNT(*) FROM "contact" c'
            f' WHERE c."account_id" = {params(self.account_id)}'
            f' AND c."inviter_id" IN ({params.many(sorted(set(contact_ids)))}) AND c."merged_into_id" IS NULL'
            ' AND EXISTS (SELECT 1 FROM "lead" l WHERE l."contact_id" = c."id") GROUP BY c."inviter_id"'
        )
        _, rows = await connection().execute_query(sql, params.values)
        found = {row[0]: int(row[1]) for row in rows}
        return [found.get(i, 0) for i in contact_ids]

    async def _load_flow_keys(self, contact_ids: list[int]) -> list[str | None]:
        params = Params(dialect())
        firsts = (
            'SELECT "contact_id", "form_id", ROW_NUMBER() OVER (PARTITION BY "contact_id"'
            ' ORDER BY "submitted_at", "id") AS "rn" FROM "lead"'
            f' WHERE "account_id" = {params(self.account_id)}'
            f' AND "contact_id" IN ({params.many(sorted(set(contact_ids)))})'
        )
        sql = (
            f'SELECT x."contact_id", f."key" FROM ({firsts}) x'
            ' JOIN "lead_form" f ON f."id" = x."form_id" AND f."revoked_at" IS NULL WHERE x."rn" = 1'
        )
        _, rows = await connection().execute_query(sql, params.values)
        found = {row[0]: row[1] for row in rows}
        return [found.get(i) for i in contact_ids]

    async def _load_totals(self, contact_ids: list[int]) -> list[Totals]:
        params = Params(dialect())
        sql = (
            f'SELECT "contact_id", "kind", "direct", {TOTALS_SELECT}'
            f' FROM "reward_entry" WHERE "account_id" = {params(self.account_id)}'
            f' AND "contact_id" IN ({params.many(sorted(set(contact_ids)))})'
            ' GROUP BY "contact_id", "kind", "direct"'
        )
        _, rows = await connection().execute_query(sql, params.values)
        by_contact: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        as_time = _datetime_converter()  # SQLite gives MAX(created_at) as text
        for row in rows:
            contact_id, kind, direct, currency, units, count, latest = tuple(row)
            latest = as_time(latest) if latest is not None else None
            by_contact[contact_id].append((kind, bool(direct), currency, units, count, latest))
        return [totals_of(by_contact.get(i, [])) for i in contact_ids]

    async def _load_currency(self, account_ids: list[int]) -> list[str]:
        rows = await Account.filter(id__in=set(account_ids)).values("id", "currency")
        found = {row["id"]: row["currency"] for row in rows}
        return [found.get(i, "USD") for i in account_ids]
