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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
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


async def insert_rows(
    conn: BaseDBAsyncClient, model: type[Model], rows: Sequence[dict[str, Any]], returning: str | None = None
) -> list[dict[str, Any]]:
    """Multi-row INSERTs of `rows` (dicts with the same keys, by field name), each value converted
    by its field as the ORM would; with `returning`, that column of each inserted row."""
    if not rows:
        return []
    fields_map = model._meta.fields_map
    names = list(rows[0])
    converters = [fields_map[n].to_db_value for n in names]
    columns = ", ".join(f'"{fields_map[n].source_field or n}"' for n in names)
    head = f'INSERT INTO "{model._meta.db_table}" ({columns}) VALUES '
    tail = f' RETURNING "{returning}"' if returning else ""
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
    """The account's contacts with a row's email (case aside: migration 0023's index on
    account and lower(email)) or phone, oldest first."""
    emails = sorted({e.lower() for r in rows if (e := r.columns.get("email"))})
    phones = sorted({p for r in rows if (p := r.columns.get("phone"))})
    if not emails and not phones:
        return []
    match = Q(lower_email__in=emails) if emails else Q(phone__in=phones)
    if emails and phones:
        match = Q(lower_email__in=emails) | Q(phone__in=phones)
    return await (
        Contact.filter(account_id=account_id)
        .annotate(lower_email=Lower("email"))
        .filter(match)
        .using_db(conn)
        .order_by("id")
        .values("id", "archived_at", *CONTACT_FIELDS.values())
    )


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
    """(lower email, phone) of the account's leads whose contact has both, among the rows' pairs."""
    pairs = {(e.lower(), p) for r in rows if (e := r.columns.get("email")) and (p := r.columns.get("phone"))}
    if not pairs:
        return set()
    found = await (
        Contact.filter(account_id=account_id, phone__in=sorted({p for _, p in pairs}))
        .annotate(lower_email=Lower("email"))
        .filter(lower_email__in=sorted({e for e, _ in pairs}), leads__id__isnull=False)
        .using_db(conn)
        .distinct()
        .values_list("email", "phone")
    )
    return {(e.lower(), p) for e, p in found}


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
    index = _index(await _existing(conn, account_id, rows))
    duplicates = await _duplicate_pairs(conn, account_id, rows) if mode == LEADS else set()
    touched: list[_Pending] = []  # each contact once, in the order rows reached it
    leads: list[tuple[CleanRow, _Pending, str, bool]] = []
    for row in rows:
        pending, reason = index.find(row)
        if pending is None:
            pending = _Pending(dict(row.columns), row.number)
            pending.take(row)
            index.add(pending)
            touched.append(pending)
        else:
            if pending not in touched:
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
        returned = await insert_rows(conn, Contact, contact_rows, returning="id")
        # Both backends return a multi-row INSERT's rows in VALUES order.
        for p, got in zip(new, returned, strict=True):
            p.id = got["id"]
    existing = [p for p in touched if p.existing is not None]
    marked = [p.id for p in existing if not p.filled and mode == CONTACTS]
    for p in existing:
        fills = {c: p.columns[c] for c in (CONTACT_FIELDS[api] for api in p.filled)}
        if mode == CONTACTS:
            fills["new_data_at"] = now
        if fills:
            await Contact.filter(id=p.id).using_db(conn).update(**fills, updated_at=now)
    if marked:
        await Contact.filter(id__in=marked).using_db(conn).update(new_data_at=now)

    # Custom values: an existing contact keeps the values it has.
    having: set[tuple[int, int]] = set()
    if existing:
        having = set(
            await CustomFieldValue.filter(contact_id__in=[p.id for p in existing])
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
        lead_ids = [r["id"] for r in await insert_rows(conn, Lead, lead_rows, returning="id")]

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
                summary = f"{who.name} merged an imported row from {source} into {_name(p.columns)}: filled {filled}"
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
