"""One communication history (B9) and insights (A9): Contact.communications and Contact.insights.

Rows are seeded straight into the tables (test set-up); chat messages go through the service a
chat plugin calls, and once through a real plugin.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from crm.actor import Actor
from crm.clock import utcnow
from crm.errors import BadInput, NotFound
from crm.events import CardEvent
from crm.models import Account, Call, Contact, Deal, Invoice, Job, JourneyEvent, Lead, Message
from crm.services.chat import record_chat_message
from crm.services.messages import MessageStatus, set_message_status
from dossier import Settings
from dossier.plugin import hookimpl
from dossier.plugin import record_chat_message as public_record_chat_message
from graph.ids import encode_cursor, global_id
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.test_fast_execution import both_over_http
from tests.test_statement_counts import account_of, add_contacts, measure, measure_card

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

HISTORY = """
query History($id: ID!, $first: Int!, $after: String, $channels: [CommunicationChannel!]) {
  contact(id: $id) {
    communications(first: $first, after: $after, channels: $channels) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges {
        cursor channel at direction
        node {
          __typename
          ... on Call { id eventName outcome callDirection: direction }
          ... on Message { id channel direction body }
          ... on Lead { id formName }
        }
      }
    }
  }
}
"""

INSIGHTS = """
query Insights($id: ID!) {
  contact(id: $id) {
    insights {
      customerSince jobsCompleted lifetimeValue { amount currency } mostCommonChannel
      lastInteraction { at channel summary }
    }
  }
}
"""


def cid(contact_id: int) -> str:
    return str(global_id("Contact", contact_id))


async def new_contact(account_id: int, name: str = "Pat") -> int:
    contact = await Contact.create(account_id=account_id, first_name=name, status="lead")
    return contact.id


async def add_call(contact_id: int, at: datetime, *, logged: bool = False, outcome: str | None = None,
                   summary: str | None = None, status: str = "SCHEDULED") -> int:  # fmt: skip
    call = await Call.create(
        contact_id=contact_id, event_name="Discovery call", scheduled_at=at, duration_minutes=30,
        status=status, outcome=outcome, outcome_at=at if outcome else None,
        direction="INBOUND" if logged else None, summary=summary,
    )  # fmt: skip
    return call.id


async def add_message(contact_id: int, at: datetime, channel: str = "SMS", direction: str = "OUTBOUND",
                      body: str = "Hello") -> int:  # fmt: skip
    message = await Message.create(
        contact_id=contact_id, channel=channel, direction=direction,
        status="RECEIVED" if direction == "INBOUND" else "SENT", to_address="+14155550100",
        subject="Hi" if channel == "EMAIL" else None, body=body, created_at=at,
    )  # fmt: skip
    return message.id


async def add_lead(account_id: int, contact_id: int, at: datetime, form_name: str = "Quote request") -> int:
    lead = await Lead.create(
        account_id=account_id, contact_id=contact_id, form_name=form_name, submitted_at=at, status="NEW",
        match_reason="EMAIL", fingerprint=f"{contact_id:032}{at.timestamp():032.0f}"[:64], identity={},
    )  # fmt: skip
    return lead.id


async def history(api: Api, contact_id: int, first: int = 20, **more: Any) -> dict[str, Any]:
    data = await api.data(HISTORY, {"id": cid(contact_id), "first": first, **more})
    return data["contact"]["communications"]


def kinds(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["channel"], e["node"]["__typename"]) for e in page["edges"]]


# --------------------------------------------------------------------------------------
# The history
# --------------------------------------------------------------------------------------


async def test_every_channel_in_one_history_newest_first(as_admin: Api, acme: Tenant) -> None:
    account_id = await account_of(acme)
    contact_id = await new_contact(account_id)
    actor = Actor.plugin(account_id, "webchat")
    upcoming = await add_call(contact_id, utcnow() + timedelta(days=2))
    logged = await add_call(contact_id, T0, logged=True, outcome="SPOKE", summary="Wants a quote")
    sms = await add_message(contact_id, T0 + timedelta(hours=1), "SMS", "OUTBOUND", "On my way")
    email = await add_message(contact_id, T0 + timedelta(hours=2), "EMAIL", "INBOUND", "Thanks!")
    lead = await add_lead(account_id, contact_id, T0 - timedelta(days=1))
    chat = await record_chat_message(actor, contact_id, "INBOUND", "Is Tuesday ok?", T0 + timedelta(hours=3))

    page = await history(as_admin, contact_id)
    edges = page["edges"]
    # The booked call sorts by the time it is for (ahead), then the past, newest first.
    assert [(e["channel"], e["node"]["id"]) for e in edges] == [
        ("CALL", str(global_id("Call", upcoming))),
        ("CHAT", str(global_id("Message", chat.id))),
        ("EMAIL", str(global_id("Message", email))),
        ("SMS", str(global_id("Message", sms))),
        ("CALL", str(global_id("Call", logged))),
        ("WEBFORM", str(global_id("Lead", lead))),
    ]
    assert [e["direction"] for e in edges] == [None, "INBOUND", "INBOUND", "OUTBOUND", "INBOUND", "INBOUND"]
    assert [e["node"]["__typename"] for e in edges] == [
        "Call",
        "Message",
        "Message",
        "Message",
        "Call",
        "Lead",
    ]
    assert edges[1]["node"] == {
        "__typename": "Message", "id": str(global_id("Message", chat.id)), "channel": "CHAT",
        "direction": "INBOUND", "body": "Is Tuesday ok?",
    }  # fmt: skip
    assert edges[1]["at"] == "2026-03-01T15:00:00+00:00"
    assert edges[5]["node"]["formName"] == "Quote request"
    assert page["totalCount"] == 6
    assert page["pageInfo"] == {
        "hasNextPage": False, "hasPreviousPage": False, "startCursor": edges[0]["cursor"],
        "endCursor": edges[-1]["cursor"],
    }  # fmt: skip


async def test_paging_with_small_pages_gives_every_item_once_even_at_one_time(
    as_admin: Api, acme: Tenant
) -> None:
    account_id = await account_of(acme)
    contact_id = await new_contact(account_id)
    other = await new_contact(account_id, "Other")
    # Nine items at one instant (three of each kind), and a few around them.
    for _ in range(3):
        await add_call(contact_id, T0)
        await add_message(contact_id, T0, "EMAIL")
        await add_lead(account_id, contact_id, T0)
    await add_message(contact_id, T0 + timedelta(microseconds=1), "SMS")
    await add_call(contact_id, T0 - timedelta(microseconds=1))
    await add_lead(account_id, contact_id, T0 + timedelta(seconds=1))
    await add_message(other, T0, "SMS")  # another card's item never shows here

    full = await history(as_admin, contact_id, first=100)
    assert full["totalCount"] == 12 and len(full["edges"]) == 12
    expected = [(e["channel"], e["node"]["id"]) for e in full["edges"]]
    assert len(set(expected)) == 12
    # Ties at T0: leads, then messages, then calls, each newest id first.
    tied = [e for e in full["edges"] if e["at"] == "2026-03-01T12:00:00+00:00"]
    assert [e["channel"] for e in tied] == ["WEBFORM"] * 3 + ["EMAIL"] * 3 + ["CALL"] * 3
    ids = [int(base64.b64decode(e["node"]["id"]).decode().split(":")[1]) for e in tied[:3]]
    assert ids == sorted(ids, reverse=True)
    assert full["edges"][0]["channel"] == "WEBFORM" and full["edges"][-1]["channel"] == "CALL"

    for size in (1, 2, 5):
        seen: list[tuple[str, str]] = []
        after = None
        while True:
            page = await history(as_admin, contact_id, first=size, after=after)
            seen += [(e["channel"], e["node"]["id"]) for e in page["edges"]]
            assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == expected, f"pages of {size}"


async def test_channels_filter_the_history(as_admin: Api, acme: Tenant) -> None:
    account_id = await account_of(acme)
    contact_id = await new_contact(account_id)
    await add_call(contact_id, T0, logged=True, outcome="SPOKE")
    await add_message(contact_id, T0 + timedelta(minutes=1), "SMS")
    await add_message(contact_id, T0 + timedelta(minutes=2), "EMAIL")
    await add_message(contact_id, T0 + timedelta(minutes=3), "CHAT", "INBOUND")
    await add_lead(account_id, contact_id, T0 + timedelta(minutes=4))

    async def channels_of(channels: list[str]) -> tuple[list[str], int]:
        page = await history(as_admin, contact_id, channels=channels)
        return [e["channel"] for e in page["edges"]], page["totalCount"]

    assert await channels_of(["SMS", "CHAT"]) == (["CHAT", "SMS"], 2)
    assert await channels_of(["CALL"]) == (["CALL"], 1)
    assert await channels_of(["WEBFORM", "EMAIL"]) == (["WEBFORM", "EMAIL"], 2)
    assert await channels_of(["CHAT", "CHAT"]) == (["CHAT"], 1)
    everything = await history(as_admin, contact_id)
    assert [e["channel"] for e in everything["edges"]] == ["WEBFORM", "CHAT", "EMAIL", "SMS", "CALL"]
    # A filtered page's cursor reads on in the same filter.
    first = await history(as_admin, contact_id, first=1, channels=["SMS", "EMAIL", "CALL"])
    rest = await history(as_admin, contact_id, first=5, after=first["pageInfo"]["endCursor"],
                         channels=["SMS", "EMAIL", "CALL"])  # fmt: skip
    assert [e["channel"] for e in first["edges"] + rest["edges"]] == ["EMAIL", "SMS", "CALL"]


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("variables", "field", "says"),
    [
        ({"channels": []}, "channels", "channels is empty"),
        ({"after": "nope"}, "after", "not a cursor of this communication history"),
        ({"after": encode_cursor("journey", 5)}, "after", "not a cursor"),
        ({"after": _cursor("communication:1772366400000000.4.1")}, "after", "not a cursor"),  # no such kind
        ({"after": _cursor("communication:1772366400000000.1.0")}, "after", "not a cursor"),  # id 0
        ({"after": _cursor("communication:99999999999999999.1.1")}, "after", "not a cursor"),  # year 5138
        ({"after": _cursor("communication:01772366400000000.1.1")}, "after", "not a cursor"),  # not canonical
        ({"after": _cursor("communication:1.2")}, "after", "not a cursor"),
        ({"first": 0}, "first", "between 1 and 100"),
        ({"first": 101}, "first", "between 1 and 100"),
    ],
)
async def test_bad_arguments_are_bad_user_input(
    as_admin: Api, acme: Tenant, variables: dict[str, Any], field: str, says: str
) -> None:
    contact_id = await new_contact(await account_of(acme))
    error = await as_admin.error(HISTORY, {"id": cid(contact_id), "first": 5, **variables})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"].get("field") == field
    assert says in error["message"]


async def test_another_accounts_card_shows_no_history(api: Api, acme: Tenant) -> None:
    globex = await make_tenant("Globex")
    contact_id = await new_contact(await account_of(globex))
    await add_message(contact_id, T0, "SMS", body="qz secret")
    error = await api.as_(acme.admin_key).error(HISTORY, {"id": cid(contact_id), "first": 5})
    assert error["extensions"]["code"] == "NOT_FOUND" and "qz secret" not in str(error)


# --------------------------------------------------------------------------------------
# Chat: the service a chat plugin calls, and a real plugin
# --------------------------------------------------------------------------------------


async def test_record_chat_message_journals_and_joins_the_thread(as_admin: Api, acme: Tenant) -> None:
    account_id = await account_of(acme)
    contact_id = await new_contact(account_id, "Robin")
    actor = Actor.plugin(account_id, "webchat")
    said = utcnow() - timedelta(minutes=3)
    inbound = await record_chat_message(actor, contact_id, "INBOUND", "  Hi,\n do you  work weekends? ", said)
    outbound = await record_chat_message(actor, contact_id, "OUTBOUND", "We do!")
    assert (inbound.channel, inbound.status, inbound.created_at) == ("CHAT", "RECEIVED", said)
    assert (inbound.to_address, inbound.from_address) == ("webchat", "Robin")
    assert (outbound.status, outbound.to_address, outbound.from_address) == ("SENT", "Robin", "webchat")
    events = await JourneyEvent.filter(contact_id=contact_id).order_by("id")
    assert [(e.kind, e.actor_name, e.subject_type, e.subject_id) for e in events] == [
        ("CHAT_RECEIVED", "webchat", "Message", inbound.id),
        ("CHAT_SENT", "webchat", "Message", outbound.id),
    ]
    assert events[0].summary == "chat from Robin: Hi, do you work weekends?"
    thread = await as_admin.data(
        "query($id: ID!) { contact(id: $id) { messages(channel: CHAT) { nodes { body direction from } } } }",
        {"id": cid(contact_id)},
    )
    assert thread["contact"]["messages"]["nodes"] == [
        {"body": "Hi,\n do you  work weekends?", "direction": "INBOUND", "from": "Robin"},
        {"body": "We do!", "direction": "OUTBOUND", "from": "webchat"},
    ]
    # A chat message has no delivery status to set.
    with pytest.raises(BadInput, match="no delivery status"):
        await set_message_status(actor, outbound.id, MessageStatus.DELIVERED)


@pytest.mark.parametrize(
    ("direction", "body", "at", "field"),
    [
        ("SIDEWAYS", "Hi", None, "direction"),
        ("INBOUND", "   ", None, "body"),
        ("INBOUND", "x" * 10_001, None, "body"),
        ("INBOUND", "Hi", datetime(2026, 3, 1, 12, 0), "at"),  # naive
        ("INBOUND", "Hi", utcnow() + timedelta(hours=1), "at"),  # not said yet
        ("OUTBOUND", "Hi", datetime(1800, 1, 1, tzinfo=UTC), "at"),
    ],
)
async def test_record_chat_message_refuses_bad_input_and_changes_nothing(
    api: Api, acme: Tenant, direction: str, body: str, at: datetime | None, field: str
) -> None:
    account_id = await account_of(acme)
    contact_id = await new_contact(account_id)
    with pytest.raises(BadInput) as refused:
        await record_chat_message(Actor.plugin(account_id, "webchat"), contact_id, direction, body, at)
    assert refused.value.field == field
    assert await Message.filter(contact_id=contact_id).count() == 0
    assert await JourneyEvent.filter(contact_id=contact_id).count() == 0


async def test_record_chat_message_is_scoped_to_the_actors_account(api: Api, acme: Tenant) -> None:
    globex = await make_tenant("Globex")
    theirs = await new_contact(await account_of(globex))
    with pytest.raises(NotFound):
        await record_chat_message(Actor.plugin(await account_of(acme), "webchat"), theirs, "INBOUND", "Hi")
    assert await Message.filter(contact_id=theirs).count() == 0


async def test_outbound_chat_on_an_archived_contact_is_refused(api: Api, acme: Tenant) -> None:
    account_id = await account_of(acme)
    contact_id = await new_contact(account_id)
    await Contact.filter(id=contact_id).update(archived_at=utcnow())
    actor = Actor.plugin(account_id, "webchat")
    with pytest.raises(BadInput, match="archived"):
        await record_chat_message(actor, contact_id, "OUTBOUND", "Hello?")
    assert (await record_chat_message(actor, contact_id, "INBOUND", "Still there?")).direction == "INBOUND"


class WebChat:
    """A chat widget: a new contact's first chat line, recorded when the widget made the contact."""

    name = "webchat"

    @hookimpl
    async def contact_created(self, event: CardEvent) -> None:
        from dossier.plugin import Actor as PublicActor

        actor = PublicActor.plugin(event.account_id, self.name)
        await public_record_chat_message(actor, event.contact_id, "INBOUND", "Do you do gutters?")


class ChatWatcher:
    name = "chatwatcher"

    def __init__(self) -> None:
        self.events: list[CardEvent] = []

    @hookimpl
    def chat_received(self, event: CardEvent) -> None:
        self.events.append(event)

    @hookimpl
    def chat_sent(self, event: CardEvent) -> None:
        self.events.append(event)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, disabled_plugins=builtin_names())


async def test_a_chat_plugin_adds_chat_to_the_history_and_chat_received_fires(
    running_app: AppFactory,
) -> None:
    watcher = ChatWatcher()
    async with running_app(plugins=(WebChat(), watcher)) as api:
        acme = await make_tenant("Acme")
        admin = api.as_(acme.admin_key)
        made = await admin.data(
            "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }",
            {"i": {"firstName": "Sam"}},
        )
        contact = made["createContact"]["id"]
        await api.runtime.dispatcher.drain()  # contact_created: the widget records the chat line
        await api.runtime.dispatcher.drain()  # chat_received
        page = (await admin.data(HISTORY, {"id": contact, "first": 5}))["contact"]["communications"]
        assert [(e["channel"], e["direction"], e["node"]["body"]) for e in page["edges"]] == [
            ("CHAT", "INBOUND", "Do you do gutters?")
        ]
        assert len(watcher.events) == 1
        event = watcher.events[0]
        assert (event.kind, event.actor.name, event.subject_type) == ("CHAT_RECEIVED", "webchat", "Message")
        assert event.subject["channel"] == "CHAT" and event.subject["body"] == "Do you do gutters?"
        journey = await admin.data(
            "query($id: ID!) { contact(id: $id) { journey(first: 5, kinds: [CHAT_RECEIVED]) "
            "{ nodes { kind actor { kind name } } } } }",
            {"id": contact},
        )
        assert journey["contact"]["journey"]["nodes"] == [
            {"kind": "CHAT_RECEIVED", "actor": {"kind": "PLUGIN", "name": "webchat"}}
        ]
        insights = await admin.data(INSIGHTS, {"id": contact})
        assert insights["contact"]["insights"]["mostCommonChannel"] == "CHAT"
        # The business's answer fires chat_sent.
        account_id = await account_of(acme)
        contact_id = int(base64.b64decode(contact).decode().split(":")[1])
        await public_record_chat_message(
            Actor.plugin(account_id, "webchat"), contact_id, "OUTBOUND", "We do!"
        )
        await api.runtime.dispatcher.drain()
        assert [(e.kind, e.subject["direction"], e.subject["body"]) for e in watcher.events[1:]] == [
            ("CHAT_SENT", "OUTBOUND", "We do!")
        ]


# --------------------------------------------------------------------------------------
# Insights
# --------------------------------------------------------------------------------------


async def insights_of(api: Api, contact_id: int) -> dict[str, Any]:
    return (await api.data(INSIGHTS, {"id": cid(contact_id)}))["contact"]["insights"]


async def add_deal(contact_id: int, status: str, amount: str, currency: str = "USD",
                   closed_at: datetime | None = None) -> None:  # fmt: skip
    account_id = (await Contact.get(id=contact_id)).account_id
    await Deal.create(
        contact_id=contact_id, account_id=account_id, product_name="Roof", amount=Decimal(amount),
        currency=currency, payment_type="ONE_TIME", status=status, closed_at=closed_at,
    )  # fmt: skip


async def add_job(
    account_id: int, contact_id: int, status: str, completed_at: datetime | None = None
) -> None:
    await Job.create(
        account_id=account_id, contact_id=contact_id, title="Fix", status=status, scheduled_start=T0,
        scheduled_end=T0 + timedelta(hours=2), completed_at=completed_at,
    )  # fmt: skip


_invoices = iter(range(1, 10_000))


async def add_invoice(account_id: int, contact_id: int, status: str, paid: str, currency: str = "USD",
                      paid_at: datetime | None = None) -> None:  # fmt: skip
    await Invoice.create(
        account_id=account_id, contact_id=contact_id, number=f"INV-{next(_invoices)}", title="Work",
        currency=currency, status=status, total=Decimal("5000"), amount_paid=Decimal(paid), paid_at=paid_at,
    )  # fmt: skip


async def test_an_empty_card_has_empty_insights(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(await account_of(acme))
    await add_call(contact_id, utcnow() + timedelta(days=1))  # booked, not happened
    await add_call(contact_id, T0, status="CANCELLED")  # never happened
    assert await insights_of(as_admin, contact_id) == {
        "customerSince": None, "jobsCompleted": 0, "lifetimeValue": {"amount": "0.00", "currency": "USD"},
        "mostCommonChannel": None, "lastInteraction": None,
    }  # fmt: skip


async def test_customer_since_is_converted_at_else_the_earliest_sale_job_or_payment(
    as_admin: Api, acme: Tenant
) -> None:
    account_id = await account_of(acme)
    contact_id = await new_contact(account_id)
    await add_deal(contact_id, "OPEN", "10", closed_at=T0 - timedelta(days=30))  # not won
    await add_deal(contact_id, "LOST", "10", closed_at=T0 - timedelta(days=29))
    await add_job(account_id, contact_id, "CANCELLED", completed_at=T0 - timedelta(days=28))
    await add_invoice(account_id, contact_id, "SENT", "0", paid_at=T0 - timedelta(days=27))
    assert (await insights_of(as_admin, contact_id))["customerSince"] is None
    await add_deal(contact_id, "WON", "10", closed_at=T0)
    assert (await insights_of(as_admin, contact_id))["customerSince"] == "2026-03-01T12:00:00+00:00"
    await add_job(account_id, contact_id, "DONE", completed_at=T0 - timedelta(days=2))
    assert (await insights_of(as_admin, contact_id))["customerSince"] == "2026-02-27T12:00:00+00:00"
    await add_invoice(
        account_id, contact_id, "PARTIALLY_PAID", "5", paid_at=T0 - timedelta(days=3, microseconds=1)
    )
    assert (await insights_of(as_admin, contact_id))["customerSince"] == "2026-02-26T11:59:59.999999+00:00"
    await add_invoice(account_id, contact_id, "PAID", "5", currency="EUR", paid_at=T0 - timedelta(days=4))
    assert (await insights_of(as_admin, contact_id))["customerSince"] == "2026-02-25T12:00:00+00:00"
    # convertedAt wins, even when later than the sales.
    await Contact.filter(id=contact_id).update(converted_at=T0 + timedelta(days=1))
    assert (await insights_of(as_admin, contact_id))["customerSince"] == "2026-03-02T12:00:00+00:00"


async def test_jobs_completed_and_lifetime_value_in_the_accounts_currency(
    as_admin: Api, acme: Tenant
) -> None:
    account_id = await account_of(acme)
    contact_id = await new_contact(account_id)
    for status in ("DONE", "DONE", "SCHEDULED", "IN_PROGRESS", "CANCELLED"):
        await add_job(account_id, contact_id, status)
    await add_deal(contact_id, "WON", "1999.5")
    await add_deal(contact_id, "WON", "0.1")
    await add_deal(contact_id, "WON", "700", currency="EUR")  # another currency: left out
    await add_deal(contact_id, "OPEN", "5000")
    await add_deal(contact_id, "LOST", "5000")
    await add_invoice(account_id, contact_id, "PAID", "0.2")
    await add_invoice(account_id, contact_id, "PARTIALLY_PAID", "99999999999999.9999")
    await add_invoice(account_id, contact_id, "SENT", "1")
    await add_invoice(account_id, contact_id, "VOID", "1000")  # void: left out
    await add_invoice(account_id, contact_id, "PAID", "300", currency="EUR")
    found = await insights_of(as_admin, contact_id)
    assert found["jobsCompleted"] == 2
    # Exact: 1999.5 + 0.1 + 0.2 + 99999999999999.9999 + 1 as decimals, not floats.
    assert found["lifetimeValue"] == {"amount": "100000000002000.7999", "currency": "USD"}
    other = await new_contact(account_id, "Other")
    await add_deal(other, "WON", "1999.5")
    assert (await insights_of(as_admin, other))["lifetimeValue"] == {"amount": "1999.50", "currency": "USD"}
    # In EUR the account sees its EUR rows only, in EUR's minor units.
    await Account.filter(id=account_id).update(currency="EUR")
    assert (await insights_of(as_admin, contact_id))["lifetimeValue"] == {
        "amount": "1000.00",
        "currency": "EUR",
    }
    await Account.filter(id=account_id).update(currency="JPY")
    assert (await insights_of(as_admin, contact_id))["lifetimeValue"] == {"amount": "0", "currency": "JPY"}


async def test_most_common_channel_and_last_interaction(as_admin: Api, acme: Tenant) -> None:
    account_id = await account_of(acme)
    contact_id = await new_contact(account_id)
    await add_message(contact_id, T0, "SMS")
    await add_message(contact_id, T0 + timedelta(minutes=1), "SMS")
    await add_message(contact_id, T0 + timedelta(minutes=2), "EMAIL")
    # Calls that did not happen count for nothing: booked ahead, cancelled, past without outcome.
    for when in (utcnow() + timedelta(days=1), utcnow() + timedelta(days=2), utcnow() + timedelta(days=3)):
        await add_call(contact_id, when)
    await add_call(contact_id, T0 + timedelta(hours=1), status="CANCELLED")
    await add_call(contact_id, T0 + timedelta(hours=2))
    found = await insights_of(as_admin, contact_id)
    assert found["mostCommonChannel"] == "SMS"
    assert found["lastInteraction"] == {
        "at": "2026-03-01T12:02:00+00:00",
        "channel": "EMAIL",
        "summary": "Hello",
    }
    # A tie (2 SMS, 2 emails): the channel used most recently wins.
    await add_message(contact_id, T0 - timedelta(days=1), "EMAIL")
    assert (await insights_of(as_admin, contact_id))["mostCommonChannel"] == "EMAIL"
    await add_message(contact_id, T0 + timedelta(minutes=3), "SMS", body="x")
    await add_message(contact_id, T0 + timedelta(minutes=4), "EMAIL", body="y")
    assert (await insights_of(as_admin, contact_id))["mostCommonChannel"] == "EMAIL"
    # At one time too: the tie-break is the history's order (lead, message, call; then id).
    await add_call(contact_id, T0 + timedelta(minutes=4), logged=True)
    await add_call(contact_id, T0 + timedelta(minutes=4), outcome="NO_ANSWER")
    await add_call(contact_id, T0 + timedelta(minutes=4), outcome="LEFT_VOICEMAIL", summary="Left a message")
    found = await insights_of(as_admin, contact_id)
    assert found["mostCommonChannel"] == "EMAIL"  # 3 emails, 3 SMS, 3 calls; the email is newest at the tie
    assert found["lastInteraction"] == {
        "at": "2026-03-01T12:04:00+00:00", "channel": "EMAIL", "summary": "y",
    }  # fmt: skip
    await add_call(
        contact_id, T0 + timedelta(minutes=5), logged=True, outcome="SPOKE", summary="Booked  the\njob"
    )
    found = await insights_of(as_admin, contact_id)
    assert found["mostCommonChannel"] == "CALL"
    assert found["lastInteraction"] == {
        "at": "2026-03-01T12:05:00+00:00", "channel": "CALL", "summary": "Spoke: Booked the job",
    }  # fmt: skip
    await add_call(contact_id, T0 + timedelta(minutes=6), outcome="NO_ANSWER")
    assert (await insights_of(as_admin, contact_id))["lastInteraction"]["summary"] == "No answer"
    long_body = "Hello <b>there</b>,\n\n" + "word " * 60
    await add_message(contact_id, T0 + timedelta(minutes=7), "CHAT", "INBOUND", long_body)
    summary = (await insights_of(as_admin, contact_id))["lastInteraction"]["summary"]
    assert (
        len(summary) == 140 and summary.endswith("…") and summary.startswith("Hello <b>there</b>, word word")
    )
    await add_lead(account_id, contact_id, T0 + timedelta(minutes=8), form_name="Spring offer")
    assert (await insights_of(as_admin, contact_id))["lastInteraction"] == {
        "at": "2026-03-01T12:08:00+00:00", "channel": "WEBFORM", "summary": "Spring offer",
    }  # fmt: skip


# --------------------------------------------------------------------------------------
# Statement counts and the fast path
# --------------------------------------------------------------------------------------

SECTION = """
  communications(first: 5) {
    totalCount pageInfo { hasNextPage endCursor }
    edges {
      cursor channel at direction
      node {
        __typename
        ... on Call { id eventName bookedBy { name } contact { id } }
        ... on Message { id body channel author { name } }
        ... on Lead { id formName answers { question } utms { source } }
      }
    }
  }
  chats: communications(first: 2, channels: [CHAT, SMS]) { edges { channel node { ... on Message { id } } } }
  insights {
    customerSince jobsCompleted lifetimeValue { amount currency } mostCommonChannel
    lastInteraction { at channel summary }
  }
"""
CARD = "query Card($id: ID!) { contact(id: $id) { id " + SECTION + " } }"
PAGE = "query Page($first: Int!) { contacts(first: $first) { edges { node { id " + SECTION + " } } } }"


async def fill(account_id: int, contact_ids: list[int], each: int) -> None:
    """`each` items of every kind on every card, plus a won deal, a done job and a paid invoice."""
    messages, calls, leads = [], [], []
    for contact_id in contact_ids:
        for i in range(each):
            at = T0 - timedelta(minutes=i)
            messages.append(Message(contact_id=contact_id, channel=("SMS", "EMAIL", "CHAT")[i % 3],
                                    direction="OUTBOUND", status="SENT", to_address="x", body=f"m{i}",
                                    created_at=at))  # fmt: skip
            calls.append(Call(contact_id=contact_id, event_name="Call", scheduled_at=at, duration_minutes=5,
                              outcome="SPOKE" if i % 2 else None))  # fmt: skip
            lead = Lead(account_id=account_id, contact_id=contact_id, form_name=f"F{i}", submitted_at=at,
                        status="NEW", match_reason="EMAIL", fingerprint=f"{i:064}", identity={})  # fmt: skip
            leads.append(lead)
        await add_deal(contact_id, "WON", "10", closed_at=T0)
        await add_job(account_id, contact_id, "DONE", completed_at=T0)
        await add_invoice(account_id, contact_id, "PAID", "5", paid_at=T0)
    await Message.bulk_create(messages, batch_size=500)
    await Call.bulk_create(calls, batch_size=500)
    await Lead.bulk_create(leads, batch_size=500)


async def test_the_section_costs_the_same_on_one_card_with_1_or_40_items_each(
    as_admin: Api, acme: Tenant, count_statements: Any
) -> None:
    account_id = await account_of(acme)
    small, big = await add_contacts(account_id, [(None, None, None), (None, None, None)])
    await fill(account_id, [small], 1)
    await fill(account_id, [big], 40)
    one = await measure_card(as_admin, count_statements, CARD, small)
    many = await measure_card(as_admin, count_statements, CARD, big)
    assert len(many.data["communications"]["edges"]) == 5 and many.data["communications"]["totalCount"] == 120
    assert many.data["insights"]["jobsCompleted"] == 1
    assert one.count == many.count, f"1 item: {one.count}, 40: {many.count}\n{many.listing()}"
    # The key lookup, the contact, the page with its calls, messages and leads (and their
    # users) and its totalCount, the filtered page, the leads' answers and UTMs, and insights
    # (totals and interactions in one statement): 7 (was up to 16 with the nodes read by id).
    assert many.count <= 7, many.listing()


async def test_a_page_of_50_cards_costs_the_same_as_a_page_of_2(
    as_admin: Api, acme: Tenant, count_statements: Any
) -> None:
    account_id = await account_of(acme)
    contact_ids = await add_contacts(account_id, [(None, None, None)] * 50)
    await fill(account_id, contact_ids, 6)
    two = await measure(as_admin, count_statements, PAGE, {"first": 2})
    fifty = await measure(as_admin, count_statements, PAGE, {"first": 50})
    cards = fifty.data["contacts"]["edges"]
    assert len(cards) == 50 and all(len(c["node"]["communications"]["edges"]) == 5 for c in cards)
    assert all(c["node"]["insights"]["mostCommonChannel"] == "WEBFORM" for c in cards)
    assert two.count == fifty.count, f"2 cards: {two.count}, 50: {fifty.count}\n{fifty.listing()}"
    # The history's union: two pages (all channels, counted in the same statement; CHAT and
    # SMS), and insights (totals and interactions together).
    unions = [s for s in fifty.statements if 'AS "kind"' in s]
    assert len(unions) == 3, fifty.listing()


FAST = """
query Fast($id: ID!, $first: Int!, $after: String) {
  contact(id: $id) {
    displayName
    communications(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges {
        cursor channel at direction
        node {
          __typename
          ... on Call { id callStatus: status outcome badges isUpcoming contact { displayName } }
          ... on Message { id channel direction status body from to }
          ... on Lead { id formName leadStatus: status matchReason contact { id } }
        }
      }
    }
    calls: communications(first: 3, channels: [CALL]) { edges { node { ... on Call { id endsAt } } } }
    insights { customerSince jobsCompleted lifetimeValue { amount currency } mostCommonChannel
               lastInteraction { at channel summary } }
  }
  bad: contact(id: $id) { displayName communications(after: "nope") { totalCount } }
  empty: contact(id: $id) { communications(channels: []) { totalCount } }
}
"""


async def test_the_history_answers_the_same_on_both_paths(api: Api, acme: Tenant) -> None:
    account_id = await account_of(acme)
    contact_id = await new_contact(account_id)
    await fill(account_id, [contact_id], 4)
    await record_chat_message(Actor.plugin(account_id, "webchat"), contact_id, "INBOUND", "Hi", T0)
    rep = api.as_(acme.admin_key)
    page_one = await history(rep, contact_id, first=3)
    for variables in (
        {"id": cid(contact_id), "first": 3},
        {"id": cid(contact_id), "first": 4, "after": page_one["pageInfo"]["endCursor"]},
        {"id": cid(contact_id), "first": 100},
    ):
        graphql_core, compiled = await both_over_http(rep, FAST, variables)
        assert compiled == graphql_core, f"paths differ with {variables}"
    answer = (await both_over_http(rep, FAST, {"id": cid(contact_id), "first": 3}))[1]
    assert answer["data"]["bad"] is None and answer["data"]["empty"] is None
    assert sorted(e["path"][0] for e in answer["errors"]) == ["bad", "empty"]
    assert {e["extensions"]["code"] for e in answer["errors"]} == {"BAD_USER_INPUT"}
    card = answer["data"]["contact"]
    assert [e["channel"] for e in card["communications"]["edges"]] == ["WEBFORM", "CHAT", "SMS"]
    assert card["communications"]["totalCount"] == 13 and card["insights"]["jobsCompleted"] == 1


# --------------------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------------------


async def test_the_demos_newest_cards_have_chats_in_their_history(api: Api) -> None:
    from dossier.demo import DEMO_ACCOUNT, ensure_demo
    from dossier.demo_communications import CHATS

    demo = await ensure_demo(contacts=60, rich=12)
    account = await Account.get(name=DEMO_ACCOUNT)
    chats = await Message.filter(contact__account_id=account.id, channel="CHAT").order_by("id")
    assert len(chats) == 2 * len(CHATS)
    contact_id = chats[-1].contact_id  # type: ignore[attr-defined]
    card = await api.data(
        HISTORY.replace(
            "contact(id: $id) {", "contact(id: $id) { insights { lastInteraction { channel summary } }"
        ),
        {"id": cid(contact_id), "first": 100},
        key=demo.api_key,
    )
    edges = card["contact"]["communications"]["edges"]
    # Booked calls ahead head the history; the chat is the newest of what happened.
    past = [e for e in edges if datetime.fromisoformat(e["at"]) <= utcnow()]
    assert [(e["channel"], e["direction"]) for e in past[:2]] == [("CHAT", "OUTBOUND"), ("CHAT", "INBOUND")]
    assert card["contact"]["insights"]["lastInteraction"]["channel"] == "CHAT"
    assert {e["channel"] for e in edges} >= {"CHAT", "CALL"}
