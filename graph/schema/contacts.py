"""The contact card and its small sections: address, tags, UTMs, form answers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from crm.contracts import CardAddress, CardContact
from crm.errors import BadInput, NotFound
from crm.uow import display_name
from graph.context import Info
from graph.ids import MAX_PAGE, decode_cursor, decode_id, encode_cursor, page_size
from graph.resolvers.loaders import PageKey, SliceKey
from graph.resolvers.reads import Row
from graph.schema.accounts import Tag, User, joined_user
from graph.schema.attachments import AttachmentConnection, resolve_attachments
from graph.schema.billing import (
    InvoiceConnection,
    InvoiceStatus,
    JobConnection,
    JobStatus,
    QuoteConnection,
    QuoteStatus,
    resolve_invoices,
    resolve_jobs,
    resolve_quotes,
)
from graph.schema.calls import Call
from graph.schema.common import PageInfo, backward_page, built, forward_page
from graph.schema.conversions import (
    CONVERSION_CURSOR,
    ConversionConnection,
    ConversionStatus,
    conversion_edges,
)
from graph.schema.custom_fields import CustomFieldValue, resolve_custom_fields
from graph.schema.deals import Deal
from graph.schema.enums import CallWhen, JourneyKind, JourneyOrder
from graph.schema.journey import JourneyConnection, JourneyEvent, JourneyEventEdge
from graph.schema.merges import (
    MAX_CANDIDATES,
    ContactMerge,
    DuplicateCandidate,
    missing_contact_message,
    resolve_duplicate_candidates,
    resolve_merges,
)
from graph.schema.messages import CardLink, Channel, Message, MessageConnection, MessageEdge, PropertyFacts
from graph.schema.notes import Note
from graph.schema.profile import ContactProfile, Opportunity, resolve_opportunity, resolve_profile
from graph.schema.referrals import (
    OptIn,
    Referral,
    Rewards,
    prepare_referral,
    prepare_rewards,
    referral_of,
    rewards_of,
)

if TYPE_CHECKING:
    from graph.schema.communications import CommunicationChannel, CommunicationConnection, Insights
    from graph.schema.leads import Lead, Touch
    from graph.schema.segments import Segment
    from graph.schema.tasks import TaskConnection, TaskStatus, UpcomingAction

JOURNEY_CURSOR = "journey"
MESSAGE_CURSOR = "message"
UTM_CURSOR = "utm"
ANSWER_CURSOR = "answer"

# The card's plain lists (calls, deals, notes, tags, UTMs, form answers) give at most
# MAX_PAGE items per field; `after` (the last item the client has) reads on from there.
FIRST_HELP = f"At most this many items (1 to {MAX_PAGE})."
AFTER_HELP = "The id of the last item the client has: the list goes on after it."


def _slice_key(contact_id: int, first: int, after: str | None, item: str, order: str = "") -> SliceKey:
    """`item` is the node type whose global id `after` holds, or the kind of an opaque cursor
    for the lists whose items have no id (UTMs, form answers)."""
    size = page_size(first)
    if after is None:
        after_id = None
    elif item in (UTM_CURSOR, ANSWER_CURSOR):
        after_id = decode_cursor(after, item)
    else:
        after_id = decode_id(after, item, field="after")
    return SliceKey(contact_id, size, after_id, order)


def _sliced(rows: list[Row] | None, after: str | None, what: str) -> list[Row]:
    """The loader's slice; None means `after` named no item of this contact's list, which is
    all a client learns about an id of another contact or account."""
    if rows is None:
        raise BadInput(f"after {after!r} is not one of this contact's {what}", field="after")
    return rows


@strawberry.type
class Address:
    street: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 code.")


@strawberry.type(description="UTM parameters captured with a lead or booking.")
class Utm:
    source: str | None
    medium: str | None
    campaign: str | None
    term: str | None
    content: str | None
    captured_at: datetime
    _id: strawberry.Private[int]

    @strawberry.field(description="Pass as `utms(after:)` to read the UTMs after this one.")
    def cursor(self) -> str:
        return encode_cursor(UTM_CURSOR, self._id)


@strawberry.type(description="A question the lead answered on a scheduler form or survey.")
class FormAnswer:
    question: str
    answer: str
    form: str | None = strawberry.field(description="The form or flow the answer came from.")
    answered_at: datetime
    _id: strawberry.Private[int]

    @strawberry.field(description="Pass as `formAnswers(after:)` to read the answers after this one.")
    def cursor(self) -> str:
        return encode_cursor(ANSWER_CURSOR, self._id)


@strawberry.type(description="A contact card: one person the business deals with.")
class Contact(relay.Node):
    id: relay.NodeID[int]
    first_name: str | None
    last_name: str | None
    business_name: str | None
    title: str | None
    contact_type: str | None
    email: str | None
    secondary_email: str | None
    phone: str | None = strawberry.field(description="Primary (cell) phone, E.164.")
    secondary_phone: str | None = strawberry.field(description="E.164.")
    ip_address: str | None
    status: str
    sub_status: str | None
    converted_at: datetime | None = strawberry.field(description="When the contact first became a customer.")
    ok_to_sms: bool = strawberry.field(
        description="SMS consent: on for a verified mobile or by a user's switch; "
        "off after STOP or on a landline."
    )
    sms_blocked_reason: str | None = strawberry.field(
        description='Why SMS is off, e.g. "Landline number, SMS not allowed".'
    )
    phone_line_type: str | None = strawberry.field(
        description="From the last line check: mobile, landline, fixedVoip, nonFixedVoip, tollFree, ..."
    )
    phone_checked_at: datetime | None
    archived_at: datetime | None = strawberry.field(
        description="When the contact was archived (archiveContacts); null while it is live."
    )
    lead_source: str | None = strawberry.field(
        default=None, description="One of viewer.account.leadSources (updateContact); null: not set."
    )
    action_plan: str | None = strawberry.field(
        default=None, description="One of viewer.account.actionPlans (updateContact); null: not set."
    )
    sales_cycle: str | None = strawberry.field(
        default=None, description="One of viewer.account.salesCycles (updateContact); null: not set."
    )
    new_data_at: datetime | None = strawberry.field(
        default=None,
        description="When an imported row last merged into this contact (importContacts, CONTACTS mode); "
        "null once clearNewData was called.",
    )
    has_new_data: bool = strawberry.field(
        default=False, description='An import merged new data into the contact: the table\'s "new" mark.'
    )
    created_at: datetime
    updated_at: datetime
    _row: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Contact:
        return cls(
            id=row["id"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            business_name=row["business_name"],
            title=row["title"],
            contact_type=row["contact_type"],
            email=row["email"],
            secondary_email=row["secondary_email"],
            phone=row["phone"],
            secondary_phone=row["secondary_phone"],
            ip_address=row["ip_address"],
            status=row["status"],
            sub_status=row["sub_status"],
            converted_at=row["converted_at"],
            ok_to_sms=bool(row["ok_to_sms"]),
            sms_blocked_reason=row["sms_blocked_reason"],
            phone_line_type=row["phone_line_type"],
            phone_checked_at=row["phone_checked_at"],
            archived_at=row["archived_at"],
            lead_source=row["lead_source"],
            action_plan=row["action_plan"],
            sales_cycle=row["sales_cycle"],
            new_data_at=row.get("new_data_at"),
            has_new_data=row.get("new_data_at") is not None,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            setter_owner=joined_user(row, "setter_owner"),
            closer_owner=joined_user(row, "closer_owner"),
            assigned_to=joined_user(row, "assigned_to"),
            _row=row,
        )

    @strawberry.field(description='Full name, else business name, else email, else "Guest".')
    def display_name(self) -> str:
        return display_name(self.first_name, self.last_name, self.business_name, self.email)

    @strawberry.field
    def address(self) -> Address | None:
        row = self._row
        parts = {k: row[k] for k in ("street", "city", "state", "zip", "country")}
        return Address(**parts) if any(parts.values()) else None

    setter_owner: User | None
    closer_owner: User | None
    assigned_to: User | None = strawberry.field(description="The representative the contact is assigned to.")

    @strawberry.field(description=f"Tags, by name; at most {MAX_PAGE}, then page with `after`.")
    async def tags(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = MAX_PAGE,
        after: Annotated[strawberry.ID | None, strawberry.argument(description=AFTER_HELP)] = None,
    ) -> list[Tag]:
        key = _slice_key(self.id, first, after, "Tag")
        rows = _sliced(await info.context.loaders.tags_by_contact.load(key), after, "tags")
        return [Tag.from_row(r) for r in rows]

    @strawberry.field(description=f"UTMs, oldest first; at most {MAX_PAGE}, then page with `after`.")
    async def utms(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = MAX_PAGE,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last UTM the client has.")
        ] = None,
    ) -> list[Utm]:
        key = _slice_key(self.id, first, after, UTM_CURSOR)
        rows = _sliced(await info.context.loaders.utms_by_contact.load(key), after, "UTMs")
        return [
            Utm(source=r["source"], medium=r["medium"], campaign=r["campaign"], term=r["term"],
                content=r["content"], captured_at=r["captured_at"], _id=r["id"])
            for r in rows
        ]  # fmt: skip

    @strawberry.field(description=f"Form answers, oldest first; at most {MAX_PAGE}, then page with `after`.")
    async def form_answers(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = MAX_PAGE,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last answer the client has.")
        ] = None,
    ) -> list[FormAnswer]:
        key = _slice_key(self.id, first, after, ANSWER_CURSOR)
        rows = _sliced(await info.context.loaders.answers_by_contact.load(key), after, "form answers")
        return [
            FormAnswer(
                question=r["question"], answer=r["answer"], form=r["form"], answered_at=r["answered_at"],
                _id=r["id"],
            )
            for r in rows
        ]  # fmt: skip

    @strawberry.field(
        description=f"Leads (form submissions), newest first; at most {MAX_PAGE}, then page with `after`."
    )
    async def leads(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = MAX_PAGE,
        after: Annotated[strawberry.ID | None, strawberry.argument(description=AFTER_HELP)] = None,
    ) -> list[Annotated[Lead, strawberry.lazy("graph.schema.leads")]]:
        from graph.schema.leads import Lead

        key = _slice_key(self.id, first, after, "Lead")
        rows = _sliced(await info.context.loaders.leads_by_contact.load(key), after, "leads")
        return [Lead.from_row(r) for r in rows]

    @strawberry.field(description="Attribution of the first lead (form, UTMs, time); null without leads.")
    async def first_touch(self, info: Info) -> Annotated[Touch, strawberry.lazy("graph.schema.leads")] | None:
        from graph.schema.leads import Touch

        rows = await info.context.loaders.leads_by_contact.load(SliceKey(self.id, 1, None, "FIRST"))
        return Touch.of(rows[0]) if rows else None

    @strawberry.field(description="Attribution of the latest lead (form, UTMs, time); null without leads.")
    async def last_touch(self, info: Info) -> Annotated[Touch, strawberry.lazy("graph.schema.leads")] | None:
        from graph.schema.leads import Touch

        rows = await info.context.loaders.leads_by_contact.load(SliceKey(self.id, 1, None, "LAST"))
        return Touch.of(rows[0]) if rows else None

    @strawberry.field(description="The event name of the most recently booked call.")
    async def last_booked_event(self, info: Info) -> str | None:
        latest = await info.context.loaders.calls_by_contact.load(SliceKey(self.id, 1, None, "BOOKED"))
        return latest[0]["event_name"] if latest else None

    @strawberry.field(
        description="Calls; UPCOMING soonest first, PAST latest first, ALL in time order. "
        f"At most {MAX_PAGE}, then page with `after`."
    )
    async def calls(
        self,
        info: Info,
        when: CallWhen = CallWhen.ALL,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = MAX_PAGE,
        after: Annotated[strawberry.ID | None, strawberry.argument(description=AFTER_HELP)] = None,
    ) -> list[Call]:
        key = _slice_key(self.id, first, after, "Call", when.value)
        rows = _sliced(await info.context.loaders.calls_by_contact.load(key), after, "calls")
        batch: dict[Any, Any] = {}
        return [Call.from_row(r, batch) for r in rows]

    @strawberry.field(description=f"Deals, oldest first; at most {MAX_PAGE}, then page with `after`.")
    async def deals(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = MAX_PAGE,
        after: Annotated[strawberry.ID | None, strawberry.argument(description=AFTER_HELP)] = None,
    ) -> list[Deal]:
        key = _slice_key(self.id, first, after, "Deal")
        rows = _sliced(await info.context.loaders.deals_by_contact.load(key), after, "deals")
        batch: dict[Any, Any] = {}
        return [Deal.from_row(r, batch) for r in rows]

    @strawberry.field(description=f"Notes, newest first; at most {MAX_PAGE}, then page with `after`.")
    async def notes(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = MAX_PAGE,
        after: Annotated[strawberry.ID | None, strawberry.argument(description=AFTER_HELP)] = None,
    ) -> list[Note]:
        key = _slice_key(self.id, first, after, "Note")
        rows = _sliced(await info.context.loaders.notes_by_contact.load(key), after, "notes")
        batch: dict[Any, Any] = {}
        return [Note.from_row(r, batch) for r in rows]

    @strawberry.field(description="Files on the card (and its calls' recordings), newest first.")
    async def attachments(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last file the client has.")
        ] = None,
    ) -> AttachmentConnection:
        return await resolve_attachments(info, self.id, first, after)

    @strawberry.field(description="Every change made to the card, newest first unless asked otherwise.")
    async def journey(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        kinds: list[JourneyKind] | None = None,
        order: JourneyOrder = JourneyOrder.NEWEST_FIRST,
    ) -> JourneyConnection:
        size = page_size(first)
        bound = decode_cursor(after, JOURNEY_CURSOR) if after else None
        kind_values = tuple(sorted({k.value for k in kinds or ()}))
        key = PageKey(self.id, size, bound, kind_values, order is JourneyOrder.NEWEST_FIRST)
        rows = await info.context.loaders.journey_page.load(key)
        batch: dict[Any, Any] = {}
        edges = [
            built(
                JourneyEventEdge,
                {"cursor": encode_cursor(JOURNEY_CURSOR, r["id"]), "node": JourneyEvent.from_row(r, batch)},
            )
            for r in rows[:size]
        ]
        return JourneyConnection(
            edges=edges,
            page_info=forward_page(edges, more=len(rows) > size, after=after),
            _contact_id=self.id,
            _kinds=kind_values,
        )

    @strawberry.field(description="The SMS, email and chat thread, oldest first; `last`: the newest page.")
    async def messages(
        self,
        info: Info,
        channel: Channel | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MessageConnection:
        if first is not None and last is not None:
            raise BadInput("give first or last, not both", field="last")
        backwards = last is not None
        size = page_size(last if backwards else (first or 20), "last" if backwards else "first")
        cursor = before if backwards else after
        bound = decode_cursor(cursor, MESSAGE_CURSOR, "before" if backwards else "after") if cursor else None
        channels = (channel.value,) if channel else ()
        key = PageKey(self.id, size, bound, channels, newest_first=backwards)
        rows = await info.context.loaders.message_page.load(key)
        page = rows[:size]
        if backwards:
            page.reverse()  # a thread reads oldest first, newest last
        edges = [
            MessageEdge(cursor=encode_cursor(MESSAGE_CURSOR, r["id"]), node=Message.from_row(r)) for r in page
        ]
        more = len(rows) > size
        return MessageConnection(
            edges=edges,
            page_info=backward_page(edges, more=more, before=before)
            if backwards
            else forward_page(edges, more=more, after=after),
        )

    @strawberry.field(
        description="Calls, SMS, emails, chat messages and web-form leads in one history, newest first "
        "(README: One communication history)."
    )
    async def communications(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last item the client has.")
        ] = None,
        channels: Annotated[
            list[Annotated[CommunicationChannel, strawberry.lazy("graph.schema.communications")]] | None,
            strawberry.argument(description="Only these channels (at least one); all when left out."),
        ] = None,
    ) -> Annotated[CommunicationConnection, strawberry.lazy("graph.schema.communications")]:
        from graph.schema.communications import resolve_communications

        return await resolve_communications(info, self.id, first, after, channels)  # type: ignore[arg-type]

    @strawberry.field(description="Customer since, jobs completed, lifetime value (README: Insights).")
    async def insights(
        self, info: Info
    ) -> Annotated[Insights, strawberry.lazy("graph.schema.communications")]:
        from graph.schema.communications import prepare_insights

        return await prepare_insights(info, self.id)

    @strawberry.field(
        description="The deals summed up in the account's currency: dealSize, quoted, closed, the "
        "amount-weighted likelihood and the earliest closeDate of the OPEN deals (README: Header)."
    )
    async def opportunity(self, info: Info) -> Opportunity:
        return await resolve_opportunity(info, self.id)

    @strawberry.field(description="The expanded profile (updateContact's profile); null fields until set.")
    async def profile(self, info: Info) -> ContactProfile:  # type: ignore[valid-type]
        return await resolve_profile(info, self.id)

    @strawberry.field(description="Conversions sent to the client or held for review, newest first.")
    async def conversions(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last conversion the client has.")
        ] = None,
        status: ConversionStatus | None = None,
    ) -> ConversionConnection:
        size = page_size(first)
        bound = decode_cursor(after, CONVERSION_CURSOR) if after else None
        statuses = (status.value,) if status else ()
        rows = await info.context.loaders.conversion_page.load(PageKey(self.id, size, bound, statuses, True))
        edges = conversion_edges(rows[:size])
        return ConversionConnection(
            edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after)
        )

    @strawberry.field(description="Quotes, newest first; `status` filters them.")
    async def quotes(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last quote the client has.")
        ] = None,
        status: QuoteStatus | None = None,
    ) -> QuoteConnection:
        return await resolve_quotes(info, self.id, first, after, status)

    @strawberry.field(description="Jobs, newest first; `status` filters them.")
    async def jobs(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last job the client has.")
        ] = None,
        status: JobStatus | None = None,
    ) -> JobConnection:
        return await resolve_jobs(info, self.id, first, after, status)

    @strawberry.field(description="Invoices, newest first; `status` filters them.")
    async def invoices(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last invoice the client has.")
        ] = None,
        status: InvoiceStatus | None = None,
    ) -> InvoiceConnection:
        return await resolve_invoices(info, self.id, first, after, status)

    @strawberry.field(
        description="Tasks: open ones with a due time soonest first, then open ones without one, then done "
        "and cancelled ones, newest first; `status` filters them (README: Tasks and upcoming actions)."
    )
    async def tasks(
        self,
        info: Info,
        status: Annotated[
            list[Annotated[TaskStatus, strawberry.lazy("graph.schema.tasks")]] | None,
            strawberry.argument(description="Only these statuses (at least one); all when left out."),
        ] = None,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last task the client has.")
        ] = None,
    ) -> Annotated[TaskConnection, strawberry.lazy("graph.schema.tasks")]:
        from graph.schema.tasks import resolve_tasks

        return await resolve_tasks(info, self.id, status, first, after)

    @strawberry.field(
        description="Open tasks with a due time (overdue ones first) and calls still to come, merged in "
        "time order (README: Tasks and upcoming actions)."
    )
    async def upcoming_actions(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=FIRST_HELP)] = 20,
    ) -> list[Annotated[UpcomingAction, strawberry.lazy("graph.schema.tasks")]]:
        from graph.schema.tasks import resolve_upcoming_actions

        return await resolve_upcoming_actions(info, self.id, first)  # type: ignore[return-value]

    @strawberry.field(
        description="Merges into this contact, newest first, undone ones included (unmergeContacts); "
        f"at most {MAX_PAGE}, then page with `after`."
    )
    async def merges(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="At most this many merges (1 to 100).")] = 10,
        after: Annotated[
            strawberry.ID | None, strawberry.argument(description="The id of the last merge the client has.")
        ] = None,
    ) -> list[ContactMerge]:
        return await resolve_merges(self, info, first, after)

    @strawberry.field(
        description="Contacts that may be this person too (the same email or phone, or the same name "
        "and one email or phone in common), strongest reason first: candidates for mergeContacts."
    )
    async def duplicate_candidates(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description=f"At most this many candidates (1 to {MAX_CANDIDATES}).")
        ] = 10,
    ) -> list[DuplicateCandidate]:
        return await resolve_duplicate_candidates(self, info, first)

    @strawberry.field(
        description="The segments the contact is in, by name: STATIC ones it was put in, DYNAMIC ones whose "
        "filter matches it now (live contacts only) (README: Saved views and segments)."
    )
    async def segments(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="At most this many (1 to 100).")] = 20,
    ) -> list[Annotated[Segment, strawberry.lazy("graph.schema.segments")]]:
        from graph.schema.segments import resolve_contact_segments

        return await resolve_contact_segments(info, self.id, first)

    @strawberry.field(
        description="The account's custom fields (not archived) in the order they were defined, each with "
        "this contact's value, or the field's default when it has none (isSet false)."
    )
    async def custom_fields(self, info: Info) -> list[CustomFieldValue]:
        return await resolve_custom_fields(self.id, info)

    def card_contact(self, account_id: int) -> CardContact:
        row = self._row
        parts = [row[k] for k in ("street", "city", "state", "zip", "country")]
        return CardContact(
            id=self.id,
            account_id=account_id,
            display_name=display_name(self.first_name, self.last_name, self.business_name, self.email),
            email=self.email,
            phone=self.phone,
            ok_to_sms=self.ok_to_sms,
            address=CardAddress(*parts) if any(parts) else None,
        )

    @strawberry.field(
        description="Links from plugins: directions, the property on Zillow, tel:, sms:, mailto:."
    )
    async def links(self, info: Info) -> list[CardLink]:
        contact = self.card_contact(info.context.require_actor().account_id)
        return [CardLink.from_data(link) for link in await info.context.plugins.card_links(contact)]

    @strawberry.field(description="Facts about the property at the address, when a provider is configured.")
    async def property(self, info: Info) -> PropertyFacts | None:
        address = self.card_contact(info.context.require_actor().account_id).address
        if address is None or not (address.street and (address.zip or address.city)):
            return None
        facts = await info.context.plugins.property_facts(address)
        return PropertyFacts.from_data(facts) if facts else None

    @strawberry.field(description="Referrals: inviter, invited contacts, referral count, code and links.")
    async def referral(self, info: Info) -> Referral:
        return await prepare_referral(info, referral_of(self._row))

    @strawberry.field(description="Rewards from the append-only ledger: earned, issued, balance, promos.")
    async def rewards(self, info: Info) -> Rewards:
        return await prepare_rewards(info, rewards_of(self._row))

    @strawberry.field(description="Privacy consent (setOptIns, or a lead's privacyOptIn); off by default.")
    def privacy_opt_in(self) -> OptIn:
        return OptIn.of(self._row, "privacy")

    @strawberry.field(
        description="Communication consent (setOptIns, or a lead's communicationOptIn); off by default. "
        "Marketing email (sendEmail marketing: true) needs it."
    )
    def communication_opt_in(self) -> OptIn:
        return OptIn.of(self._row, "communication")


async def load_contact(info: Info, contact_id: int) -> Contact:
    row = await info.context.loaders.contact.load(contact_id)
    if row is None:
        raise NotFound(await missing_contact_message(info, contact_id))
    return Contact.from_row(row)


@strawberry.type
class ContactEdge:
    cursor: str
    node: Contact


@strawberry.type(description="A page of contacts.")
class ContactConnection:
    edges: list[ContactEdge]
    page_info: PageInfo
    _count: strawberry.Private[Any]

    @strawberry.field(description="Contacts matching the search in the whole account.")
    async def total_count(self) -> int:
        return int(await self._count())

    @strawberry.field
    def nodes(self) -> list[Contact]:
        return [edge.node for edge in self.edges]
