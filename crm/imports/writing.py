"""Writing one batch of checked rows: a few multi-row statements, never one ORM save per row.

Per batch, whatever its size: one SELECT finds the contacts the rows match (by primary email,
case aside, or primary phone: the duplicate finder's rules); in LEADS mode one more finds the
leads that make a row a DUPLICATE; then one multi-row INSERT of new contacts (RETURNING their
ids), one UPDATE per contact a row filled (plus one for the "new data" mark of the others), one
INSERT of custom values, of leads, of journey entries, of job errors.

Rows of one batch that match each other (the same email twice in the file) become one contact:
the later row fills the earlier one's empty fields, as it would fill an existing contact's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Lower
from tortoise.models import Model

from crm.custom_values import shown, stored
from crm.imports.mapping import CONTACT_FIELDS
from crm.imports.rows import CleanRow, Problem
from crm.journey import JourneyKind
from crm.models import Contact, CustomFieldValue, JourneyEvent, Lead
from crm.models.referrals import new_referral_code
from crm.services.leads import fingerprint
from crm.uow import display_name

# Bound parameters per statement: below both backends' limits (PostgreSQL 32767, SQLite 32766).
MAX_PARAMETERS = 30_000
API_NAME = {column: api for api, column in CONTACT_FIELDS.items()}
LEADS, CONTACTS = "LEADS", "CONTACTS"


@dataclass
class Who:
    """The job's starter, as journey entries name them."""

    kind: str
    name: str
    user_id: int | None


@dataclass
class Outcome:
    created: int = 0
    merged: int = 0
    duplicates: int = 0
    errors: list[tuple[int, int | None, str | None, str, str]] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.created += other.created
        self.merged += other.merged
        self.duplicates += other.duplicates
        self.errors += other.errors


def _as_is(value: Any, instance: Any) -> Any:
    return value


# Fields whose values both drivers take as Python gives them: checked already (the row checks
# enforce every length), so tortoise's per-value conversion and validators are skipped: they
# were a tenth of an import's CPU time.
_PLAIN = (fields.CharField, fields.TextField, fields.IntField, fields.BigIntField, fields.BooleanField)


def _converter(field: Any) -> Any:
    if isinstance(field, _PLAIN) or getattr(field, "reference", None) is not None:
        return _as_is
    return field.to_db_value


async def _update_contacts(
    conn: BaseDBAsyncClient, columns: Sequence[str], members: Sequence[_Pending], now: datetime, *, mark: bool
) -> None:
    """Give `members` their new values of `columns` (and updated_at, new_data_at when `mark`): one
    UPDATE ... FROM (VALUES ...) per chunk, not one statement per merged row (0.8 ms each)."""
    postgres = conn.capabilities.dialect == "postgres"
    moment = Contact._meta.fields_map["updated_at"].to_db_value(now, None)  # type: ignore[arg-type]
    stamps = ["updated_at", *(["new_data_at"] if mark else [])]
    names = ", ".join(f'"{name}"' for name in ("id", *columns))
    per_row = len(columns) + 1
    for start in range(0, len(members), MAX_PARAMETERS // per_row):
        chunk = members[start : start + MAX_PARAMETERS // per_row]
        values: list[str] = []
        parameters: list[Any] = [moment] if postgres else []
        for p in chunk:
            items = [p.id, *(p.columns[c] for c in columns)]
            if postgres:
                first = len(parameters) + 1
                casts = ["::int", *(["::text"] * len(columns))]
                values.append("(" + ", ".join(f"${first + i}{casts[i]}" for i in range(per_row)) + ")")
            else:
                values.append("(" + ", ".join("?" * per_row) + ")")
            parameters += items
        now_mark = "$1" if postgres else "?"
        sets = ", ".join([*(f'"{c}" = v."{c}"' for c in columns), *(f'"{c}" = {now_mark}' for c in stamps)])
        if not postgres:
            parameters += [moment] * len(stamps)
        await conn.execute_query(
            f"WITH v({names}) AS (VALUES {', '.join(values)}) "
            f'UPDATE "contact" SET {sets} FROM v WHERE "contact"."id" = v."id"',
            parameters,
        )


async def insert_rows(
    conn: BaseDBAsyncClient,
    model: type[Model],
    rows: Sequence[dict[str, Any]],
    returning: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Multi-row INSERTs of `rows` (dicts with the same keys, by field name), each value converted
    by its field as the ORM would; with `returning`, those columns of each inserted row."""
    if not rows:
        return []
    fields_map = model._meta.fields_map
    names = list(rows[0])
    converters = [_converter(fields_map[n]) for n in names]
    columns = ", ".join(f'"{fields_map[n].source_field or n}"' for n in names)
    head = f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES '
    tail = " RETURNING " + ", ".join(f'"{column}"' for column in returning) if returning else ""
    postgres = conn.capabilities.dialect == "postgres"
    per_row = len(names)
    step = max(1, MAX_PARAMETERS // per_row)
    found: list[dict[str, Any]] = []
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        if postgres:
            groups = ", ".join(
                "(" + ", ".join(f"${n * per_row + i + 1}" for i in range(per_row)) + ")"
                for n in range(len(chunk))
            )
        else:
            groups = ", ".join(["(" + ", ".join("?" * per_row) + ")"] * len(chunk))
        parameters = [
            convert(row[n], None) for row in chunk for n, convert in zip(names, converters, strict=True)
        ]  # type: ignore[arg-type]
        if returning:
            found += await conn.execute_query_dict(head + groups + tail, parameters)
        else:
            await conn.execute_query(head + groups, parameters)
    return found


def _fold(email: str | None) -> str | None:
    # lower(), not casefold(): what SQL's LOWER() does, so Python and the index agree.
    return email.lower() if email else None


def _empty(value: Any) -> bool:
    return value is None or value == ""


class _Pending:
    """A contact this batch creates (first row) or fills (an existing contact it matched)."""

    def __init__(self, columns: dict[str, Any], number: int, existing: dict[str, Any] | None = None) -> None:
        self.columns = columns  # the contact's columns as they will be
        self.number = number  # the first row that made or matched it
        self.existing = existing  # the contact's row before the import, if it existed
        self.filled: dict[str, list[Any]] = {}
        self.custom: dict[int, tuple[Any, dict[str, Any]]] = {}
        self.id: int | None = existing["id"] if existing else None

    def take(self, row: CleanRow) -> None:
        """Fill what is empty from `row`, never overwriting."""
        for column, value in row.columns.items():
            if _empty(self.columns.get(column)):
                before = self.columns.get(column)
                self.columns[column] = value
                if self.existing is not None:
                    self.filled[API_NAME[column]] = [before, value]
        for custom_field, typed in row.custom:
            self.custom.setdefault(custom_field.id, (custom_field, typed))


async def _existing(
    conn: BaseDBAsyncClient, account_id: int, rows: Sequence[CleanRow]
) -> list[dict[str, Any]]:
    """The account's contacts with a row's email (case aside) or phone, oldest first: two
    queries, each on its own index of migration 0023 ((account, lower(email)) and (account,
    phone)), rather than one with OR, which a planner with stale statistics (a table growing
    during the import) answered by reading every contact of the account for every batch."""
    emails = sorted({e.lower() for r in rows if (e := r.columns.get("email"))})
    phones = sorted({p for r in rows if (p := r.columns.get("phone"))})
    columns = ("id", "archived_at", *CONTACT_FIELDS.values())
    found: dict[int, dict[str, Any]] = {}
    if emails:
        for row in await (
            Contact.filter(account_id=account_id)
            .annotate(lower_email=Lower("email"))
            .filter(lower_email__in=emails)
            .using_db(conn)
            .values(*columns)
        ):
            found[row["id"]] = row
    if phones:
        for row in (
            await Contact.filter(account_id=account_id, phone__in=phones).using_db(conn).values(*columns)
        ):
            found[row["id"]] = row
    return [found[i] for i in sorted(found)]


@asynccontextmanager
async def _btree_lookups(conn: BaseDBAsyncClient) -> AsyncIterator[None]:
    """On PostgreSQL, no bitmap scans for the lookups of a batch: the search's trigram GIN indexes
    on phone and email (bitmap-only) also answer `phone = ANY(...)`, and the planner took them
    for 1,000 phones: 9 s per batch against milliseconds on the (account_id, phone) b-tree."""
    postgres = conn.capabilities.dialect == "postgres"
    if postgres:
        await conn.execute_script("SET LOCAL enable_bitmapscan = off")
    try:
        yield
    finally:
        if postgres:
            await conn.execute_script("SET LOCAL enable_bitmapscan = on")


async def keep_statistics(conn: BaseDBAsyncClient, created: int) -> None:
    """On PostgreSQL, ANALYZE the contact table when this import has made more contacts than the
    planner believes the table holds (never analyzed, or outgrown since). With such statistics
    it takes the account's contacts for a handful and answers `_existing` by reading all of them
    per batch (1.5 s a batch at 85,000 contacts) instead of looking the rows' emails up in the
    index; autovacuum analyzes too late for a file imported within a minute. A few ANALYZEs per
    100,000 rows, ~0.1 s each."""
    if conn.capabilities.dialect != "postgres":
        return  # SQLite's planner, without sqlite_stat tables, prefers the longer index match
    rows = await conn.execute_query_dict("SELECT reltuples FROM pg_class WHERE oid = 'contact'::regclass")
    if rows and (rows[0]["reltuples"] < 0 or created >= rows[0]["reltuples"]):
        await conn.execute_script('ANALYZE "contact"')


class _Index:
    """The contacts a row may match, by folded email and by phone: live before archived, oldest
    first (as leads.py `_oldest` picks)."""

    def __init__(self) -> None:
        self.by_email: dict[str, _Pending] = {}
        self.by_phone: dict[str, _Pending] = {}

    def add(self, pending: _Pending) -> None:
        email, phone = _fold(pending.columns.get("email")), pending.columns.get("phone")
        if email:
            self.by_email.setdefault(email, pending)
        if phone:
            self.by_phone.setdefault(phone, pending)

    def find(self, row: CleanRow) -> tuple[_Pending | None, str]:
        email, phone = _fold(row.columns.get("email")), row.columns.get("phone")
        by_email = self.by_email.get(email) if email else None
        if by_email is not None:
            same_phone = phone is not None and by_email.columns.get("phone") == phone
            return by_email, "EMAIL_AND_PHONE" if same_phone else "EMAIL"
        by_phone = self.by_phone.get(phone) if phone else None
        return (by_phone, "PHONE") if by_phone is not None else (None, "NEW")


def _index(found: list[dict[str, Any]]) -> _Index:
    index = _Index()
    ordered = [r for r in found if r["archived_at"] is None] + [
        r for r in found if r["archived_at"] is not None
    ]
    for row in ordered:
        columns = {c: row[c] for c in CONTACT_FIELDS.values()}
        index.add(_Pending(columns, 0, row))
    return index


async def _duplicate_pairs(
    conn: BaseDBAsyncClient, account_id: int, rows: Sequence[CleanRow]
) -> set[tuple[str, str]]:
    """(lower email, phone) of the account's leads whose contact has both, among the rows' pairs:
    the contacts by phone (an index), then which of them have a lead (Lead's contact index)."""
    pairs = {(e.lower(), p) for r in rows if (e := r.columns.get("email")) and (p := r.columns.get("phone"))}
    if not pairs:
        return set()
    candidates = await (
        Contact.filter(account_id=account_id, phone__in=sorted({p for _, p in pairs}))
        .using_db(conn)
        .values_list("id", "email", "phone")
    )
    matching = {i: (e.lower(), p) for i, e, p in candidates if e and (e.lower(), p) in pairs}
    if not matching:
        return set()
    with_leads = await (
        Lead.filter(contact_id__in=list(matching))
        .using_db(conn)
        .distinct()
        .values_list("contact_id", flat=True)
    )
    return {matching[i] for i in with_leads}


def _name(columns: dict[str, Any]) -> str:
    return display_name(
        columns.get("first_name"),
        columns.get("last_name"),
        columns.get("business_name"),
        columns.get("email"),
    )


async def write_batch(
    conn: BaseDBAsyncClient,
    *,
    job_id: int,
    account_id: int,
    status: str,
    mode: str,
    source: str,
    who: Who,
    rows: Sequence[CleanRow],
    problems: Sequence[tuple[int, Problem]],
    dry_run: bool,
    now: datetime,
) -> Outcome:
    """Import `rows` (checked) and record `problems` (the batch's bad rows) as job errors."""
    outcome = Outcome()
    for number, problem in problems:
        outcome.errors.append((number, None, problem.column, problem.code, problem.message))
    async with _btree_lookups(conn):
        index = _index(await _existing(conn, account_id, rows))
        duplicates = await _duplicate_pairs(conn, account_id, rows) if mode == LEADS else set()
    touched: list[_Pending] = []  # each contact once, in the order rows reached it
    reached: set[int] = set()
    leads: list[tuple[CleanRow, _Pending, str, bool]] = []
    for row in rows:
        pending, reason = index.find(row)
        if pending is None:
            pending = _Pending(dict(row.columns), row.number)
            pending.take(row)
            index.add(pending)
            reached.add(id(pending))
            touched.append(pending)
        else:
            if id(pending) not in reached:
                reached.add(id(pending))
                touched.append(pending)
            pending.take(row)
        if mode == LEADS:
            pair = (_fold(row.columns.get("email")), row.columns.get("phone"))
            duplicate = bool(pair[0] and pair[1]) and pair in duplicates
            if pair[0] and pair[1]:
                duplicates.add(pair)  # type: ignore[arg-type]
            leads.append((row, pending, reason, duplicate))
            if duplicate:
                outcome.duplicates += 1
                outcome.errors.append(
                    (
                        row.number,
                        pending.id,
                        None,
                        "DUPLICATE",
                        "a lead with this email and phone exists: stored as DUPLICATE",
                    )
                )
        elif pending.existing is not None or pending.number != row.number:
            outcome.merged += 1
    new = [p for p in touched if p.existing is None]
    outcome.created = len(new)
    if dry_run:
        return outcome

    # Contacts: one INSERT of the new ones, their ids back by their (unique) referral codes.
    if new:
        names = sorted({c for p in new for c in p.columns})
        contact_rows = []
        for p in new:
            code = new_referral_code()
            p.columns["referral_code"] = code
            contact_rows.append(
                {
                    "account_id": account_id,
                    "status": status,
                    "referral_code": code,
                    "created_at": now,
                    "updated_at": now,
                    **{c: p.columns.get(c) for c in names},
                }
            )
        returned = await insert_rows(conn, Contact, contact_rows, returning=("id", "referral_code"))
        ids = {got["referral_code"]: got["id"] for got in returned}
        for p in new:
            p.id = ids[p.columns["referral_code"]]
    existing = [p for p in touched if p.existing is not None]
    # Contacts that take the same columns are updated by one statement.
    groups: dict[tuple[str, ...], list[_Pending]] = {}
    for p in existing:
        filled = tuple(CONTACT_FIELDS[api] for api in p.filled)
        if filled or mode == CONTACTS:
            groups.setdefault(filled, []).append(p)
    for filled, members in groups.items():
        await _update_contacts(conn, filled, members, now, mark=mode == CONTACTS)

    # Custom values: an existing contact keeps the values it has.
    having: set[tuple[int, int]] = set()
    if existing:
        field_ids = sorted({field_id for p in existing for field_id in p.custom})
        if field_ids:  # (field_id, contact_id) is the table's unique index
            having = set(
                await CustomFieldValue.filter(field_id__in=field_ids, contact_id__in=[p.id for p in existing])
                .using_db(conn)
                .values_list("contact_id", "field_id")
            )
    value_rows = []
    custom_changes: dict[int, dict[str, list[Any]]] = {}
    for p in touched:
        for field_id, (custom_field, typed) in p.custom.items():
            if (p.id, field_id) in having:
                continue
            value_rows.append({"field_id": field_id, "contact_id": p.id, **stored(typed), "updated_at": now})
            custom_changes.setdefault(p.id, {})[f"customFields.{custom_field.key}"] = [
                None,
                shown(custom_field.type, typed),
            ]  # type: ignore[index]
    await insert_rows(conn, CustomFieldValue, value_rows)

    # Leads (LEADS mode): one per row, DUPLICATE when a lead with its email and phone existed.
    lead_ids: list[int | None] = [None] * len(leads)
    if leads:
        form_name = f"Import {source}"[:200]
        print_ = fingerprint(form_name, [])
        lead_rows = [
            {
                "account_id": account_id,
                "contact_id": p.id,
                "form_name": form_name,
                "submitted_at": now,
                "status": "DUPLICATE" if duplicate else "NEW",
                "match_reason": "NEW" if p.existing is None and p.number == row.number else reason,
                "fingerprint": print_,
                "identity": {API_NAME[c]: v for c, v in row.columns.items()},
                "created_at": now,
            }
            for row, p, reason, duplicate in leads
        ]
        # Ids come from the sequence in VALUES order, whatever order RETURNING lists them in.
        lead_ids = sorted(r["id"] for r in await insert_rows(conn, Lead, lead_rows, returning=("id",)))

    # Journey: one entry per contact made or filled (per lead in LEADS mode).
    common = {
        "account_id": account_id,
        "kind": JourneyKind.CONTACT_IMPORTED.value,
        "occurred_at": now,
        "actor_kind": who.kind,
        "actor_user_id": who.user_id,
        "actor_name": who.name[:120],
    }
    entries = []
    if mode == LEADS:
        for (row, p, reason, duplicate), lead_id in zip(leads, lead_ids, strict=True):
            created = p.existing is None and p.number == row.number
            what = "a new contact" if created else f"matched by {reason.lower().replace('_', ' ')}"
            if duplicate:
                what += "; a DUPLICATE of an existing lead"
            changes = _created_changes(p, status) if created else dict(p.filled) if p.existing else {}
            entries.append(
                {
                    **common,
                    "contact_id": p.id,
                    "summary": f"{who.name} imported a lead from {source} (row {row.number}): {what}"[:500],
                    "changes": {**changes, **(custom_changes.get(p.id, {}) if created else {})},  # type: ignore[arg-type]
                    "subject_type": "Lead",
                    "subject_id": lead_id,
                }
            )
    else:
        for p in touched:
            if p.existing is None:
                summary = f"{who.name} imported {_name(p.columns)} from {source} (row {p.number})"
                changes = {**_created_changes(p, status), **custom_changes.get(p.id, {})}  # type: ignore[arg-type]
            else:
                filled = ", ".join(p.filled) if p.filled else "nothing new"
                into = _name(p.columns)
                summary = f"{who.name} merged an imported row from {source} into {into}: filled {filled}"
                changes = {**p.filled, **custom_changes.get(p.id, {})}  # type: ignore[arg-type]
            entries.append(
                {
                    **common,
                    "contact_id": p.id,
                    "summary": summary[:500],
                    "changes": changes,
                    "subject_type": "BulkJob",
                    "subject_id": job_id,
                }
            )
    await insert_rows(conn, JourneyEvent, entries)
    return outcome


def _created_changes(p: _Pending, status: str) -> dict[str, list[Any]]:
    changes = {API_NAME[c]: [None, v] for c, v in p.columns.items() if c in API_NAME and v is not None}
    changes["status"] = [None, status]
    return changes
