"""The plugin end to end: a deal won through the API is posted to (fake) Slack and noted on the card."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from dossier_slack_notes import SlackNotes, won_message

from dossier.plugin import CardEvent
from dossier.plugin.testing import RunningDossier, card_event, start_dossier

if TYPE_CHECKING:
    from conftest import FakeSlack

CREATE_CONTACT = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
ADD_DEAL = "mutation($input: AddDealInput!) { addDeal(input: $input) { id } }"
UPDATE_DEAL = "mutation($input: UpdateDealInput!) { updateDeal(input: $input) { id status } }"
CARD = """
query($id: ID!) {
  contact(id: $id) {
    notes { text author { name } createdBy { kind name } }
    journey(first: 50) { edges { node { kind summary actor { kind name } } } }
  }
}
"""


async def new_contact(dossier: RunningDossier) -> str:
    data = await dossier.graphql(
        CREATE_CONTACT, {"input": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}}
    )
    return data["createContact"]["id"]


async def new_deal(dossier: RunningDossier, contact_id: str, **fields: Any) -> str:
    deal = {"contactId": contact_id, "productName": "Coaching", "amount": "1500.50", "currency": "USD"}
    data = await dossier.graphql(ADD_DEAL, {"input": {**deal, "paymentType": "ONE_TIME", **fields}})
    return data["addDeal"]["id"]


async def card(dossier: RunningDossier, contact_id: str) -> dict[str, Any]:
    return (await dossier.graphql(CARD, {"id": contact_id}))["contact"]


def journey(card: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["node"] for e in card["journey"]["edges"] if e["node"]["kind"] == kind]


async def test_a_won_deal_is_posted_to_slack_and_noted_on_the_card(
    slack: FakeSlack,
) -> None:
    async with start_dossier(SlackNotes(), env={"DOSSIER_SLACK_WEBHOOK_URL": slack.url}) as dossier:
        contact_id = await new_contact(dossier)
        deal_id = await new_deal(dossier, contact_id)
        await dossier.deliver()
        assert slack.received == []  # an open deal is not news

        await dossier.graphql(UPDATE_DEAL, {"input": {"id": deal_id, "status": "WON"}})
        await dossier.deliver()
        assert slack.texts == [":trophy: Coaching won with Ada Lovelace: 1,500.50 USD (by Rita Boss)"]
        request = slack.received[0]
        assert request.path == "/services/T000/B000/secret"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["idempotency-key"]

        shown = await card(dossier, contact_id)
        assert [n["text"] for n in shown["notes"]] == [
            "Announced in Slack: Coaching won with Ada Lovelace: 1,500.50 USD (by Rita Boss)"
        ]
        assert shown["notes"][0]["author"] is None  # a plugin, not a user, wrote it:
        assert shown["notes"][0]["createdBy"] == {"kind": "PLUGIN", "name": "slack-notes"}
        (noted,) = journey(shown, "NOTE_ADDED")
        assert noted["actor"] == {"kind": "PLUGIN", "name": "slack-notes"}

        # Delivering again changes nothing: each event is handled once.
        assert await dossier.deliver() == 0
        assert len(slack.received) == 1


async def test_a_deal_added_as_won_is_posted_too(slack: FakeSlack) -> None:
    async with start_dossier(SlackNotes(), env={"DOSSIER_SLACK_WEBHOOK_URL": slack.url}) as dossier:
        contact_id = await new_contact(dossier)
        await new_deal(dossier, contact_id, status="WON", amount="99", currency="EUR")
        await dossier.deliver()
        assert slack.texts == [":trophy: Coaching won with Ada Lovelace: 99.00 EUR (by Rita Boss)"]


async def test_other_deal_changes_are_not_posted(slack: FakeSlack) -> None:
    async with start_dossier(SlackNotes(), env={"DOSSIER_SLACK_WEBHOOK_URL": slack.url}) as dossier:
        contact_id = await new_contact(dossier)
        deal_id = await new_deal(dossier, contact_id)
        await dossier.graphql(UPDATE_DEAL, {"input": {"id": deal_id, "amount": "2000"}})
        await dossier.graphql(UPDATE_DEAL, {"input": {"id": deal_id, "status": "LOST"}})
        await dossier.deliver()
        assert slack.received == []
        assert (await card(dossier, contact_id))["notes"] == []


async def test_a_refused_post_is_retried_and_the_card_noted_once(
    slack: FakeSlack,
) -> None:
    slack.statuses = [500]  # Slack has a bad moment, then recovers
    async with start_dossier(SlackNotes(), env={"DOSSIER_SLACK_WEBHOOK_URL": slack.url}) as dossier:
        contact_id = await new_contact(dossier)
        await new_deal(dossier, contact_id, status="WON")
        await dossier.deliver()

        assert len(slack.received) == 2
        first, second = slack.received
        assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
        shown = await card(dossier, contact_id)
        assert len(shown["notes"]) == 1
        (failure,) = journey(shown, "PLUGIN_DELIVERY_FAILED")
        assert failure["actor"]["name"] == "slack-notes"
        assert "500 Internal Server Error" in failure["summary"]
        assert "retrying" in failure["summary"]


async def test_a_webhook_that_keeps_refusing_is_given_up_on(slack: FakeSlack) -> None:
    slack.statuses = [403, 403, 403]  # e.g. the webhook was revoked
    async with start_dossier(SlackNotes(), env={"DOSSIER_SLACK_WEBHOOK_URL": slack.url}) as dossier:
        contact_id = await new_contact(dossier)
        await new_deal(dossier, contact_id, status="WON")
        await dossier.deliver()

        assert len(slack.received) == 3  # outbox_max_attempts
        shown = await card(dossier, contact_id)
        assert shown["notes"] == []
        failures = journey(shown, "PLUGIN_DELIVERY_FAILED")
        assert len(failures) == 3
        assert "gave up" in failures[0]["summary"]  # newest first


async def test_without_a_webhook_url_the_plugin_stays_quiet(slack: FakeSlack) -> None:
    async with start_dossier(SlackNotes(), env={}) as dossier:
        contact_id = await new_contact(dossier)
        await new_deal(dossier, contact_id, status="WON")
        await dossier.deliver()
        assert slack.received == []
        shown = await card(dossier, contact_id)
        assert shown["notes"] == []
        assert journey(shown, "PLUGIN_DELIVERY_FAILED") == []


async def test_the_note_can_be_switched_off(slack: FakeSlack) -> None:
    env = {"DOSSIER_SLACK_WEBHOOK_URL": slack.url, "DOSSIER_SLACK_NOTE_ON_CARD": "false"}
    async with start_dossier(SlackNotes(), env=env) as dossier:
        contact_id = await new_contact(dossier)
        await new_deal(dossier, contact_id, status="WON")
        await dossier.deliver()
        assert len(slack.received) == 1
        assert (await card(dossier, contact_id))["notes"] == []


class StubHost:
    """Just what `startup` reads: settings and the HTTP client."""

    def __init__(self, env: dict[str, str], http: httpx.AsyncClient) -> None:
        self.env, self.http = env, http

    def setting(self, name: str, default: str | None = None) -> str | None:
        return self.env.get(f"DOSSIER_{name}") or default


def won_event(event_id: str = "evt-1", amount: str = "12000.00", currency: str = "USD") -> CardEvent:
    return card_event(
        "DEAL_UPDATED",
        id=event_id,
        changes={"status": ["OPEN", "WON"]},
        subject_type="Deal",
        subject_id=12,
        subject={"productName": "Audit", "amount": amount, "currency": currency, "status": "WON"},
    )


async def test_a_replayed_event_is_posted_once(slack: FakeSlack) -> None:
    plugin = SlackNotes()
    env = {"DOSSIER_SLACK_WEBHOOK_URL": slack.url, "DOSSIER_SLACK_NOTE_ON_CARD": "off"}
    async with httpx.AsyncClient() as http:
        plugin.startup(host=StubHost(env, http))
        assert plugin.capabilities() == ["slack"]
        await plugin.deal_updated(event=won_event())
        await plugin.deal_updated(event=won_event())  # e.g. redelivered after a lease ran out
        await plugin.deal_updated(event=won_event("evt-2"))
    assert [r.headers["idempotency-key"] for r in slack.received] == ["evt-1", "evt-2"]
    assert slack.texts[0] == won_message(won_event())
    assert won_message(won_event()) == ":trophy: Audit won with Grace Hopper: 12,000.00 USD (by Rita Boss)"
    # Amounts keep their currency's minor units: no invented cents for yen.
    assert won_message(won_event(amount="2000", currency="JPY")).endswith(": 2,000 JPY (by Rita Boss)")
