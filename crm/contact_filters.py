"""Filters of the contacts table (issue 14, D6): a filter's domain form compiled to SQL.

The *domain form* is a plain dict in exactly the GraphQL `ContactFilter` input's shape
(camelCase keys, enum values by name, omitted keys absent) except that object ids (users,
forms, segments) are database ints. Views and segments store it as JSON; bulk actions and
exports call `matching_contacts` with it.

Everything compiles to one SQL statement over the `contact` table: columns directly, related
records (calls, deals, leads, tasks, tags, custom field values, segment members) through
`id IN (SELECT contact_id ...)` subqueries over indexed columns -- never Python-side filtering,
never a query per row. The one condition that needs SQL text per dialect (a MULTI_SELECT
option inside its JSON array) is in crm/contact_sql.py.

Semantics a client relies on (the README says the same):
- text: `eq` and `in` are exact; `contains` / `startsWith` ignore case; a phone's `contains`
  compares digits only (like search); `isNull` is about null only.
- a comparison never matches a missing value, and `not` is exact (see `_present`).
- related records: a clause means "has at least one such record" (all its conditions on the
  same record); `exists: false` means "has none".
- `lastInteraction`: the newest communication that happened, as the card's insights define it
  (graph/schema/communications.py): a call once logged or given an outcome (at its
  `scheduled_at`), any SMS/email/chat message (at `created_at`), a web-form lead (at
  `submitted_at`). The database keeps it on the contact (`last_interaction_at`, migration 0024).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from operator import and_
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from crm.clock import utcnow
from crm.contact_count import ScopedCount, ScopedIds, any_of, count_parts, disjoint_parts, scoped_count
from crm.contact_filter_shape import (  # validate_shape and visible_filter_count are this module's API too
    BOOLEAN_FIELDS,
    CHOICE_FIELDS,
    CUSTOM_KEYS,
    CUSTOM_OPS,
    DATE_FIELDS,
    MAX_SEGMENT_HOPS,
    OWNER_FIELDS,
    PHONE_FIELDS,
    RELATIVE_RANGES,
    TAG_OPS,
    TEXT_FIELDS,
    TOP_KEYS,
    VALUE_COLUMN,
    bad_part,
    boolean,
    check_text,
    check_times,
    day,
    number,
    relative_range,
    time_bounds,
    time_zone,
    validate_shape,
    value_list,
    visible_filter_count,
)
from crm.contact_sql import UnionOf, json_array_holds_any, member_of_any
from crm.custom_values import FieldType
from crm.errors import NotFound
from crm.models import (
    Account,
    Call,
    Contact,
    ContactTag,
    CustomField,
    CustomFieldValue,
    Deal,
    Form,
    Lead,
    Tag,
    Task,
    User,
    Utm,
)
from crm.models.segments import DYNAMIC, Segment, SegmentMember
from crm.search import search_condition
from crm.services.header import HEADER_LISTS, values_of

__all__ = [
    "CUSTOM_KEYS",
    "RELATIVE_RANGES",
    "TOP_KEYS",
    "FilterCompiler",
    "Matches",
    "compile_filter",
    "filter_compiler",
    "matches",
    "matching_contacts",
    "relative_range",
    "validate_shape",
    "visible_filter_count",
]  # fmt: skip
HEADER_BY_API = {h.api: h for h in HEADER_LISTS}


def _time_q(column: str, clause: Mapping[str, Any], path: str) -> Q:
    low, high, inclusive = time_bounds(clause, path)
    parts = []
    if low is not None:
        parts.append(Q(**{f"{column}__gte": low}))
    if high is not None:
        parts.append(Q(**{f"{column}__{'lte' if inclusive else 'lt'}": high}))
    if parts:
        parts.insert(0, _present(column))
    if "isNull" in clause:
        parts.append(Q(**{f"{column}__isnull": clause["isNull"]}))
    return _all(parts)


def _present(column: str) -> Q:
    """`column IS NOT NULL`, put before each comparison: SQL compares NULL to nothing (neither
    true nor false), so without it `not: {city: {eq: "Paris"}}` would leave out the contacts
    without a city. With it every condition is true or false, and `not` is exact."""
    return Q(**{f"{column}__isnull": False})


def _all(parts: list[Q]) -> Q:
    return reduce(and_, parts) if parts else Q()


def _matches_all(condition: Q) -> bool:
    """Whether `condition` is empty (the filter `{}`): every contact."""
    return not condition.children and not condition.filters


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _text_q(column: str, clause: Mapping[str, Any], *, phone: bool = False) -> Q:
    parts = [_present(column)] if set(clause) - {"isNull"} else []
    for op, value in clause.items():
        if op == "eq":
            parts.append(Q(**{column: value}))
        elif op == "in":
            parts.append(Q(**{f"{column}__in": value}))
        elif op == "contains":
            digits = _digits(value)
            if phone and digits:  # "+1 (555) 01" finds +1555012...
                parts.append(Q(**{f"{column}__contains": digits}))
            else:
                parts.append(Q(**{f"{column}__icontains": value}))
        elif op == "startsWith":
            parts.append(Q(**{f"{column}__istartswith": value}))
        elif op == "isNull":
            parts.append(Q(**{f"{column}__isnull": value}))
    return _all(parts)


def _memberships(condition: Q) -> list[QuerySet[Any]] | None:
    """The one-column queries of a plain `id IN (...)` condition (as _member_of and
    member_of_any make them), or None for any other condition."""
    if condition.children or condition._is_negated or set(condition.filters) != {"id__in"}:
        return None
    found = condition.filters["id__in"]
    if isinstance(found, UnionOf):
        return list(found.queries)
    if isinstance(found, Subquery):
        return [found.query]
    return None


def _any_member(parts: list[Q]) -> Q:
    """OR of the parts; when each is a membership, one `id IN (… UNION …)`: PostgreSQL cannot
    turn an OR of `id IN` subqueries into a union itself, and tests every live contact against
    each branch's hashed result instead (bench/filters.py 19, 20 at 1M). Otherwise an OR the
    count splits into disjoint parts."""
    queries = [_memberships(part) for part in parts]
    if len(parts) > 1 and all(q is not None for q in queries):
        return member_of_any([query for found in queries if found for query in found])
    if any(_matches_all(part) for part in parts):
        # `{}` matches every contact, and so does an OR holding it (tortoise drops an empty
        # condition from an OR, which left the other branches alone).
        return Q()
    # Every compiled condition is true or false (see _present), so the OR can be counted as
    # disjoint parts (crm/contact_count.DisjointAny).
    return any_of(parts)


def _scoped_member_of(
    query: QuerySet[Any], *, unique: bool = False, field_id: int | None = None, leads: bool = True
) -> Q:
    """`id IN (…)` of rows that all belong to this account's contacts (its tags, custom fields,
    forms' leads, segments): the count can be taken from them (crm/contact_count.py). `unique`:
    one row per contact at most; `field_id`: rows of that custom field's values; `leads`: an
    index range (not a JSON containment)."""
    return Q(id__in=ScopedIds(query, unique=unique, field_id=field_id, leads=leads))


def _member_of(query: QuerySet[Any], column: str = "contact_id") -> Q:
    return Q(id__in=Subquery(query.values(column)))


def _not_member_of(query: QuerySet[Any], column: str = "contact_id") -> Q:
    # contact_id is NOT NULL in every table used here, so NOT IN is exact.
    return ~Q(id__in=Subquery(query.values(column)))


# --------------------------------------------------------------------------------------
# Compiling with the account's data
# --------------------------------------------------------------------------------------


class FilterCompiler:
    """Compiles filters of one account; reads its statuses and custom fields once, so a
    request that compiles many filters (a page of dynamic segments) reuses one."""

    def __init__(self, account: Account, fields_by_key: dict[str, CustomField]) -> None:
        self.account = account
        self.fields = fields_by_key
        self.segments: tuple[int, ...] = ()  # the segments being expanded (cycle guard)
        self.known: dict[str, set[int]] = {}  # ids of users and forms already found in the account

    async def _require(self, label: str, model: Any, ids: list[int], path: str) -> None:
        """Another account's user or form id (or none at all) is NOT_FOUND, as everywhere in the
        API: a filter must not tell a caller whether an id exists elsewhere."""
        known = self.known.setdefault(label, set())
        wanted = [i for i in ids if i not in known]
        if not wanted:
            return
        known.update(
            await model.filter(account_id=self.account.id, id__in=wanted).values_list("id", flat=True)
        )
        missing = [i for i in wanted if i not in known]
        if missing:
            raise NotFound(f"{path}: no {label} with id {missing[0]} in this account")

    async def compile(self, spec: Mapping[str, Any], path: str = "") -> Q:
        here = f"{path}." if path else ""
        parts: list[Q] = []
        for key, clause in spec.items():
            sub = f"{here}{key}"
            if key == "and":
                parts.extend([await self.compile(part, f"{sub}[{i}]") for i, part in enumerate(clause)])
            elif key == "or":
                parts.append(
                    _any_member([await self.compile(part, f"{sub}[{i}]") for i, part in enumerate(clause)])
                )
            elif key == "not":
                negated = await self.compile(clause, sub)
                # Not everything is nothing (tortoise drops an empty condition, negated or not);
                # ids are never null.
                parts.append(Q(id__isnull=True) if _matches_all(negated) else ~negated)
            elif key in TEXT_FIELDS:
                parts.append(_text_q(TEXT_FIELDS[key], clause, phone=key in PHONE_FIELDS))
            elif key in DATE_FIELDS:
                parts.append(_time_q(DATE_FIELDS[key], clause, sub))
            elif key in CHOICE_FIELDS:
                self._check_choices(key, clause, sub)
                parts.append(_choice_q(CHOICE_FIELDS[key], clause))
            elif key in BOOLEAN_FIELDS:
                parts.append(Q(**{BOOLEAN_FIELDS[key]: clause["eq"]}))
            elif key in OWNER_FIELDS:
                await self._require("User", User, list(clause.get("in") or ()), f"{sub}.in")
                parts.append(_owner_q(OWNER_FIELDS[key], clause))
            elif key == "tags":
                parts.append(await self._tags_q(clause))
            elif key == "customFields":
                for index, entry in enumerate(clause):
                    parts.append(self._custom_q(entry, f"{sub}[{index}]"))
            elif key == "calls":
                parts.append(_exists(clause, _calls(clause, sub)))
            elif key == "deals":
                parts.append(_exists(clause, _deals(clause, self.account.id), scoped=True))
            elif key == "leads":
                if "form" in clause:
                    await self._require("Form", Form, list(clause["form"]["in"]), f"{sub}.form.in")
                parts.append(_exists(clause, self._leads(clause, sub), scoped=True))
            elif key == "tasks":
                parts.append(_exists(clause, _tasks(clause)))
            elif key == "lastInteraction":
                parts.append(_last_interaction_q(clause, sub))
            elif key == "segment":
                parts.append(await self._segment_q(clause["in"], sub))
        return _all(parts)

    def _check_choices(self, key: str, clause: Mapping[str, Any], path: str) -> None:
        allowed = self._choices(key)
        if allowed is None:
            return
        for value in clause.get("in", ()):
            if value not in allowed:
                shown = ", ".join(allowed) if len(allowed) <= 20 else ", ".join(allowed[:20]) + ", ..."
                raise bad_part(
                    f"{path}.in", f"{value!r} is not one of the account's values for {key}: {shown}"
                )

    def _choices(self, key: str) -> list[str] | None:
        statuses = self.account.statuses or []
        if key == "status":
            return [s["name"] for s in statuses]
        if key == "subStatus":
            return sorted({sub for s in statuses for sub in s.get("subStatuses", [])})
        if key in ("leadSource", "actionPlan", "salesCycle"):
            return values_of(self.account, HEADER_BY_API[key])
        return None

    async def _tags_q(self, clause: Mapping[str, Any]) -> Q:
        # The names' tag ids first (one small query): `contact_tag WHERE tag_id IN (...)` is an
        # index range the planner sizes from tag_id's statistics; joined to `tag` by key it
        # guessed one row per tag and probed contacts one by one (bench/filters.py at 1M).
        wanted = {name.strip().lower() for op in TAG_OPS for name in clause.get(op, ())}
        ids = dict(
            await Tag.filter(account_id=self.account.id, key__in=sorted(wanted)).values_list("key", "id")
        )

        def tagged(names: list[str]) -> QuerySet[Any]:
            found = sorted({ids[k] for k in {name.strip().lower() for name in names} if k in ids})
            return ContactTag.filter(tag_id__in=found or [0])  # 0: no tag has it, nothing matches

        parts = []
        if "any" in clause:
            # One tag: one row per contact (contact_tag is unique per contact and tag).
            one_tag = len({name.strip().lower() for name in clause["any"]}) == 1
            parts.append(_scoped_member_of(tagged(clause["any"]), unique=one_tag))
        if clause.get("all"):
            # One subquery, each tag nested in the previous one's contacts: the planner intersects
            # the tags' (tag_id, contact_id) index ranges before it looks at any contact, instead
            # of joining every contact of each tag on its own (bench/filters.py: 4k of 1M
            # contacts tagged both VIP and Enterprise, 48k each).
            names = sorted({name.strip().lower() for name in clause["all"]})
            both = tagged([names[0]])
            for name in names[1:]:
                both = tagged([name]).filter(contact_id__in=Subquery(both.values("contact_id")))
            parts.append(_scoped_member_of(both, unique=True))  # the last tag's rows
        if "none" in clause:
            parts.append(_not_member_of(tagged(clause["none"])))
        return _all(parts)

    def _custom_q(self, entry: Mapping[str, Any], path: str) -> Q:
        key = entry["key"]
        found = self.fields.get(key)
        if found is None:
            raise bad_part(f"{path}.key", f"no custom field with key {key!r} in this account")
        kind = FieldType(found.type)
        allowed = CUSTOM_OPS[kind]
        for op in entry:
            if op != "key" and op not in allowed:
                raise bad_part(
                    f"{path}.{op}", f"custom field {key!r} is {kind.value}: it allows {', '.join(allowed)}"
                )
        column = VALUE_COLUMN[kind]
        values = CustomFieldValue.filter(field_id=found.id)
        conditions = {op: value for op, value in entry.items() if op not in ("key", "isNull")}
        parts = []
        if kind is FieldType.MULTI_SELECT and conditions:
            self._custom_values(values, kind, found, column, conditions, path)  # checks the options
            parts.append(_multi_select_q(values, conditions))
        elif conditions:
            parts.append(
                _scoped_member_of(
                    self._custom_values(values, kind, found, column, conditions, path),
                    unique=True,  # one value per field and contact
                    field_id=found.id,
                )
            )
        if "isNull" in entry:
            has = values.filter(**{f"{column}__isnull": False})
            parts.append(
                _not_member_of(has)
                if boolean(entry["isNull"], f"{path}.isNull")
                else _scoped_member_of(has, unique=True, field_id=found.id)
            )
        return _all(parts)

    def _custom_values(
        self,
        values: QuerySet[Any],
        kind: FieldType,
        found: CustomField,
        column: str,
        ops: Mapping[str, Any],
        path: str,
    ) -> QuerySet[Any]:
        key = found.key
        if kind in (FieldType.TEXT, FieldType.URL, FieldType.EMAIL, FieldType.PHONE):
            check_text(ops, path)
            return values.filter(_text_q(column, ops, phone=kind is FieldType.PHONE))
        if kind in (FieldType.SELECT, FieldType.MULTI_SELECT):
            options = list(found.options or [])
            for op, value in ops.items():
                for option in [value] if op == "eq" else value_list(value, f"{path}.{op}"):
                    if option not in options:
                        raise bad_part(
                            f"{path}.{op}", f"{option!r} is not an option of {key!r}: {', '.join(options)}"
                        )
            if kind is FieldType.SELECT:
                if "eq" in ops:
                    values = values.filter(value_text=ops["eq"])
                if "in" in ops:
                    values = values.filter(value_text__in=ops["in"])
                return values
            return values  # MULTI_SELECT: compiled by _multi_select_q on the contact
        if kind in (FieldType.NUMBER, FieldType.MONEY):
            if "eq" in ops:
                values = values.filter(value_number=number(ops["eq"], f"{path}.eq"))
            low = number(ops["gte"], f"{path}.gte") if "gte" in ops else None
            high = number(ops["lte"], f"{path}.lte") if "lte" in ops else None
            if low is not None and high is not None and low > high:
                raise bad_part(path, "gte is above lte: nothing can match")
            if low is not None:
                values = values.filter(value_number__gte=low)
            if high is not None:
                values = values.filter(value_number__lte=high)
            if "currency" in ops:
                currency = ops["currency"]
                if not isinstance(currency, str) or len(currency) != 3:
                    raise bad_part(f"{path}.currency", "must be an ISO 4217 code such as USD")
                values = values.filter(value_currency=currency.upper())
            return values
        if kind is FieldType.BOOLEAN:
            return values.filter(value_bool=boolean(ops["eq"], f"{path}.eq"))
        if kind is FieldType.DATE:
            if "eq" in ops:
                values = values.filter(value_date=day(ops["eq"], f"{path}.eq"))
            low = day(ops["gte"], f"{path}.gte") if "gte" in ops else None
            high = day(ops["lte"], f"{path}.lte") if "lte" in ops else None
            if low is not None and high is not None and low > high:
                raise bad_part(path, "gte is after lte: nothing can match")
            if "within" in ops:
                if ops["within"] not in RELATIVE_RANGES:
                    raise bad_part(
                        f"{path}.within", f"{ops['within']!r} is not one of {', '.join(RELATIVE_RANGES)}"
                    )
                zone = time_zone(ops.get("timeZone", "UTC"), f"{path}.timeZone")
                start, end = relative_range(ops["within"], zone)
                # The range's calendar days in its zone: [first day, last day].
                values = values.filter(
                    value_date__gte=start.astimezone(zone).date(),
                    value_date__lt=end.astimezone(zone).date(),
                )
            if low is not None:
                values = values.filter(value_date__gte=low)
            if high is not None:
                values = values.filter(value_date__lte=high)
            return values
        # DATETIME
        check_times(ops, path)
        return values.filter(_time_q("value_ts", ops, path))

    def _leads(self, clause: Mapping[str, Any], path: str) -> QuerySet[Any]:
        leads = Lead.filter(account_id=self.account.id)
        if "form" in clause:
            leads = leads.filter(form_id__in=clause["form"]["in"])
        for key, column in (("utmSource", "source"), ("utmCampaign", "campaign")):
            if key in clause:
                leads = leads.filter(
                    id__in=Subquery(Utm.filter(_text_q(column, clause[key])).values("lead_id"))
                )
        if "createdAt" in clause:
            leads = leads.filter(_time_q("created_at", clause["createdAt"], f"{path}.createdAt"))
        return leads

    async def _segment_q(self, ids: list[int], path: str) -> Q:
        rows = await Segment.filter(account_id=self.account.id, id__in=ids).all()
        found = {row.id: row for row in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"{path}.in: no Segment with id {missing[0]} in this account")
        parts: list[Q] = []
        static = [i for i in ids if found[i].kind != DYNAMIC]
        if static:
            members = SegmentMember.filter(segment_id__in=static)
            parts.append(_scoped_member_of(members, unique=len(static) == 1))
        for segment_id in (i for i in ids if found[i].kind == DYNAMIC):
            if segment_id in self.segments:
                raise bad_part(
                    f"{path}.in", f"segment {found[segment_id].name!r} refers to itself through its filter"
                )
            if len(self.segments) >= MAX_SEGMENT_HOPS:
                raise bad_part(
                    f"{path}.in", f"segments refer to segments more than {MAX_SEGMENT_HOPS} levels deep"
                )
            spec = found[segment_id].filter_spec or {}
            self.segments = (*self.segments, segment_id)
            try:
                validate_shape(spec)
                parts.append(await self.compile(spec, f"{path}<segment {segment_id}>"))
            finally:
                self.segments = self.segments[:-1]
        # A dynamic segment stays its conditions on the contact: read as a union of its contacts'
        # ids next to a static one, bench/filters.py 20 counted in 500 ms instead of 350 (the
        # other conditions still read every contact row).
        return _any_member(parts)


def _choice_q(column: str, clause: Mapping[str, Any]) -> Q:
    parts = []
    if "in" in clause:
        parts.append(_present(column) & Q(**{f"{column}__in": clause["in"]}))
    if "isNull" in clause:
        parts.append(Q(**{f"{column}__isnull": clause["isNull"]}))
    return _all(parts)


def _owner_q(columns: tuple[str, ...], clause: Mapping[str, Any]) -> Q:
    parts = []
    if "in" in clause:
        # Counted as disjoint parts, an index-only count each (crm/contact_count.DisjointAny).
        parts.append(any_of([_present(c) & Q(**{f"{c}__in": clause["in"]}) for c in columns]))
    if "isNull" in clause:
        everyone_null = _all([Q(**{f"{c}__isnull": True}) for c in columns])
        parts.append(everyone_null if clause["isNull"] else ~everyone_null)
    return _all(parts)


def _exists(clause: Mapping[str, Any], records: QuerySet[Any], scoped: bool = False) -> Q:
    """`scoped`: the records are the account's own (leads, deals), not any account's (calls, tasks)."""
    if not clause.get("exists", True):
        return _not_member_of(records)
    return _scoped_member_of(records) if scoped else _member_of(records)


def _calls(clause: Mapping[str, Any], path: str) -> QuerySet[Any]:
    calls = Call.all()
    if "upcoming" in clause:
        # As the card's Call.isUpcoming: the start time is still ahead.
        now = utcnow()
        calls = (
            calls.filter(scheduled_at__gt=now) if clause["upcoming"] else calls.filter(scheduled_at__lte=now)
        )
    if "outcome" in clause:
        calls = calls.filter(outcome__in=clause["outcome"]["in"])
    if "scheduledAt" in clause:
        calls = calls.filter(_time_q("scheduled_at", clause["scheduledAt"], f"{path}.scheduledAt"))
    return calls


def _deals(clause: Mapping[str, Any], account_id: int) -> QuerySet[Any]:
    deals = Deal.filter(account_id=account_id)
    if "status" in clause:
        deals = deals.filter(status__in=clause["status"]["in"])
    amount = clause.get("amount", {})
    if "gte" in amount:
        deals = deals.filter(amount__gte=Decimal(str(amount["gte"])))
    if "lte" in amount:
        deals = deals.filter(amount__lte=Decimal(str(amount["lte"])))
    if "currency" in clause:
        deals = deals.filter(currency=clause["currency"].upper())
    return deals


def _tasks(clause: Mapping[str, Any]) -> QuerySet[Any]:
    # Not scoped by account: the (status, due_at, contact_id) index answers the overdue check
    # alone; an account condition read every task (bench/filters.py 18: 35 -> 55 ms).
    tasks = Task.all()
    if "status" in clause:
        tasks = tasks.filter(status__in=clause["status"]["in"])
    if "overdue" in clause:
        # Overdue: still OPEN with its due time passed (as the card's upcoming actions see it).
        overdue = Q(status="OPEN", due_at__lt=utcnow())
        tasks = tasks.filter(overdue if clause["overdue"] else ~overdue)
    return tasks


def _last_interaction_q(clause: Mapping[str, Any], path: str) -> Q:
    """On the contact's `last_interaction_at`, the roll-up the database keeps (migration 0024):
    an index range, not the newest of three tables per contact (bench/filters.py 19 at 1M)."""
    return _time_q("last_interaction_at", clause, path)


async def filter_compiler(account_id: int) -> FilterCompiler:
    """A compiler for the account's filters: `await compiler.compile(spec)` gives the condition
    on Contact (call validate_shape(spec) first)."""
    account = await Account.get(id=account_id)
    fields_by_key = {f.key: f for f in await CustomField.filter(account_id=account_id)}
    return FilterCompiler(account, fields_by_key)


async def compile_filter(account_id: int, spec: Mapping[str, Any] | None) -> Q:
    """The filter as a condition on Contact (validated; BadInput names the bad part)."""
    if not spec:
        return Q()
    validate_shape(spec)
    return await (await filter_compiler(account_id)).compile(spec)


@dataclass(frozen=True)
class Matches:
    """A filter's contacts, and how to count them: from its memberships when it can (see
    crm/contact_count.py), as disjoint parts that add up when it holds an OR split that way,
    `COUNT(*)` over the contacts otherwise."""

    contacts: QuerySet[Contact]
    scoped: ScopedCount | None = None  # the filter's memberships, when they alone make the matches
    parts: tuple[QuerySet[Contact], ...] = ()  # disjoint parts of the matches, when split

    async def count(self) -> int:
        if self.scoped is not None:
            return await self.scoped()
        if self.parts:
            return await count_parts(self.parts)
        return await self.contacts.count()


async def matches(
    account_id: int,
    spec: Mapping[str, Any] | None,
    *,
    archived: bool | None = False,
    search: str | None = None,
) -> Matches:
    """The account's contacts the filter matches. archived False: live only; True: archived
    only; None: both. `search` as the contacts list's (names, emails, phones)."""
    contacts = Contact.filter(account_id=account_id)
    if archived is not None:
        contacts = contacts.filter(archived_at__isnull=not archived)
    searched = search_condition(search) if search is not None else None
    if searched is not None:
        contacts = contacts.filter(searched)
    if not spec:
        return Matches(contacts)
    condition = await compile_filter(account_id, spec)
    counted = scoped_count(account_id, condition, archived) if searched is None else None
    split = disjoint_parts(condition) if counted is None else None
    parts = tuple(contacts.filter(part) for part in split or ())
    return Matches(contacts.filter(condition), counted, parts)


async def matching_contacts(
    account_id: int,
    spec: Mapping[str, Any] | None,
    *,
    archived: bool | None = False,
    search: str | None = None,
) -> QuerySet[Contact]:
    """The account's contacts the filter matches (see `matches`)."""
    return (await matches(account_id, spec, archived=archived, search=search)).contacts


def _multi_select_q(values: QuerySet[Any], ops: Mapping[str, Any]) -> Q:
    """MULTI_SELECT: `any` holds one of, `all` holds each of, `none` holds none of the options
    (a contact without a value holds none)."""
    parts = []
    if "any" in ops:
        holding = json_array_holds_any(values, ops["any"], "holds_any")
        parts.append(_scoped_member_of(holding, unique=True, leads=False))
    for index, option in enumerate(ops.get("all", ())):
        holding = json_array_holds_any(values, [option], f"holds_{index}")
        parts.append(_scoped_member_of(holding, unique=True, leads=False))
    if "none" in ops:
        parts.append(_not_member_of(json_array_holds_any(values, ops["none"], "holds_none")))
    return _all(parts)
