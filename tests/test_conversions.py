"""Send to client / send to manager (D11): routed statuses make conversions, managers review
them, the email plugin mails them to the account's client address and webhooks get them.

The SMTP provider runs its real aiosmtplib path against an aiosmtpd server on 127.0.0.1, and
webhook endpoints are a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from strawberry import relay

from crm.actor import Actor
from crm.errors import BadInput
from crm.models import Conversion, JourneyEvent, OutboxRow
from crm.services import accounts as account_service
from crm.services import conversions as conversion_service
from dossier import Settings
from dossier.plugin.testing.smtp import FakeSmtpServer
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.fakes.webhook_receiver import WebhookReceiver, webhook_receiver

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

CLIENT_EMAIL = "leads@advertiser.example.com"
ROUTED_STATUSES = [
    {"name": "lead", "subStatuses": ["new"]},
    {"name": "qualified", "subStatuses": ["hot", "warm"]},
    {"name": "sent to client", "subStatuses": ["first", "second"], "routing": "CLIENT"},
    {"name": "manager check", "routing": "MANAGER"},
    {"name": "customer", "converts": True},
]
NODE = """
  id status routing rep mediaSource campaign contactStatus reason error
  createdAt reviewedAt sentAt emailedAt
  record { name value } fields { name value }
  createdBy { name } reviewedBy { name } contact { id displayName }
"""
SET_STATUSES = """
mutation($input: SetStatusListInput!) {
  setStatusList(input: $input) { statuses { name routing } clientEmail }
}
"""
SETTINGS = """
mutation($input: UpdateAccountSettingsInput!) { updateAccountSettings(input: $input) { clientEmail } }
"""
CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
ASSIGN = "mutation($input: AssignOwnersInput!) { assignOwners(input: $input) { id } }"
SET_STATUS = "mutation($input: SetContactStatusInput!) { setContactStatus(input: $input) { id status } }"
SEND = f"mutation($input: SendToClientInput!) {{ sendToClient(input: $input) {{ {NODE} }} }}"
APPROVE = f"mutation($input: ApproveConversionInput!) {{ approveConversion(input: $input) {{ {NODE} }} }}"
REJECT = f"mutation($input: RejectConversionInput!) {{ rejectConversion(input: $input) {{ {NODE} }} }}"
CARD = f"""
query($id: ID!, $first: Int, $after: String, $status: ConversionStatus) {{
  contact(id: $id) {{
    conversions(first: $first, after: $after, status: $status) {{
      edges {{ cursor node {{ {NODE} }} }}
      pageInfo {{ hasNextPage hasPreviousPage endCursor }}
    }}
    journey(first: 50, order: OLDEST_FIRST) {{ nodes {{ kind summary subjectType subjectId }} }}
  }}
}}
"""
LIST = f"""
query($first: Int, $after: String, $status: ConversionStatus) {{
  conversions(first: $first, after: $after, status: $status) {{
    nodes {{ {NODE} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
CREATE_ENDPOINT = """
mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } } }
"""
CONVERSION_KINDS = {
    "CONVERSION_SENT",
    "CONVERSION_HELD",
    "CONVERSION_REJECTED",
    "CONVERSION_EMAILED",
    "CONVERSION_EMAIL_FAILED",
}


def db_id(global_id: str) -> int:
    return int(relay.GlobalID.from_id(global_id).node_id)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhook endpoints on 127.0.0.1 (the test receiver) are allowed."""
    return replace(settings, env={**settings.env, "DOSSIER_WEBHOOKS_ALLOW_PRIVATE": "true"})


@pytest.fixture
def smtp() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as started:
        yield started


class Desk:
    """A started app wired to SMTP, the Acme account with routed statuses, and helpers."""

    def __init__(self, api: Api, tenant: Tenant) -> None:
        self.api = api
        self.tenant = tenant
        self.admin = api.as_(tenant.admin_key)
        self.manager = api.as_(tenant.manager_key)
        self.rep = api.as_(tenant.rep_key)

    async def route(self, client_email: str | None = CLIENT_EMAIL) -> None:
        await self.admin.data(SET_STATUSES, {"input": {"statuses": ROUTED_STATUSES}})
        await self.admin.data(SETTINGS, {"input": {"clientEmail": client_email}})

    async def contact(self, **fields: Any) -> str:
        values = {
            "firstName": "Ann",
            "lastName": "Lee",
            "email": "ann@example.com",
            "phone": "+14155550123",
            "utm": {"source": "google", "medium": "cpc", "campaign": "spring-sale"},
            **fields,
        }
        contact_id = str((await self.admin.data(CREATE, {"input": values}))["createContact"]["id"])
        rep_id = str(relay.GlobalID("User", str(self.tenant.user_ids["rep"])))
        await self.admin.data(ASSIGN, {"input": {"contactId": contact_id, "assignedToId": rep_id}})
        return contact_id

    async def set_status(
        self, contact_id: str, status: str, sub: str | None = None, api: Api | None = None
    ) -> None:
        await (api or self.rep).data(
            SET_STATUS, {"input": {"contactId": contact_id, "status": status, "subStatus": sub}}
        )

    async def card(self, contact_id: str, **variables: Any) -> dict[str, Any]:
        return dict((await self.admin.data(CARD, {"id": contact_id, **variables}))["contact"])

    async def conversions(self, contact_id: str) -> list[dict[str, Any]]:
        return [e["node"] for e in (await self.card(contact_id))["conversions"]["edges"]]

    async def journey(self, contact_id: str) -> list[dict[str, Any]]:
        nodes = (await self.card(contact_id))["journey"]["nodes"]
        return [n for n in nodes if n["kind"] in CONVERSION_KINDS]

    async def drain(self) -> None:
        await self.api.runtime.dispatcher.drain()


@pytest.fixture
async def desk(running_app: AppFactory, smtp: FakeSmtpServer) -> AsyncIterator[Desk]:
    async with running_app(env={**smtp.env(), "DOSSIER_WEBHOOKS_ALLOW_PRIVATE": "true"}) as api:
        yield Desk(api, await make_tenant("Acme"))


def lines(conversion: dict[str, Any]) -> dict[str, str]:
    return {line["name"]: line["value"] for line in conversion["record"]}


# --------------------------------------------------------------------------------------
# CLIENT routing: reaching the status sends the card
# --------------------------------------------------------------------------------------


async def test_reaching_a_client_status_sends_the_card_by_email_and_webhook(
    desk: Desk, smtp: FakeSmtpServer, receiver: WebhookReceiver
) -> None:
    await desk.route()
    await desk.admin.data(
        CREATE_ENDPOINT, {"input": {"url": receiver.url("/hook"), "events": ["conversion_sent"]}}
    )
    contact = await desk.contact()
    await desk.set_status(contact, "qualified", "hot")
    assert await desk.conversions(contact) == []  # an unrouted status sends nothing

    await desk.set_status(contact, "sent to client", "first")
    (conversion,) = await desk.conversions(contact)
    assert (conversion["status"], conversion["routing"]) == ("SENT", "CLIENT")
    assert conversion["sentAt"] is not None and conversion["emailedAt"] is None
    assert (conversion["rep"], conversion["mediaSource"], conversion["campaign"]) == (
        "Acme Rep",
        "google",
        "spring-sale",
    )
    assert conversion["contactStatus"] == "sent to client"
    assert lines(conversion) == {
        "Name": "Ann Lee",
        "Email": "ann@example.com",
        "Phone": "+14155550123",
        "Representative": "Acme Rep",
        "Media source": "google",
        "Campaign": "spring-sale",
        "Status": "sent to client (first)",
    }
    assert conversion["createdBy"] == {"name": "Acme Rep"} and conversion["reviewedBy"] is None
    assert smtp.received == []  # the mutation only queued it

    await desk.drain()

    (mail,) = smtp.received
    assert mail.rcpt_tos == [CLIENT_EMAIL]
    assert mail.message["Subject"] == "New conversion: Ann Lee"
    assert mail.message["Message-ID"].startswith(f"<conversion.{db_id(conversion['id'])}.")
    text = mail.message.get_body(("plain",)).get_content()
    html = mail.message.get_body(("html",)).get_content()
    assert "Representative: Acme Rep" in text and "Media source:   google" in text
    assert "<th" in html and "spring-sale" in html and "Ann Lee" in html
    (hook,) = receiver.to("/hook")
    body = hook.json()
    assert body["type"] == "conversion_sent" and body["kind"] == "CONVERSION_SENT"
    assert body["data"]["subject"]["conversionId"] == db_id(conversion["id"])
    assert {"label": "Campaign", "value": "spring-sale"} in body["data"]["subject"]["record"]

    (after,) = await desk.conversions(contact)
    assert after["status"] == "SENT" and after["emailedAt"] is not None
    assert [e["kind"] for e in await desk.journey(contact)] == ["CONVERSION_SENT", "CONVERSION_EMAILED"]

    # Another sub-status of the same status is not reaching it again; leaving and coming back is.
    await desk.set_status(contact, "sent to client", "second")
    assert len(await desk.conversions(contact)) == 1
    await desk.set_status(contact, "qualified")
    await desk.set_status(contact, "sent to client")
    assert len(await desk.conversions(contact)) == 2
    await desk.drain()
    assert len(smtp.received) == 2


async def test_a_lone_email_is_sent_once_even_if_the_event_is_delivered_again(
    desk: Desk, smtp: FakeSmtpServer
) -> None:
    await desk.route()
    contact = await desk.contact()
    await desk.set_status(contact, "sent to client")
    await desk.drain()
    assert len(smtp.received) == 1
    # The outbox row for the email plugin delivered again (a worker lost its lease after sending).
    row = await OutboxRow.get(hook="conversion_sent", plugin="email")
    row.status, row.attempts = "PENDING", 0
    await row.save()
    await desk.drain()
    assert len(smtp.received) == 1


async def test_without_a_client_address_the_conversion_fails_and_says_why(
    desk: Desk, smtp: FakeSmtpServer
) -> None:
    await desk.route(client_email=None)
    contact = await desk.contact()
    await desk.set_status(contact, "sent to client")
    await desk.drain()

    assert smtp.received == []
    (conversion,) = await desk.conversions(contact)
    assert conversion["status"] == "FAILED"
    assert "no client address" in conversion["error"] and "updateAccountSettings" in conversion["error"]
    kinds = [(e["kind"], e["summary"]) for e in await desk.journey(contact)]
    assert kinds[0][0] == "CONVERSION_SENT"
    assert kinds[1][0] == "CONVERSION_EMAIL_FAILED" and "no client address" in kinds[1][1]

    # Once an admin sets the address, sending the card again delivers it.
    await desk.admin.data(SETTINGS, {"input": {"clientEmail": CLIENT_EMAIL}})
    again = (await desk.rep.data(SEND, {"input": {"contactId": contact}}))["sendToClient"]
    assert again["status"] == "SENT"
    await desk.drain()
    assert [m.rcpt_tos for m in smtp.received] == [[CLIENT_EMAIL]]


async def test_a_client_address_the_server_refuses_fails_the_conversion(
    desk: Desk, smtp: FakeSmtpServer
) -> None:
    await desk.route()
    smtp.refuse[CLIENT_EMAIL] = "550 5.1.1 No such user"
    contact = await desk.contact()
    await desk.set_status(contact, "sent to client")
    await desk.drain()
    (conversion,) = await desk.conversions(contact)
    assert conversion["status"] == "FAILED" and "550" in conversion["error"]
    assert conversion["emailedAt"] is None


# --------------------------------------------------------------------------------------
# MANAGER routing: held for review
# --------------------------------------------------------------------------------------


async def test_a_manager_status_holds_the_conversion_until_a_manager_approves_it(
    desk: Desk, smtp: FakeSmtpServer
) -> None:
    await desk.route()
    contact = await desk.contact()
    await desk.set_status(contact, "manager check")
    await desk.drain()
    (held,) = await desk.conversions(contact)
    assert (held["status"], held["routing"], held["sentAt"]) == ("PENDING_REVIEW", "MANAGER", None)
    assert smtp.received == []  # nothing reaches the client before the review

    # A rep cannot approve; nothing changes.
    error = await desk.rep.error(APPROVE, {"input": {"id": held["id"]}})
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await desk.conversions(contact))[0]["status"] == "PENDING_REVIEW"

    pending = (await desk.admin.data(LIST, {"status": "PENDING_REVIEW"}))["conversions"]["nodes"]
    assert [c["id"] for c in pending] == [held["id"]]

    approved = (await desk.manager.data(APPROVE, {"input": {"id": held["id"]}}))["approveConversion"]
    assert approved["status"] == "SENT" and approved["reviewedBy"] == {"name": "Acme Manager"}
    assert approved["reviewedAt"] is not None and approved["sentAt"] is not None
    await desk.drain()
    assert [m.rcpt_tos for m in smtp.received] == [[CLIENT_EMAIL]]
    assert [e["kind"] for e in await desk.journey(contact)] == [
        "CONVERSION_HELD",
        "CONVERSION_SENT",
        "CONVERSION_EMAILED",
    ]

    # Approving twice, or rejecting what was approved, is a conflict and changes nothing.
    again = await desk.manager.error(APPROVE, {"input": {"id": held["id"]}})
    assert again["extensions"]["code"] == "CONFLICT" and "SENT" in again["message"]
    late = await desk.manager.error(REJECT, {"input": {"id": held["id"], "reason": "too late"}})
    assert late["extensions"]["code"] == "CONFLICT"
    assert (await desk.conversions(contact))[0]["status"] == "SENT"


async def test_a_manager_rejects_a_held_conversion_with_a_reason(desk: Desk, smtp: FakeSmtpServer) -> None:
    await desk.route()
    contact = await desk.contact()
    await desk.set_status(contact, "manager check")
    (held,) = await desk.conversions(contact)

    for reason in ("", "   "):
        error = await desk.manager.error(REJECT, {"input": {"id": held["id"], "reason": reason}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and "reason" in error["message"]
    error = await desk.rep.error(REJECT, {"input": {"id": held["id"], "reason": "no"}})
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await desk.conversions(contact))[0]["status"] == "PENDING_REVIEW"

    rejected = (await desk.admin.data(REJECT, {"input": {"id": held["id"], "reason": "Duplicate of #41"}}))[
        "rejectConversion"
    ]
    assert (rejected["status"], rejected["reason"]) == ("REJECTED", "Duplicate of #41")
    assert rejected["reviewedBy"] == {"name": "Acme Admin"} and rejected["sentAt"] is None
    await desk.drain()
    assert smtp.received == []
    journey = await desk.journey(contact)
    assert [e["kind"] for e in journey] == ["CONVERSION_HELD", "CONVERSION_REJECTED"]
    assert "Duplicate of #41" in journey[1]["summary"]
    error = await desk.admin.error(APPROVE, {"input": {"id": held["id"]}})
    assert error["extensions"]["code"] == "CONFLICT"


# --------------------------------------------------------------------------------------
# sendToClient: the card's menu item
# --------------------------------------------------------------------------------------


async def test_send_to_client_applies_the_users_fields_and_follows_the_routing(
    desk: Desk, smtp: FakeSmtpServer
) -> None:
    contact = await desk.contact()
    # No routed status yet: the menu item is not offered.
    error = await desk.rep.error(SEND, {"input": {"contactId": contact}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "routing" in error["message"]
    assert await Conversion.all().count() == 0

    await desk.route()
    fields = [
        {"name": "campaign", "value": "Spring sale, TV"},
        {"name": "Budget", "value": "$20,000"},
        {"name": "Notes", "value": "Call after 5pm\nAsk for Ann"},
        {"name": "Phone", "value": ""},
    ]
    # The contact's status (lead) routes nowhere and the account has a MANAGER status: held.
    held = (await desk.rep.data(SEND, {"input": {"contactId": contact, "fields": fields}}))["sendToClient"]
    assert (held["status"], held["routing"]) == ("PENDING_REVIEW", "MANAGER")
    assert held["fields"] == fields
    assert [(line["name"], line["value"]) for line in held["record"]] == [
        ("Name", "Ann Lee"),
        ("Email", "ann@example.com"),
        ("Representative", "Acme Rep"),
        ("Media source", "google"),
        ("Campaign", "Spring sale, TV"),
        ("Status", "lead"),
        ("Budget", "$20,000"),
        ("Notes", "Call after 5pm\nAsk for Ann"),
    ]

    # In a CLIENT status the card goes straight out, with the fields in the email.
    await desk.set_status(contact, "sent to client")
    sent = (await desk.rep.data(SEND, {"input": {"contactId": contact, "fields": fields[1:2]}}))[
        "sendToClient"
    ]
    assert (sent["status"], sent["routing"]) == ("SENT", "CLIENT")
    await desk.drain()
    texts = [m.message.get_body(("plain",)).get_content() for m in smtp.received]
    # One from reaching the status (no fields), one from the hand-sent card (the held one waits).
    assert sorted("Budget:" in t for t in texts) == [False, True]

    page = (await desk.card(contact, first=2))["conversions"]
    assert len(page["edges"]) == 2 and page["pageInfo"]["hasNextPage"] is True
    assert page["edges"][0]["node"]["id"] == sent["id"]  # newest first
    rest = (await desk.card(contact, first=2, after=page["pageInfo"]["endCursor"]))["conversions"]
    assert [e["node"]["id"] for e in rest["edges"]] == [held["id"]] and rest["pageInfo"][
        "hasNextPage"
    ] is False
    only_held = (await desk.card(contact, status="PENDING_REVIEW"))["conversions"]["edges"]
    assert [e["node"]["id"] for e in only_held] == [held["id"]]


@pytest.mark.parametrize(
    ("fields", "wanted"),
    [
        ([{"name": "Budget", "value": "1"}, {"name": "budget", "value": "2"}], "twice"),
        ([{"name": f"F{i}", "value": "x"} for i in range(31)], "at most 30"),
        ([{"name": "", "value": "x"}], "fields.name"),
        ([{"name": "N" * 101, "value": "x"}], "fields.name"),
        ([{"name": "Notes", "value": "x" * 2001}], "fields.value"),
    ],
)
async def test_send_to_client_refuses_bad_fields_and_changes_nothing(
    desk: Desk, fields: list[dict[str, str]], wanted: str
) -> None:
    await desk.route()
    contact = await desk.contact()
    error = await desk.rep.error(SEND, {"input": {"contactId": contact, "fields": fields}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and wanted in error["message"]
    assert await Conversion.all().count() == 0
    assert await JourneyEvent.filter(kind__startswith="CONVERSION").count() == 0


# --------------------------------------------------------------------------------------
# Statuses and settings
# --------------------------------------------------------------------------------------


async def test_status_routing_is_validated(desk: Desk) -> None:
    statuses = [dict(s) for s in ROUTED_STATUSES]
    statuses[2]["routing"] = "PARTNER"
    error = await desk.admin.error(SET_STATUSES, {"input": {"statuses": statuses}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "PARTNER" in error["message"] and "Routing" in error["message"]

    first_routed = [{"name": "lead", "routing": "CLIENT"}, *ROUTED_STATUSES[1:]]
    error = await desk.admin.error(SET_STATUSES, {"input": {"statuses": first_routed}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "new contacts" in error["message"]

    # The service refuses a routing it does not know as well (the GraphQL enum stops it first).
    admin = Actor.user(1, desk.tenant.user_ids["admin"], "Acme Admin", "admin")
    with pytest.raises(BadInput, match="CLIENT or MANAGER"):
        await account_service.set_status_list(admin, [{"name": "lead"}, {"name": "x", "routing": "partner"}])

    data = await desk.admin.data(SET_STATUSES, {"input": {"statuses": ROUTED_STATUSES}})
    routings = {s["name"]: s["routing"] for s in data["setStatusList"]["statuses"]}
    assert routings == {
        "lead": None,
        "qualified": None,
        "sent to client": "CLIENT",
        "manager check": "MANAGER",
        "customer": None,
    }


async def test_only_admins_set_the_client_address(desk: Desk) -> None:
    for api in (desk.rep, desk.manager):
        error = await api.error(SETTINGS, {"input": {"clientEmail": "x@example.com"}})
        assert error["extensions"]["code"] == "FORBIDDEN"
    error = await desk.admin.error(SETTINGS, {"input": {"clientEmail": "not an address"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    data = await desk.admin.data(SETTINGS, {"input": {"clientEmail": " Leads@Advertiser.example.com "}})
    assert data["updateAccountSettings"]["clientEmail"] == "Leads@advertiser.example.com"
    kept = await desk.admin.data(SETTINGS, {"input": {}})
    assert kept["updateAccountSettings"]["clientEmail"] == "Leads@advertiser.example.com"
    viewer = await desk.rep.data("{ viewer { account { clientEmail } } }")
    assert viewer["viewer"]["account"]["clientEmail"] == "Leads@advertiser.example.com"
    cleared = await desk.admin.data(SETTINGS, {"input": {"clientEmail": None}})
    assert cleared["updateAccountSettings"]["clientEmail"] is None


# --------------------------------------------------------------------------------------
# Tenancy
# --------------------------------------------------------------------------------------


async def test_another_accounts_conversions_are_not_found(desk: Desk) -> None:
    await desk.route()
    contact = await desk.contact()
    await desk.set_status(contact, "manager check")
    (held,) = await desk.conversions(contact)

    globex = await make_tenant("Globex")
    other = desk.api.as_(globex.admin_key)
    await other.data(SET_STATUSES, {"input": {"statuses": ROUTED_STATUSES}})
    for document, variables in (
        (APPROVE, {"input": {"id": held["id"]}}),
        (REJECT, {"input": {"id": held["id"], "reason": "mine now"}}),
        (SEND, {"input": {"contactId": contact}}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": held["id"]}),
    ):
        error = await other.error(document, variables)
        assert error["extensions"]["code"] == "NOT_FOUND", document
    assert (await other.data(LIST))["conversions"]["nodes"] == []
    assert (await desk.conversions(contact))[0]["status"] == "PENDING_REVIEW"
    assert await Conversion.all().count() == 1

    mine = await desk.admin.data(
        "query($id: ID!) { node(id: $id) { ... on Conversion { status } } }", {"id": held["id"]}
    )
    assert mine["node"] == {"status": "PENDING_REVIEW"}


async def test_the_root_list_pages_newest_first_and_filters_by_status(desk: Desk) -> None:
    await desk.route()
    contacts = [await desk.contact(firstName=f"P{i}", email=f"p{i}@example.com") for i in range(3)]
    for contact in contacts:
        await desk.set_status(contact, "manager check")
    await desk.set_status(contacts[0], "sent to client")
    first = (await desk.admin.data(LIST, {"first": 2}))["conversions"]
    assert [c["contact"]["displayName"] for c in first["nodes"]] == ["P0 Lee", "P2 Lee"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await desk.admin.data(LIST, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["conversions"]
    assert [c["contact"]["displayName"] for c in rest["nodes"]] == ["P1 Lee", "P0 Lee"]
    sent = (await desk.admin.data(LIST, {"status": "SENT"}))["conversions"]["nodes"]
    assert [(c["contact"]["displayName"], c["routing"]) for c in sent] == [("P0 Lee", "CLIENT")]
    error = await desk.admin.error(LIST, {"after": "bm90IGEgY3Vyc29y"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await desk.admin.error(LIST, {"first": 101})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_contacts_deletion_takes_its_conversions(desk: Desk) -> None:
    """Conversions belong to the card: the contact's foreign key cascades."""
    await desk.route()
    contact = await desk.contact()
    await desk.set_status(contact, "manager check")
    from crm.models import Contact

    await Contact.filter(id=db_id(contact)).delete()
    assert await Conversion.all().count() == 0


async def test_record_lines_apply_overrides_by_key_or_label() -> None:
    summary = {"name": "Ann", "email": None, "rep": "Bo", "status": "won", "subStatus": "big"}
    extra = [{"name": "REPRESENTATIVE", "value": "Cy"}, {"name": "mediaSource", "value": "tv"}]
    assert conversion_service.record_lines(summary, extra) == [
        ("Name", "Ann"),
        ("Representative", "Cy"),
        ("Media source", "tv"),
        ("Status", "won (big)"),
    ]


async def test_the_demo_shows_routed_statuses_and_conversions_of_every_kind(api: Api) -> None:
    from dossier.demo import ensure_demo

    demo = await ensure_demo(contacts=60, rich=12)
    admin = api.as_(demo.api_key)
    viewer = await admin.data("{ viewer { account { clientEmail statuses { name routing } } } }")
    account = viewer["viewer"]["account"]
    assert account["clientEmail"]
    assert {s["routing"] for s in account["statuses"]} == {None, "CLIENT", "MANAGER"}
    nodes = (await admin.data(LIST, {"first": 10}))["conversions"]["nodes"]
    assert {c["status"] for c in nodes} == {"SENT", "PENDING_REVIEW", "REJECTED"}
    assert any(c["fields"] for c in nodes) and all(lines(c)["Name"] for c in nodes)
    assert all(c["emailedAt"] for c in nodes if c["status"] == "SENT")
    rejected = next(c for c in nodes if c["status"] == "REJECTED")
    assert rejected["reason"] and rejected["reviewedBy"]["name"]
    # The demo wrote no outbox rows: old history is no news for plugins.
    assert await OutboxRow.all().count() == 0


SUBMIT = "mutation($input: SubmitLeadInput!) { submitLead(input: $input) { lead { id contact { id } } } }"


async def test_the_media_source_is_the_first_leads_utm(desk: Desk) -> None:
    """The first lead by submission time, not the first stored, nor UTMs given to createContact."""
    from datetime import UTC, datetime, timedelta

    await desk.route()
    contact = await desk.contact(utm={"source": "typed-in", "campaign": "none"})
    now = datetime.now(UTC).replace(microsecond=0)
    for source, campaign, days in (("facebook", "fb-spring", 2), ("google", "g-brand", 5)):
        data = await desk.admin.data(
            SUBMIT,
            {
                "input": {
                    "formName": "Quote",
                    "email": "ann@example.com",
                    "utm": {"source": source, "campaign": campaign},
                    "submittedAt": (now - timedelta(days=days)).isoformat(),
                }
            },
        )
        assert data["submitLead"]["lead"]["contact"]["id"] == contact
    await desk.set_status(contact, "sent to client")
    (conversion,) = await desk.conversions(contact)
    assert (conversion["mediaSource"], conversion["campaign"]) == ("google", "g-brand")


async def test_an_archived_card_is_not_sent(desk: Desk) -> None:
    await desk.route()
    contact = await desk.contact()
    await desk.admin.data(
        "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }",
        {"i": {"ids": [contact]}},
    )
    error = await desk.rep.error(SEND, {"input": {"contactId": contact}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "archived" in error["message"]
    assert await Conversion.all().count() == 0


async def test_a_conversion_whose_email_keeps_failing_fails_after_the_last_attempt(
    desk: Desk, smtp: FakeSmtpServer
) -> None:
    await desk.route()
    smtp.greylist[CLIENT_EMAIL] = 10  # 451 on every try: retried, then given up
    contact = await desk.contact()
    await desk.set_status(contact, "sent to client")
    await desk.drain()
    (conversion,) = await desk.conversions(contact)
    assert conversion["status"] == "FAILED" and "451" in conversion["error"]
    kinds = [e["kind"] for e in await desk.journey(contact)]
    assert kinds == ["CONVERSION_SENT", "CONVERSION_EMAIL_FAILED"]
    assert smtp.received == []
    # Once the server takes it, sending the card again delivers it.
    smtp.greylist.clear()
    await desk.rep.data(SEND, {"input": {"contactId": contact}})
    await desk.drain()
    assert [m.rcpt_tos for m in smtp.received] == [[CLIENT_EMAIL]]
