"""Per-request DataLoaders: every relation of a card costs one batched, account-scoped query.

Loaders read rows as read-only mappings (see `graph.resolvers.reads`), never ORM objects.
They are built per request (see `graph.context`), so nothing is cached across requests or
accounts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from crm.clock import utcnow
from crm.models import (
    Call,
    Contact,
    ContactTag,
    Conversion,
    Deal,
    FormAnswer,
    JourneyEvent,
    Lead,
    Message,
    Note,
    Tag,
    User,
    Utm,
    WebhookDelivery,
)
from crm.services.messages import MESSAGE_COLUMNS
from graph.resolvers.attachments_loaders import attach_attachments
from graph.resolvers.billing_loaders import attach_billing
from graph.resolvers.communications_loaders import CommunicationLoaders
from graph.resolvers.custom_field_loaders import CustomFieldLoaders
from graph.resolvers.jobs_loaders import attach_jobs
from graph.resolvers.merge_loaders import MergeLoaders
from graph.resolvers.notifications_loaders import attach_notifications
from graph.resolvers.profile_loaders import ProfileLoaders
from graph.resolvers.reads import Params, Row, Shape, connection, dialect, fetch, fetch_tagged, shape
from graph.resolvers.recordings_loaders import RecordingLoaders
from graph.resolvers.referrals_loaders import ReferralLoaders
from graph.resolvers.segments_loaders import attach_segments
from graph.resolvers.tasks_loaders import attach_tasks

CONTACT_COLUMNS = (
    "id", "first_name", "last_name", "business_name", "title", "contact_type", "email",
    "secondary_email", "phone", "secondary_phone", "street", "city", "state", "zip", "country",
    "ip_address", "status", "sub_status", "converted_at", "setter_owner_id", "closer_owner_id",
    "assigned_to_id", "created_at", "updated_at", "ok_to_sms", "sms_blocked_reason", "phone_line_type",
    "phone_checked_at", "archived_at", "lead_source", "action_plan", "sales_cycle",
    "inviter_id", "referral_code", "preferred_reward", "privacy_opt_in", "privacy_opt_in_at",
    "privacy_opt_in_source", "communication_opt_in", "communication_opt_in_at", "communication_opt_in_source",
    "new_data_at",
)  # fmt: skip
USER_COLUMNS = ("id", "name", "email", "role", "created_at")
CALL_COLUMNS = (
    "id", "contact_id", "event_name", "scheduled_at", "duration_minutes", "status", "outcome",
    "outcome_at", "recording_url", "cancel_reason", "cancelled_at", "reschedule_count",
    "booked_by_id", "created_at", "updated_at", "direction", "duration_seconds", "summary",
)  # fmt: skip
DEAL_COLUMNS = (
    "id", "contact_id", "product_name", "amount", "currency", "payment_type", "status",
    "recurring", "closed_at", "created_by_id", "created_at", "updated_at", "likelihood", "close_date",
)  # fmt: skip
NOTE_COLUMNS = (
    "id", "contact_id", "body", "text_length", "author_id", "author_kind", "author_name", "created_at",
    "updated_at",
)  # fmt: skip
UTM_COLUMNS = ("id", "contact_id", "source", "medium", "campaign", "term", "content", "captured_at")
ANSWER_COLUMNS = ("id", "contact_id", "form", "question", "answer", "answered_at")
LEAD_COLUMNS = (
    "id", "contact_id", "form_name", "variant", "ip_address", "referrer", "submitted_at", "status",
    "match_reason", "identity", "created_at",
)  # fmt: skip
JOURNEY_COLUMNS = (
    "id", "contact_id", "kind", "occurred_at", "actor_kind", "actor_user_id", "actor_name",
    "summary", "changes", "subject_type", "subject_id",
)  # fmt: skip
CONVERSION_COLUMNS = (
    "id", "contact_id", "status", "routing", "summary", "extra_fields", "reason", "error",
    "created_by_id", "reviewed_by_id", "created_at", "reviewed_at", "sent_at", "emailed_at",
)  # fmt: skip
WEBHOOK_DELIVERY_COLUMNS = (
    "id", "endpoint_id", "event_id", "event", "payload", "status", "attempts", "response_status",
    "error", "created_at", "last_attempt_at", "delivered_at",
)  # fmt: skip


# User references (owners, authors, who booked a call...) are LEFT JOINed into the section
# queries as `<relation>__<column>` keys: a card with 300 user references then costs no extra
# statement and, more to the point, no async resolver per reference.
CONTACT_USERS = ("setter_owner", "closer_owner", "assigned_to")
CALL_USERS = ("booked_by",)
DEAL_USERS = ("created_by",)
NOTE_USERS = ("author",)
MESSAGE_USERS = ("author",)
JOURNEY_USERS = ("actor_user",)
CONVERSION_USERS = ("created_by", "reviewed_by")


def with_users(columns: Sequence[str], relations: Sequence[str]) -> tuple[str, ...]:
    """`columns` plus the joined user columns of each relation, as tortoise `.values()` names."""
    return (*columns, *(f"{relation}__{column}" for relation in relations for column in USER_COLUMNS))


CONTACT_READ = with_users(CONTACT_COLUMNS, CONTACT_USERS)
CALL_READ = with_users(CALL_COLUMNS, CALL_USERS)
DEAL_READ = with_users(DEAL_COLUMNS, DEAL_USERS)
NOTE_READ = with_users(NOTE_COLUMNS, NOTE_USERS)
MESSAGE_READ = with_users(MESSAGE_COLUMNS, MESSAGE_USERS)
JOURNEY_READ = with_users(JOURNEY_COLUMNS, JOURNEY_USERS)
CONVERSION_READ = with_users(CONVERSION_COLUMNS, CONVERSION_USERS)


async def join_users(
    users: DataLoader[int, Row | None], row: dict[str, Any], relations: Sequence[str]
) -> dict[str, Any]:
    """Give a row that did not come from a joined query (a mutation's result, a live update) the
    same `<relation>__<column>` keys, through the request's user loader."""
    for relation in relations:
        user_id = row[f"{relation}_id"]
        user = await users.load(user_id) if user_id is not None else None
        for column in USER_COLUMNS:
            row[f"{relation}__{column}"] = user[column] if user is not None else None
    return row


@dataclass(frozen=True, slots=True)
class PageKey:
    """One page of a large section (journey, messages, a delivery log) of one owner, in id order."""

    contact_id: int  # the owner: a contact, or an endpoint for delivery logs
    first: int
    before_id: int | None  # exclusive bound in the page's direction
    kinds: tuple[str, ...]  # filter values (journey kinds, message channels); empty = all
    newest_first: bool


@dataclass(frozen=True, slots=True)
class SliceKey:
    """A bounded slice of one contact's list section (calls, deals, notes, tags, UTMs, form
    answers): at most `first` items in the section's order, after the item `after_id`."""

    contact_id: int
    first: int
    after_id: int | None  # the row id of the last item the client has (a tag's id for tags)
    order: str = ""  # the section's named order; "" is its only one (calls have several)


@dataclass(frozen=True, slots=True)
class _Order:
    columns: tuple[str, ...]  # sort columns of the sorted table, the last one its "id"
    descending: bool = False
    scheduled: str = ""  # calls: how scheduled_at compares with now, ">" (upcoming) or "<=" (past)


@dataclass(frozen=True)
class _ListSection:
    """How a contact's list section is sliced in SQL. Rows are `table` rows ("x"), read
    `FROM <table> x <source>`, which joins what `scope` needs to bind them to the account
    and, for tag links, the tag ("s") they are sorted by."""

    shape: Shape
    table: str
    orders: dict[str, _Order]
    source: str  # joins after `"<table>" x`
    scope: str  # SQL condition binding x to the account, with {account} for its parameter
    sorted_by: str = "x"  # the alias whose columns the orders name
    sorted_table: str = ""  # that alias's table, when not `table`
    anchor_column: str = "id"  # the column of `table` an `after` id names


def _slice_branch(
    section: _ListSection,
    params: Params,
    account_id: int,
    slot: int,
    order_name: str,
    first: int,
    after_id: int | None,
    contact_ids: list[int],
    now: Any,
) -> str:
    """The ids (tagged `slot`, numbered `rn`) of one slice, for each of `contact_ids`, and the
    `after` item's id tagged `-1 - slot` when it is one of theirs. The account is checked here,
    where the rows are chosen, so the outer query reaches its rows only by primary key.

    The placeholders are made in the order they appear in the text (SQLite's are positional)."""
    order = section.orders[order_name]
    s = section.sorted_by
    direction = " DESC" if order.descending else ""
    sort_keys = ", ".join(f'{s}."{column}"' for column in order.columns)
    by = ", ".join(f'{s}."{column}"{direction}' for column in order.columns)
    # One contact's first slice (no `after`): its first rows by ORDER BY ... LIMIT, numbered
    # in that order -- the rows and numbers of the window over the partition, but cheaper.
    single = after_id is None and len(contact_ids) == 1
    contacts = f"= {params(contact_ids[0])}" if single else f"IN ({params.many(contact_ids)})"
    where = [f'x."contact_id" {contacts}', section.scope.format(account=params(account_id))]
    if order.scheduled:
        where.append(f'x."scheduled_at" {order.scheduled} {params(now)}')
    if after_id is not None:
        # Row-value comparison with the anchor's own sort keys: exact at ties, no offset.
        anchor = ", ".join(f'a."{column}"' for column in order.columns)
        anchor_table = section.sorted_table or section.table
        where.append(
            f"({sort_keys}) {'<' if order.descending else '>'} "
            f'(SELECT {anchor} FROM "{anchor_table}" a WHERE a."id" = {params(after_id)})'
        )
    if single:
        numbered = (
            f'SELECT x."id", ROW_NUMBER() OVER (ORDER BY {by}) AS "rn"'
            f' FROM "{section.table}" x{section.source} WHERE {" AND ".join(where)}'
            f" ORDER BY {by} LIMIT {params(first)}"
        )
        return f'SELECT w."id", {slot} AS "slot", w."rn" FROM ({numbered}) w'
    numbered = (
        f'SELECT x."id", ROW_NUMBER() OVER (PARTITION BY x."contact_id" ORDER BY {by}) AS "rn"'
        f' FROM "{section.table}" x{section.source} WHERE {" AND ".join(where)}'
    )
    branch = f'SELECT w."id", {slot} AS "slot", w."rn" FROM ({numbered}) w WHERE w."rn" <= {params(first)}'
    if after_id is not None:
        branch += (
            f' UNION ALL SELECT x."id", {-1 - slot}, 0 FROM "{section.table}" x{section.source}'
            f' WHERE x."{section.anchor_column}" = {params(after_id)}'
            f' AND x."contact_id" IN ({params.many(contact_ids)})'
            f" AND {section.scope.format(account=params(account_id))}"
        )
    return branch


_SINGLE_SQL: dict[tuple[int, str, str], str] = {}


def _single_slice_sql(section: _ListSection, order_name: str, dialect_name: str) -> str:
    """One contact's first slice (no `after`): the rows themselves in the section's order, cut
    by LIMIT -- the rows the windowed statement picks, without numbering and joining back.
    Its placeholders, in order: the contact, the account, [now], first."""
    key = (id(section), order_name, dialect_name)
    sql = _SINGLE_SQL.get(key)
    if sql is None:
        order = section.orders[order_name]
        marks = Params(dialect_name)
        s = "t" if section.sorted_by == "x" else section.sorted_by
        direction = " DESC" if order.descending else ""
        by = ", ".join(f'{s}."{column}"{direction}' for column in order.columns)
        where = [f't."contact_id" = {marks(None)}', section.scope.format(account=marks(None))]
        if order.scheduled:
            where.append(f't."scheduled_at" {order.scheduled} {marks(None)}')
        source = section.source.replace(' x."', ' t."')
        select = section.shape.compile(dialect_name)[0]
        sql = f"{select}{source} WHERE {' AND '.join(where)} ORDER BY {by} LIMIT {marks(None)}"
        _SINGLE_SQL[key] = sql
    return sql


def delivery_page_key(endpoint_id: int, first: int, before_id: int | None, status: str | None) -> PageKey:
    """One page of a webhook endpoint's delivery log, newest first."""
    return PageKey(endpoint_id, first, before_id, (status,) if status else (), newest_first=True)


@dataclass(frozen=True)
class _PagedSection:
    model: type[Model]
    table: str
    columns: tuple[str, ...]
    scope: str  # SQL condition binding the rows to the account, with {account} for its parameter
    filter_column: str
    owner_column: str = "contact_id"
    raw: tuple[str, ...] = ()

    @cached_property
    def shape(self) -> Shape:
        return shape(self.model, self.columns, self.raw)


_TAGS = shape(ContactTag, ("contact_id", "tag__id", "tag__name", "tag__created_at"))

# How a row is tied to the request's account, for by-id reads.
_SCOPE_JOIN = {"account": "", "contact": ' JOIN "contact" c ON c."id" = t."contact_id"'}


def _scoped(scope: str, account_mark: str) -> str:
    return f't."account_id" = {account_mark}' if scope == "account" else f'c."account_id" = {account_mark}'


def _section(model: type[Model], columns: Sequence[str], table: str, **orders: _Order) -> _ListSection:
    joined = ' JOIN "contact" c ON c."id" = x."contact_id"'
    return _ListSection(shape(model, columns), table, orders, joined, 'c."account_id" = {account}')


# Each list keeps the order it had before it was bounded; the id breaks ties so that a slice
# boundary is exact. Calls have one order per `when`, and one for lastBookedEvent.
_CALL_SECTION = _section(
    Call, CALL_READ, "call",
    ALL=_Order(("scheduled_at", "id")),
    UPCOMING=_Order(("scheduled_at", "id"), scheduled=">"),
    PAST=_Order(("scheduled_at", "id"), descending=True, scheduled="<="),
    BOOKED=_Order(("created_at", "id"), descending=True),
)  # fmt: skip
_DEAL_SECTION = _section(Deal, DEAL_READ, "deal", **{"": _Order(("created_at", "id"))})
_NOTE_SECTION = _section(Note, NOTE_READ, "note", **{"": _Order(("created_at", "id"), descending=True)})
_UTM_SECTION = _section(Utm, UTM_COLUMNS, "utm", **{"": _Order(("captured_at", "id"))})
_ANSWER_SECTION = _section(FormAnswer, ANSWER_COLUMNS, "form_answer", **{"": _Order(("answered_at", "id"))})
# A card's leads, newest first; FIRST and LAST are its first and latest touch (one row each).
_LEAD_SECTION = _section(
    Lead, LEAD_COLUMNS, "lead",
    **{"": _Order(("submitted_at", "id"), descending=True)},
    FIRST=_Order(("submitted_at", "id")),
    LAST=_Order(("submitted_at", "id"), descending=True),
)  # fmt: skip
_TAG_SECTION = _ListSection(
    _TAGS,
    "contact_tag",
    {"": _Order(("name", "id"))},
    ' JOIN "tag" s ON s."id" = x."tag_id"',
    's."account_id" = {account}',
    sorted_by="s",
    sorted_table="tag",
    anchor_column="tag_id",
)


# A journey entry's changes stay JSON text: `FieldChange.of` shares the decoded changes of
# equal texts, and a journey repeats them.
JOURNEY_RAW = ("changes",)
_JOURNEY = _PagedSection(
    JourneyEvent, "journey_event", JOURNEY_READ, "account_id = {account}", "kind", raw=JOURNEY_RAW
)
_MESSAGES = _PagedSection(
    Message,
    "message",
    MESSAGE_READ,
    "contact_id IN (SELECT id FROM contact WHERE account_id = {account})",
    "channel",
)
# A card's conversions, newest first, filtered by status (graph/schema/conversions.py).
CONVERSIONS = _PagedSection(Conversion, "conversion", CONVERSION_READ, "account_id = {account}", "status")
_DELIVERIES = _PagedSection(
    WebhookDelivery,
    "webhook_delivery",
    WEBHOOK_DELIVERY_COLUMNS,
    "endpoint_id IN (SELECT id FROM webhook_endpoint WHERE account_id = {account})",
    "status",
    owner_column="endpoint_id",
)


def _tag_rows(rows: list[Row]) -> list[Row]:
    return [
        {"contact_id": r["contact_id"], "id": r["tag__id"], "name": r["tag__name"],
         "created_at": r["tag__created_at"]}
        for r in rows
    ]  # fmt: skip


class Loaders:
    """The DataLoaders of one request, all bound to one account."""

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        # A contact absorbed by a merge is hidden (crm/models/contacts.py, VisibleContacts).
        self.contact = self._by_id(Contact, CONTACT_READ, "account", visible='t."merged_into_id" IS NULL')
        self.user = self._by_id(User, USER_COLUMNS, "account")
        self.call = self._by_id(Call, CALL_READ, "contact")
        self.deal = self._by_id(Deal, DEAL_READ, "contact")
        self.note = self._by_id(Note, NOTE_READ, "contact")
        self.tag = self._by_id(Tag, ("id", "name", "created_at"), "account")
        self.journey_event = self._by_id(JourneyEvent, JOURNEY_READ, "account", JOURNEY_RAW)
        # Slices of a card's list sections: a value of None means the key's `after_id` is not
        # an item of that contact's list (in this account).
        self.calls_by_contact = self._slices(_CALL_SECTION)
        self.deals_by_contact = self._slices(_DEAL_SECTION)
        self.notes_by_contact = self._slices(_NOTE_SECTION)
        self.utms_by_contact = self._slices(_UTM_SECTION)
        self.answers_by_contact = self._slices(_ANSWER_SECTION)
        self.tags_by_contact = self._slices(_TAG_SECTION)
        # Leads (graph/schema/leads.py): a card's slices, one lead by id, a lead's answers and UTMs.
        self.leads_by_contact = self._slices(_LEAD_SECTION)
        self.lead = self._by_id(Lead, LEAD_COLUMNS, "account")
        self.answers_by_lead = self._by_lead(FormAnswer, ANSWER_COLUMNS, "answered_at")
        self.utms_by_lead = self._by_lead(Utm, UTM_COLUMNS, "captured_at")
        self.journey_page: DataLoader[PageKey, list[Row]] = DataLoader(
            lambda keys: self._load_pages(_JOURNEY, keys)
        )
        self.message_page: DataLoader[PageKey, list[Row]] = DataLoader(
            lambda keys: self._load_pages(_MESSAGES, keys)
        )
        self.message = self._by_id(Message, MESSAGE_READ, "contact")
        self.journey_count: DataLoader[tuple[int, tuple[str, ...]], int] = DataLoader(
            self._load_journey_counts
        )
        self.webhook_delivery_page: DataLoader[PageKey, list[Row]] = DataLoader(
            lambda keys: self._load_pages(_DELIVERIES, keys)
        )
        # One communication history and insights (graph/resolvers/communications_loaders.py).
        (
            self.communication_page, self.communication_count, self.insight_totals, self.interactions,
            self.insights,
        ) = CommunicationLoaders(account_id).loaders()  # fmt: skip
        # Referrals and rewards (graph/resolvers/referrals_loaders.py).
        (
            self.invited_page, self.referral_count, self.flow_key, self.reward_totals, self.reward_ledger,
            self.account_currency,
        ) = ReferralLoaders(account_id, self._load_pages).loaders()  # fmt: skip
        # Merges (graph/resolvers/merge_loaders.py): by id, a card's merges, duplicate candidates.
        self.merge, self.merges_by_contact, self.duplicate_candidates = MergeLoaders(account_id).loaders()
        # Custom fields and jobs (graph/resolvers/custom_field_loaders.py).
        self.custom_field, self.custom_fields, self.custom_values_by_contact, self.background_job = (
            CustomFieldLoaders(account_id).loaders()
        )
        # The header's opportunity and the profile (graph/resolvers/profile_loaders.py).
        self.profile, self.opportunity = ProfileLoaders(account_id).loaders()
        # Call recordings and their share links (graph/resolvers/recordings_loaders.py).
        self.recording_by_call, self.active_shares_by_call, self.recording_share = RecordingLoaders(
            account_id
        ).loaders()
        self.conversion = self._by_id(Conversion, CONVERSION_READ, "account")
        self.conversion_page: DataLoader[PageKey, list[Row]] = DataLoader(
            lambda keys: self._load_pages(CONVERSIONS, keys)
        )
        # Quotes, jobs, invoices and their line items (graph/resolvers/billing_loaders.py).
        attach_billing(self)
        # Files on cards (graph/resolvers/attachments_loaders.py).
        attach_attachments(self)
        # Tasks and upcoming actions (graph/resolvers/tasks_loaders.py).
        attach_tasks(self)
        # The inbox and users' phones (graph/resolvers/notifications_loaders.py).
        attach_notifications(self)
        # Saved views and segments, a card's segments (graph/resolvers/segments_loaders.py).
        attach_segments(self)
        # A bulk job's errors (graph/resolvers/jobs_loaders.py).
        attach_jobs(self)

    def release(self) -> None:
        """Empty every loader's cache. The loaders' batch functions close over this object, a
        reference cycle: without this the request's rows would wait for the cyclic garbage
        collector instead of going when the response does."""
        for loader in vars(self).values():
            if isinstance(loader, DataLoader):
                loader.clear_all()
                loader.batch = None  # its tasks hold the last batch's futures and results

    # -- generic shapes -------------------------------------------------------------

    def _by_id(
        self,
        model: type[Model],
        columns: Sequence[str],
        scope: str,
        raw: Sequence[str] = (),
        *,
        visible: str = "",
    ) -> DataLoader[int, Row | None]:
        """Rows by id, of this account only: `scope` is "account" (the row has an account_id)
        or "contact" (the row belongs to a contact of the account)."""
        rows_of = shape(model, columns, raw)
        account_id = self.account_id

        async def load(ids: list[int]) -> list[Row | None]:
            params = Params(dialect())
            where = f't."id" IN ({params.many(set(ids))}) AND {_scoped(scope, params(account_id))}'
            if visible:  # a condition on t that hides rows (no parameters)
                where += f" AND {visible}"
            rows = await fetch(rows_of, params, where, join=_SCOPE_JOIN[scope])
            found = {row["id"]: row for row in rows}
            return [found.get(i) for i in ids]

        return DataLoader(load)

    def _by_lead(self, model: type[Model], columns: Sequence[str], at: str) -> DataLoader[int, list[Row]]:
        """A lead's rows (answers, UTMs) in time order, of this account's contacts only. A lead
        has at most 100 answers and 20 UTM sets (crm/services/contacts.py)."""
        rows_of = shape(model, (*columns, "lead_id"))
        account_id = self.account_id

        async def load(lead_ids: list[int]) -> list[list[Row]]:
            params = Params(dialect())
            where = f't."lead_id" IN ({params.many(set(lead_ids))}) AND c."account_id" = {params(account_id)}'
            order = f't."lead_id", t."{at}", t."id"'
            found: dict[int, list[Row]] = defaultdict(list)
            for row in await fetch(rows_of, params, where, order, join=_SCOPE_JOIN["contact"]):
                found[row["lead_id"]].append(row)
            return [found.get(i, []) for i in lead_ids]

        return DataLoader(load)

    def _slices(self, section: _ListSection) -> DataLoader[SliceKey, list[Row] | None]:
        return DataLoader(lambda keys: self._load_slices(section, keys))

    # -- special shapes -------------------------------------------------------------

    async def _load_slices(self, section: _ListSection, keys: list[SliceKey]) -> list[list[Row] | None]:
        """Every slice asked for in this batch, for any number of contacts, in one statement.

        Keys asking for the same slice (order, first, after) of different contacts share one
        windowed SELECT (ROW_NUMBER per contact, cut at `first`); the distinct slices are
        UNION ALLed and each row comes back tagged with its slice. An `after` item is found
        by a second branch of its slice, tagged negatively, so a cursor naming an item of
        another contact or account yields no anchor row and the slice answers None."""
        groups: dict[tuple[str, int, int | None], list[int]] = defaultdict(list)
        for key in keys:
            groups[(key.order, key.first, key.after_id)].append(key.contact_id)
        account_id = self.account_id
        if len(groups) == 1:
            (((order_name, first, after_id), contact_ids),) = groups.items()
            if after_id is None and len(set(contact_ids)) == 1:
                # The common case, one card's first slice: a plain ORDER BY ... LIMIT.
                kind = dialect()
                values: list[Any] = [contact_ids[0], account_id]
                if section.orders[order_name].scheduled:
                    values.append(utcnow())
                values.append(first)
                _, records = await connection().execute_query(
                    _single_slice_sql(section, order_name, kind), values
                )
                rows = section.shape.builder(kind)(records)
                if section is _TAG_SECTION:
                    rows = _tag_rows(rows)
                return [rows for _ in keys]
        slots = {slice_of: slot for slot, slice_of in enumerate(groups)}
        params = Params(dialect())
        now = utcnow()
        branches = [
            _slice_branch(section, params, account_id, slot, *slice_of, sorted(set(groups[slice_of])), now)
            for slice_of, slot in slots.items()
        ]
        join = f' JOIN ({" UNION ALL ".join(branches)}) r ON r."id" = t."id"'
        order_by = 'r."slot", t."contact_id", r."rn"'
        rows, tags = await fetch_tagged(section.shape, params, order_by, join=join, tag='r."slot"')
        if section is _TAG_SECTION:
            rows = _tag_rows(rows)
        pages: dict[tuple[int, int], list[Row]] = defaultdict(list)
        anchored: set[tuple[int, int]] = set()
        for row, slot in zip(rows, tags, strict=True):
            if slot < 0:
                anchored.add((-1 - slot, row["contact_id"]))
            else:
                pages[(slot, row["contact_id"])].append(row)
        found: list[list[Row] | None] = []
        for key in keys:
            slot = slots[(key.order, key.first, key.after_id)]
            if key.after_id is not None and (slot, key.contact_id) not in anchored:
                found.append(None)
            else:
                found.append(pages.get((slot, key.contact_id), []))
        return found

    async def _load_pages(self, source: _PagedSection, keys: list[PageKey]) -> list[list[Row]]:
        """One windowed query per distinct page shape reads the rows of all its pages."""
        shapes: dict[tuple[Any, ...], list[PageKey]] = defaultdict(list)
        for key in keys:
            shapes[(key.first, key.before_id, key.kinds, key.newest_first)].append(key)
        pages: dict[PageKey, list[Row]] = {}
        for (first, before_id, values, newest_first), group in shapes.items():
            contact_ids = sorted({k.contact_id for k in group})
            by_owner = await self._page_rows(source, contact_ids, first, before_id, values, newest_first)
            for key in group:
                pages[key] = by_owner.get(key.contact_id, [])
        return [pages[key] for key in keys]

    async def _page_rows(
        self,
        source: _PagedSection,
        owner_ids: list[int],
        first: int,
        before_id: int | None,
        values: tuple[str, ...],
        newest_first: bool,
    ) -> dict[int, list[Row]]:
        """Up to first + 1 rows per owner (one more tells whether there is a next page), in
        page order. The page's ids come off the (owner, id) index, which stops after first + 1
        however long the journey is; the rows are then read by primary key. One owner (a card)
        takes them with LIMIT; several (a page of cards) number each owner's rows in a window."""
        params = Params(dialect())
        owner = source.owner_column
        direction = "DESC" if newest_first else "ASC"
        where = [source.scope.format(account=params(self.account_id))]
        if len(owner_ids) == 1:
            where.append(f"{owner} = {params(owner_ids[0])}")
        else:
            where.append(f"{owner} IN ({params.many(owner_ids)})")
        if values:
            where.append(f"{source.filter_column} IN ({params.many(values)})")
        if before_id is not None:
            where.append(f"id {'<' if newest_first else '>'} {params(before_id)}")
        if len(owner_ids) == 1:
            page = (
                f"t.id IN (SELECT id FROM {source.table} WHERE {' AND '.join(where)}"
                f" ORDER BY id {direction} LIMIT {params(first + 1)})"
            )
            rows = await fetch(source.shape, params, page, f"t.id {direction}")
            return {owner_ids[0]: rows}
        ranked = (
            f" JOIN (SELECT id, ROW_NUMBER() OVER (PARTITION BY {owner} ORDER BY id {direction}) AS rn"
            f" FROM {source.table} WHERE {' AND '.join(where)}) ranked ON ranked.id = t.id"
        )
        limit = params(first + 1)
        order = f't."{owner}", ranked.rn'
        rows = await fetch(source.shape, params, f"ranked.rn <= {limit}", order, join=ranked)
        result: dict[int, list[Row]] = defaultdict(list)
        for row in rows:
            result[row[owner]].append(row)
        return result

    async def _load_journey_counts(self, keys: list[tuple[int, tuple[str, ...]]]) -> list[int]:
        counts: dict[tuple[int, tuple[str, ...]], int] = {}
        by_kinds: dict[tuple[str, ...], set[int]] = defaultdict(set)
        for contact_id, kinds in keys:
            by_kinds[kinds].add(contact_id)
        for kinds, contact_ids in by_kinds.items():
            params = Params(dialect())
            account = params(self.account_id)
            sql = (
                f'SELECT "contact_id", COUNT(*) FROM "journey_event" WHERE "account_id" = {account}'
                f' AND "contact_id" IN ({params.many(contact_ids)})'
            )
            if kinds:
                sql += f' AND "kind" IN ({params.many(kinds)})'
            _, rows = await connection().execute_query(sql + ' GROUP BY "contact_id"', params.values)
            found = {row[0]: row[1] for row in rows}
            for contact_id in contact_ids:
                counts[(contact_id, kinds)] = found.get(contact_id, 0)
        return [counts[k] for k in keys]
