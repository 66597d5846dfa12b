"""Referrals, rewards and opt-ins (E1-E3): setInviter, referral codes and links, GET /r/{code},
leads carrying a code or consents, the rewards ledger and its figures, marketing email and
opt-ins, with their journey entries and hooks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from strawberry import relay

from crm.actor import Actor
from crm.errors import BadInput
from crm.events import CardEvent
from crm.models import Account, Contact, RewardEntry, User
from crm.services import messages as message_service
from crm.services import rewards as reward_service
from dossier import Settings
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant
from tests.fakes.smtp import FakeSmtpServer

CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
SET_INVITER = """
mutation($input: SetInviterInput!) {
  setInviter(input: $input) { id referral { inviter { id displayName } } }
}
"""
SUBMIT = """
mutation($input: SubmitLeadInput!) {
  submitLead(input: $input) { createdContact lead { id contact { id } } }
}
"""
EARN = """
mutation($input: EarnRewardInput!) {
  earnReward(input: $input) {
    entry { kind amount { amount currency } reason createdByName createdBy { name } }
    contact { rewards { balance { amount currency } totalEarned { amount } } }
  }
}
"""
ISSUE = """
mutation($input: IssueRewardInput!) {
  issueReward(input: $input) { entry { kind amount { amount currency } reason } contact { id } }
}
"""
REDEEM = """
mutation($input: RedeemPromoInput!) {
  redeemPromo(input: $input) { entry { kind amount { amount currency } promoCode } contact { id } }
}
"""
PREFERRED = """
mutation($input: SetPreferredRewardInput!) {
  setPreferredReward(input: $input) { rewards { preferredReward } }
}
"""
OPT_INS = """
mutation($input: SetOptInsInput!) {
  setOptIns(input: $input) {
    privacyOptIn { optedIn at source } communicationOptIn { optedIn at source }
  }
}
"""
STATUS = "mutation($input: SetContactStatusInput!) { setContactStatus(input: $input) { status } }"
SETTINGS = """
mutation($input: UpdateAccountSettingsInput!) {
  updateAccountSettings(input: $input) { referralLandingUrl currency }
}
"""
CREATE_FORM = "mutation($input: CreateFormInput!) { createForm(input: $input) { id key intakeUrl } }"
REVOKE_FORM = "mutation($input: RevokeFormInput!) { revokeForm(input: $input) { id } }"
SEND_EMAIL = """
mutation($input: SendEmailInput!) { sendEmail(input: $input) { id status } }
"""
CARD = """
query($id: ID!, $after: String, $ledgerAfter: String) {
  contact(id: $id) {
    id displayName
    referral {
      referralCode referralLink flowLink referralCount
      inviter { id displayName }
      invited(first: 2, after: $after) {
        edges { cursor node { id displayName } }
        pageInfo { hasNextPage endCursor }
      }
    }
    rewards {
      toBeIssued { amount currency } totalEarned { amount currency } amountIssued { amount currency }
      lastIssuedAt balance { amount currency } promosRedeemed preferredReward
      ledger(first: 2, after: $ledgerAfter) {
        edges { cursor node { kind amount { amount currency } reason promoCode createdByName createdAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
    privacyOptIn { optedIn at source }
    communicationOptIn { optedIn at source }
    journey(first: 30) { nodes { kind summary changes { field before after } } }
  }
}
"""


def gid(type_name: str, node_id: int) -> str:
    return str(relay.GlobalID(type_name, str(node_id)))


def db_id(global_id: str) -> int:
    return int(relay.GlobalID.from_id(global_id).node_id)


class Recorder:
    """A plugin recording the hooks of this section (and the lead and contact ones)."""

    name = "referral-recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, CardEvent]] = []

    def take(self, hook: str) -> list[CardEvent]:
        found = [event for name, event in self.calls if name == hook]
        self.calls = [(name, event) for name, event in self.calls if name != hook]
        return found

    @hookimpl
    def inviter_set(self, event: CardEvent) -> None:
        self.calls.append(("inviter_set", event))

    @hookimpl
    def reward_earned(self, event: CardEvent) -> None:
        self.calls.append(("reward_earned", event))

    @hookimpl
    def reward_issued(self, event: CardEvent) -> None:
        self.calls.append(("reward_issued", event))

    @hookimpl
    def promo_redeemed(self, event: CardEvent) -> None:
        self.calls.append(("promo_redeemed", event))

    @hookimpl
    def opt_in_changed(self, event: CardEvent) -> None:
        self.calls.append(("opt_in_changed", event))

    @hookimpl
    def lead_submitted(self, event: CardEvent) -> None:
        self.calls.append(("lead_submitted", event))

    @hookimpl
    def contact_updated(self, event: CardEvent) -> None:
        self.calls.append(("contact_updated", event))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, disabled_plugins=builtin_names(), public_url="https://crm.example.com")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def api(running_app: AppFactory, recorder: Recorder) -> AsyncIterator[Api]:
    async with running_app(plugins=(recorder,)) as started:
        yield started


async def contact(api: Api, first: str, **fields: Any) -> str:
    data = await api.data(CREATE, {"input": {"firstName": first, "lastName": "Lee", **fields}})
    return str(data["createContact"]["id"])


async def card(api: Api, contact_id: str, **variables: Any) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id, **variables}))["contact"]


async def set_inviter(api: Api, contact_id: str, inviter_id: str | None) -> dict[str, Any]:
    return await api.post(SET_INVITER, {"input": {"contactId": contact_id, "inviterId": inviter_id}})


def entries(card_data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in card_data["journey"]["nodes"] if e["kind"] == kind]


def changes_of(entry: dict[str, Any]) -> dict[str, Any]:
    return {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}


async def drain(api: Api) -> None:
    await api.runtime.dispatcher.drain()


# --------------------------------------------------------------------------------------
# Referral codes and setInviter
# --------------------------------------------------------------------------------------


async def test_every_contact_gets_a_unique_url_safe_code_and_a_link(as_admin: Api) -> None:
    ada = await contact(as_admin, "Ada")
    lead = (await as_admin.data(SUBMIT, {"input": {"formName": "Quote", "email": "bo@example.com"}}))[
        "submitLead"
    ]
    codes = []
    for contact_id in (ada, lead["lead"]["contact"]["id"]):
        referral = (await card(as_admin, contact_id))["referral"]
        code = referral["referralCode"]
        assert len(code) == 16 and code.replace("-", "").replace("_", "").isalnum()
        assert referral["referralLink"] == f"https://crm.example.com/r/{code}"
        codes.append(code)
    assert codes[0] != codes[1]
    stored = await Contact.all().values_list("referral_code", flat=True)
    assert None not in stored and len(set(stored)) == len(stored)


async def test_set_inviter_is_journaled_fires_its_hook_and_lists_the_invited(
    as_admin: Api, api: Api, recorder: Recorder
) -> None:
    ada, bo, cy = [await contact(as_admin, name) for name in ("Ada", "Bo", "Cy")]
    result = await set_inviter(as_admin, bo, ada)
    assert result["data"]["setInviter"]["referral"]["inviter"] == {"id": ada, "displayName": "Ada Lee"}
    await set_inviter(as_admin, cy, ada)
    await drain(api)
    events = recorder.take("inviter_set")
    assert [e.contact_id for e in events] == [db_id(bo), db_id(cy)]
    assert events[0].changes["inviter"] == [None, {"id": db_id(ada), "name": "Ada Lee"}]

    bo_card = await card(as_admin, bo)
    (entry,) = entries(bo_card, "INVITER_SET")
    assert "Ada Lee" in entry["summary"]
    ada_card = await card(as_admin, ada)
    invited = ada_card["referral"]["invited"]
    assert [e["node"]["displayName"] for e in invited["edges"]] == ["Bo Lee", "Cy Lee"]
    assert invited["pageInfo"]["hasNextPage"] is False
    # Paging: the first one, then after it.
    dan = await contact(as_admin, "Dan")
    await set_inviter(as_admin, dan, ada)
    page1 = (await card(as_admin, ada))["referral"]["invited"]
    assert page1["pageInfo"]["hasNextPage"] is True
    page2 = (await card(as_admin, ada, after=page1["pageInfo"]["endCursor"]))["referral"]["invited"]
    assert [e["node"]["displayName"] for e in page2["edges"]] == ["Dan Lee"]

    # Clearing it: journaled with before/after.
    cleared = await set_inviter(as_admin, bo, None)
    assert cleared["data"]["setInviter"]["referral"]["inviter"] is None
    entry = entries(await card(as_admin, bo), "INVITER_SET")[0]
    assert changes_of(entry)["inviter"][1] is None
    # The same inviter again changes nothing.
    await set_inviter(as_admin, cy, ada)
    assert len(entries(await card(as_admin, cy), "INVITER_SET")) == 1


async def test_an_inviter_cannot_close_a_cycle_or_be_the_contact_itself(as_admin: Api) -> None:
    ada, bo, cy = [await contact(as_admin, name) for name in ("Ada", "Bo", "Cy")]
    assert "errors" not in await set_inviter(as_admin, bo, ada)  # Ada invited Bo
    assert "errors" not in await set_inviter(as_admin, cy, bo)  # Bo invited Cy

    error = (await set_inviter(as_admin, ada, ada))["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "inviterId"}
    assert "its own inviter" in error["message"]

    two = (await set_inviter(as_admin, ada, bo))["errors"][0]
    assert two["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Ada Lee invited Bo Lee invited Ada Lee" in two["message"]
    three = (await set_inviter(as_admin, ada, cy))["errors"][0]
    assert "Ada Lee invited Bo Lee invited Cy Lee invited Ada Lee" in three["message"]
    # Nothing changed.
    assert (await Contact.get(id=db_id(ada))).inviter_id is None  # type: ignore[attr-defined]
    assert entries(await card(as_admin, ada), "INVITER_SET") == []


async def test_an_inviter_of_another_account_is_not_found(as_admin: Api, api: Api, globex: Tenant) -> None:
    ada = await contact(as_admin, "Ada")
    theirs = await contact(api.as_(globex.admin_key), "Zed")
    error = (await set_inviter(as_admin, ada, theirs))["errors"][0]
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "inviterId"}
    missing = (await set_inviter(as_admin, ada, gid("Contact", 10**8)))["errors"][0]
    assert error["message"].replace(str(db_id(theirs)), "N") == missing["message"].replace(str(10**8), "N")
    error = (await set_inviter(as_admin, theirs, ada))["errors"][0]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert (await Contact.get(id=db_id(ada))).inviter_id is None  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------
# Referral links and attributed leads
# --------------------------------------------------------------------------------------


async def test_the_referral_link_redirects_to_the_landing_page_with_the_code(as_admin: Api) -> None:
    ada = await contact(as_admin, "Ada")
    code = (await card(as_admin, ada))["referral"]["referralCode"]
    # No landing page yet: 404, and the page says so.
    response = await as_admin.client.get(f"/r/{code}")
    assert response.status_code == 404 and "Referral link not found" in response.text

    bad = await as_admin.post(SETTINGS, {"input": {"referralLandingUrl": "http://example.com/refer"}})
    assert bad["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "referralLandingUrl"}
    assert "https" in bad["errors"][0]["message"]
    bad = await as_admin.post(SETTINGS, {"input": {"referralLandingUrl": "not a url"}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await Account.get(name="Acme")).referral_landing_url is None

    done = await as_admin.data(
        SETTINGS, {"input": {"referralLandingUrl": "https://example.com/refer?lang=en"}}
    )
    assert done["updateAccountSettings"]["referralLandingUrl"] == "https://example.com/refer?lang=en"
    response = await as_admin.client.get(f"/r/{code}")
    assert response.status_code == 302
    assert response.headers["location"] == f"https://example.com/refer?lang=en&ref={code}"
    unknown = await as_admin.client.get("/r/nosuchcode0000")
    assert unknown.status_code == 404 and "nosuchcode0000" in unknown.text


async def test_a_lead_with_a_referral_code_is_attributed_to_its_contact(
    as_admin: Api, api: Api, recorder: Recorder, globex: Tenant
) -> None:
    ada = await contact(as_admin, "Ada")
    code = (await card(as_admin, ada))["referral"]["referralCode"]
    lead = (
        await as_admin.data(
            SUBMIT, {"input": {"formName": "Quote", "email": "bo@example.com", "referralCode": code}}
        )
    )["submitLead"]
    bo = lead["lead"]["contact"]["id"]
    bo_card = await card(as_admin, bo)
    assert bo_card["referral"]["inviter"]["id"] == ada
    (submitted,) = entries(bo_card, "LEAD_SUBMITTED")
    assert changes_of(submitted)["inviter"] == [None, {"id": db_id(ada), "name": "Ada Lee"}]
    await drain(api)
    (event,) = recorder.take("lead_submitted")
    assert event.subject["inviter"] == {"id": db_id(ada), "name": "Ada Lee"}
    assert event.subject["referral"] == {"code": code, "outcome": "ATTRIBUTED"}
    assert len(recorder.take("inviter_set")) == 1
    # Bo completed a form: Ada's referral count is 1; an invited contact without a lead is not counted.
    cy = await contact(as_admin, "Cy")
    await set_inviter(as_admin, cy, ada)
    await drain(api)
    assert len(recorder.take("inviter_set")) == 1
    ada_card = await card(as_admin, ada)
    assert ada_card["referral"]["referralCount"] == 1
    assert len(ada_card["referral"]["invited"]["edges"]) == 2

    # Another account's code is unknown here: the lead is stored, the code ignored.
    zed = await contact(api.as_(globex.admin_key), "Zed")
    their_code = (await card(api.as_(globex.admin_key), zed))["referral"]["referralCode"]
    other = (
        await as_admin.data(
            SUBMIT, {"input": {"formName": "Quote", "email": "dee@example.com", "referralCode": their_code}}
        )
    )["submitLead"]
    assert (await card(as_admin, other["lead"]["contact"]["id"]))["referral"]["inviter"] is None
    await drain(api)
    (event,) = recorder.take("lead_submitted")
    assert event.subject["referral"] == {"code": their_code, "outcome": "UNKNOWN_CODE"}
    assert recorder.take("inviter_set") == []

    # Bo already has an inviter: a second code keeps it. Ada's own code on Ada: ignored.
    cy_code = (await card(as_admin, cy))["referral"]["referralCode"]
    await as_admin.data(
        SUBMIT, {"input": {"formName": "Quote", "email": "bo@example.com", "referralCode": cy_code}}
    )
    assert (await card(as_admin, bo))["referral"]["inviter"]["id"] == ada
    await drain(api)
    assert recorder.take("lead_submitted")[0].subject["referral"]["outcome"] == "ALREADY_INVITED"


async def test_a_referral_code_never_closes_a_cycle(as_admin: Api, api: Api, recorder: Recorder) -> None:
    ada = await contact(as_admin, "Ada", email="ada@example.com")
    bo = await contact(as_admin, "Bo")
    await set_inviter(as_admin, bo, ada)  # Ada invited Bo
    bo_code = (await card(as_admin, bo))["referral"]["referralCode"]
    # Ada sends a form with Bo's code: Bo inviting Ada would close a cycle.
    await as_admin.data(
        SUBMIT, {"input": {"formName": "Quote", "email": "ada@example.com", "referralCode": bo_code}}
    )
    assert (await card(as_admin, ada))["referral"]["inviter"] is None
    await drain(api)
    assert recorder.take("lead_submitted")[0].subject["referral"]["outcome"] == "CYCLE"


async def test_the_intake_form_takes_the_code_and_consents_and_gives_the_flow_link(
    as_admin: Api, api: Api, recorder: Recorder
) -> None:
    ada = await contact(as_admin, "Ada")
    code = (await card(as_admin, ada))["referral"]["referralCode"]
    form = (await as_admin.data(CREATE_FORM, {"input": {"name": "Spring offer"}}))["createForm"]
    response = await as_admin.client.post(
        f"/forms/{form['key']}",
        content=f"email=bo%40example.com&ref={code}&communicationOptIn=on&privacyOptIn=yes",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201, response.text
    bo = str((await Contact.get(email="bo@example.com")).id)
    bo_card = await card(as_admin, gid("Contact", int(bo)))
    assert bo_card["referral"]["inviter"]["id"] == ada
    assert bo_card["referral"]["flowLink"] == form["intakeUrl"]
    assert bo_card["communicationOptIn"]["optedIn"] is True
    assert bo_card["communicationOptIn"]["source"] == "FORM"
    assert bo_card["privacyOptIn"]["optedIn"] is True and bo_card["privacyOptIn"]["at"]
    (entry,) = entries(bo_card, "OPT_IN_CHANGED")
    assert changes_of(entry)["communicationOptIn"] == [False, True]
    assert changes_of(entry)["privacyOptInSource"] == [None, "FORM"]
    # A consent that is neither yes nor no is refused, and nothing is stored.
    bad = await as_admin.client.post(
        f"/forms/{form['key']}", json={"email": "cy@example.com", "privacyOptIn": "maybe"}
    )
    assert bad.status_code == 400 and "privacyOptIn" in bad.text
    assert not await Contact.filter(email="cy@example.com").exists()
    # A revoked form has no flow link.
    await as_admin.data(REVOKE_FORM, {"input": {"id": form["id"]}})
    assert (await card(as_admin, gid("Contact", int(bo))))["referral"]["flowLink"] is None
    # A contact whose lead came through submitLead has none either.
    assert (await card(as_admin, ada))["referral"]["flowLink"] is None


# --------------------------------------------------------------------------------------
# Rewards
# --------------------------------------------------------------------------------------


async def convert(api: Api, contact_id: str) -> None:
    await api.data(STATUS, {"input": {"contactId": contact_id, "status": "customer"}})


async def test_the_ledger_and_its_figures(as_admin: Api, api: Api, recorder: Recorder, acme: Tenant) -> None:
    ada = await contact(as_admin, "Ada")
    earned = (
        await as_admin.data(EARN, {"input": {"contactId": ada, "amount": "25.5", "reason": "Referred Bo"}})
    )["earnReward"]
    assert earned["entry"] == {
        "kind": "EARNED",
        "amount": {"amount": "25.50", "currency": "USD"},
        "reason": "Referred Bo",
        "createdByName": "Acme Admin",
        "createdBy": {"name": "Acme Admin"},
    }
    assert earned["contact"]["rewards"]["balance"] == {"amount": "25.50", "currency": "USD"}
    await as_admin.data(EARN, {"input": {"contactId": ada, "amount": 10, "reason": "Referred Cy"}})
    rewards = (await card(as_admin, ada))["rewards"]
    # Not a customer yet and no direct reward: nothing can be issued, and issuing says why.
    assert rewards["toBeIssued"] == {"amount": "0.00", "currency": "USD"}
    assert rewards["balance"]["amount"] == "35.50" and rewards["totalEarned"]["amount"] == "35.50"
    error = (await as_admin.post(ISSUE, {"input": {"contactId": ada, "amount": "5"}}))["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "35.50 USD" in error["message"]
    assert "not converted yet" in error["message"] and "0.00 USD can be issued" in error["message"]

    await convert(as_admin, ada)
    assert (await card(as_admin, ada))["rewards"]["toBeIssued"]["amount"] == "35.50"
    await as_admin.data(ISSUE, {"input": {"contactId": ada, "amount": "20", "note": "Gift card 1234"}})
    await as_admin.data(REDEEM, {"input": {"contactId": ada, "code": "SPRING10", "amount": "5.25"}})
    await as_admin.data(REDEEM, {"input": {"contactId": ada, "code": "WELCOME"}})
    data = await card(as_admin, ada)
    rewards = data["rewards"]
    assert rewards["totalEarned"]["amount"] == "35.50"
    assert rewards["amountIssued"]["amount"] == "20.00"
    assert rewards["balance"]["amount"] == "10.25" and rewards["toBeIssued"]["amount"] == "10.25"
    assert rewards["promosRedeemed"] == 2 and rewards["lastIssuedAt"]
    assert rewards["preferredReward"] == "USD"
    ledger = rewards["ledger"]
    assert [e["node"]["kind"] for e in ledger["edges"]] == ["PROMO_REDEEMED", "PROMO_REDEEMED"]
    assert ledger["edges"][0]["node"]["amount"]["amount"] == "0.00"
    assert ledger["pageInfo"]["hasNextPage"] is True
    older = (await card(as_admin, ada, ledgerAfter=ledger["pageInfo"]["endCursor"]))["rewards"]["ledger"]
    assert [e["node"]["kind"] for e in older["edges"]] == ["ISSUED", "EARNED"]
    assert older["edges"][0]["node"]["reason"] == "Gift card 1234"

    kinds = [e["kind"] for e in data["journey"]["nodes"]]
    assert kinds.count("REWARD_EARNED") == 2 and kinds.count("REWARD_ISSUED") == 1
    assert kinds.count("PROMO_REDEEMED") == 2
    issued = entries(data, "REWARD_ISSUED")[0]
    assert changes_of(issued)["balance"] == ["35.50", "15.50"]
    await drain(api)
    assert len(recorder.take("reward_earned")) == 2
    (event,) = recorder.take("reward_issued")
    assert event.subject["amount"] == "20.00" and event.subject["balance"] == "15.50"
    assert event.subject_type == "RewardEntry"
    assert [e.subject["promoCode"] for e in recorder.take("promo_redeemed")] == ["SPRING10", "WELCOME"]

    # The preferred reward: set, journaled, cleared back to the currency.
    done = await as_admin.data(
        PREFERRED, {"input": {"contactId": ada, "preferredReward": "Amazon gift card"}}
    )
    assert done["setPreferredReward"]["rewards"]["preferredReward"] == "Amazon gift card"
    await drain(api)
    (updated,) = recorder.take("contact_updated")
    assert updated.changes == {"preferredReward": [None, "Amazon gift card"]}
    # A rep may not issue.
    rep = api.as_(acme.rep_key)
    error = (await rep.post(ISSUE, {"input": {"contactId": ada, "amount": "1"}}))["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_a_direct_reward_can_be_issued_before_the_contact_converts(
    as_admin: Api, api: Api, recorder: Recorder
) -> None:
    """Article 004 point 4: a direct reward shows in toBeIssued straight away; a chosen one once
    the lead converts. toBeIssued = direct + (converted ? other : 0) - issued - promos, >= 0."""
    ada = await contact(as_admin, "Ada")
    direct = """
    mutation($input: EarnRewardInput!) {
      earnReward(input: $input) { entry { kind direct } contact { rewards { toBeIssued { amount } } } }
    }
    """
    done = await as_admin.data(
        direct, {"input": {"contactId": ada, "amount": "10", "reason": "Signed up", "direct": True}}
    )
    assert done["earnReward"]["entry"] == {"kind": "EARNED", "direct": True}
    assert done["earnReward"]["contact"]["rewards"]["toBeIssued"] == {"amount": "10.00"}
    done = await as_admin.data(direct, {"input": {"contactId": ada, "amount": "25", "reason": "Referred Bo"}})
    assert done["earnReward"]["entry"] == {"kind": "EARNED", "direct": False}  # the default
    rewards = (await card(as_admin, ada))["rewards"]
    assert rewards["toBeIssued"]["amount"] == "10.00" and rewards["balance"]["amount"] == "35.00"

    # More than the direct part, before conversion: refused, saying what can be issued and why.
    body = await as_admin.post(ISSUE, {"input": {"contactId": ada, "amount": "10.01"}})
    error = body["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "amount"}
    assert "not converted yet" in error["message"] and "10.00 USD can be issued" in error["message"]
    assert "25.00 USD of other earned rewards waits" in error["message"]
    assert await RewardEntry.filter(kind="ISSUED").count() == 0

    await as_admin.data(ISSUE, {"input": {"contactId": ada, "amount": "6"}})
    rewards = (await card(as_admin, ada))["rewards"]
    assert rewards["toBeIssued"]["amount"] == "4.00" and rewards["balance"]["amount"] == "29.00"
    await as_admin.data(REDEEM, {"input": {"contactId": ada, "code": "P", "amount": "4"}})
    rewards = (await card(as_admin, ada))["rewards"]
    assert rewards["toBeIssued"]["amount"] == "0.00" and rewards["balance"]["amount"] == "25.00"
    # A promo taken from the non-direct part never drives toBeIssued below 0.
    await as_admin.data(REDEEM, {"input": {"contactId": ada, "code": "Q", "amount": "5"}})
    data = await card(as_admin, ada)
    assert (
        data["rewards"]["toBeIssued"]["amount"] == "0.00" and data["rewards"]["balance"]["amount"] == "20.00"
    )
    error = (await as_admin.post(ISSUE, {"input": {"contactId": ada, "amount": "0.01"}}))["errors"][0]
    assert "0.00 USD can be issued" in error["message"]

    # Converting releases the rest: the balance.
    await convert(as_admin, ada)
    rewards = (await card(as_admin, ada))["rewards"]
    assert rewards["toBeIssued"]["amount"] == "20.00"
    error = (await as_admin.post(ISSUE, {"input": {"contactId": ada, "amount": "20.01"}}))["errors"][0]
    assert "20.00 USD can be issued" in error["message"] and "balance of 20.00 USD" in error["message"]
    await as_admin.data(ISSUE, {"input": {"contactId": ada, "amount": "20"}})
    assert (await card(as_admin, ada))["rewards"]["toBeIssued"]["amount"] == "0.00"

    # Journal and hooks: the direct line says so; toBeIssued's change is recorded.
    earned = entries(data, "REWARD_EARNED")
    assert [changes_of(e).get("toBeIssued") for e in earned] == [None, ["0.00", "10.00"]]
    assert "a direct reward of" in earned[-1]["summary"]
    issued = entries(data, "REWARD_ISSUED")[0]
    assert changes_of(issued)["toBeIssued"] == ["10.00", "4.00"]
    await drain(api)
    events = recorder.take("reward_earned")
    assert [e.subject["direct"] for e in events] == [True, False]
    assert [e.subject["toBeIssued"] for e in events] == ["10.00", "10.00"]
    (first_issue, _) = recorder.take("reward_issued")
    assert first_issue.subject["direct"] is False and first_issue.subject["toBeIssued"] == "4.00"


async def test_direct_must_be_a_boolean(as_admin: Api, acme: Tenant) -> None:
    ada = await contact(as_admin, "Ada")
    body = await as_admin.post(
        EARN, {"input": {"contactId": ada, "amount": "1", "reason": "x", "direct": "yes"}}
    )
    assert body["errors"] and await RewardEntry.all().count() == 0
    done = await as_admin.data(
        EARN, {"input": {"contactId": ada, "amount": "1", "reason": "x", "direct": None}}
    )
    assert done["earnReward"]["entry"]["kind"] == "EARNED"
    assert (await RewardEntry.get()).direct is False
    user = await User.get(id=acme.user_ids["admin"])
    actor = Actor.user(user.account_id, user.id, user.name, "admin")  # type: ignore[attr-defined]
    with pytest.raises(BadInput, match="direct"):
        await reward_service.earn_reward(actor, db_id(ada), "1", "x", None, "yes")  # type: ignore[arg-type]
    assert await RewardEntry.all().count() == 1


@pytest.mark.parametrize(
    ("amount", "currency", "words"),
    [
        ("0", None, "more than 0"),
        ("-5", None, "negative"),
        ("1.005", None, "round it"),
        ("1000000000", None, "below"),
        ("NaN", None, "finite"),
        ("5", "EUR", "rewards are in USD"),
        ("5", "XYZ", "ISO 4217"),
    ],
)
async def test_bad_amounts_change_nothing(
    as_admin: Api, amount: str, currency: str | None, words: str
) -> None:
    ada = await contact(as_admin, "Ada")
    body = await as_admin.post(
        EARN, {"input": {"contactId": ada, "amount": amount, "reason": "x", "currency": currency}}
    )
    errors = body.get("errors") or []
    assert errors and errors[0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert words in errors[0]["message"]
    assert await RewardEntry.all().count() == 0


async def test_issuing_more_than_the_balance_says_the_balance(
    as_admin: Api, api: Api, globex: Tenant
) -> None:
    ada = await contact(as_admin, "Ada")
    await convert(as_admin, ada)
    await as_admin.data(EARN, {"input": {"contactId": ada, "amount": "10", "reason": "x"}})
    error = (await as_admin.post(ISSUE, {"input": {"contactId": ada, "amount": "10.01"}}))["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "amount"}
    assert "balance of 10.00 USD" in error["message"]
    error = (await as_admin.post(REDEEM, {"input": {"contactId": ada, "code": "X", "amount": "11"}}))[
        "errors"
    ][0]
    assert "balance of 10.00 USD" in error["message"]
    error = (await as_admin.post(ISSUE, {"input": {"contactId": ada, "amount": "5", "currency": "EUR"}}))[
        "errors"
    ][0]
    assert error["extensions"]["field"] == "currency"
    # Another account's contact is not found, for every mutation of the section.
    theirs = api.as_(globex.admin_key)
    for query, values in (
        (EARN, {"amount": "1", "reason": "x"}),
        (ISSUE, {"amount": "1"}),
        (REDEEM, {"code": "X"}),
        (PREFERRED, {"preferredReward": "x"}),
        (OPT_INS, {"privacy": {"optedIn": True}}),
    ):
        error = (await theirs.post(query, {"input": {"contactId": ada, **values}}))["errors"][0]
        assert error["extensions"]["code"] == "NOT_FOUND", (query, error)
    assert await RewardEntry.all().count() == 1


async def test_the_ledger_is_in_the_account_currency_and_keeps_it(as_admin: Api) -> None:
    await as_admin.data(SETTINGS, {"input": {"currency": "JPY"}})
    ada = await contact(as_admin, "Ada")
    assert (await card(as_admin, ada))["rewards"]["balance"] == {"amount": "0", "currency": "JPY"}
    error = (await as_admin.post(EARN, {"input": {"contactId": ada, "amount": "10.5", "reason": "x"}}))[
        "errors"
    ][0]
    assert "JPY has none" in error["message"]
    await as_admin.data(EARN, {"input": {"contactId": ada, "amount": "1000", "reason": "x"}})
    await as_admin.data(SETTINGS, {"input": {"currency": "EUR"}})
    rewards = (await card(as_admin, ada))["rewards"]
    assert rewards["balance"] == {"amount": "1000", "currency": "JPY"}
    assert rewards["preferredReward"] == "JPY"
    error = await as_admin.post(
        EARN, {"input": {"contactId": ada, "amount": "1", "reason": "x", "currency": "EUR"}}
    )
    assert error["errors"][0]["extensions"]["field"] == "currency"


async def test_two_issues_racing_never_overdraw(as_admin: Api, acme: Tenant) -> None:
    """Four issues of 7 against a balance of 10 at once, through the service (over HTTP the test
    client takes requests one at a time): the contact's row lock makes them take turns on
    PostgreSQL (SQLite serialises writers), so exactly one is paid and the others see 3 left."""
    ada = await contact(as_admin, "Ada")
    await convert(as_admin, ada)
    await as_admin.data(EARN, {"input": {"contactId": ada, "amount": "10", "reason": "x"}})
    user = await User.get(id=acme.user_ids["admin"])
    actor = Actor.user(user.account_id, user.id, user.name, "admin")  # type: ignore[attr-defined]
    results = await asyncio.gather(
        *(reward_service.issue_reward(actor, db_id(ada), "7", None) for _ in range(4)), return_exceptions=True
    )
    paid = [r for r in results if isinstance(r, RewardEntry)]
    refused = [r for r in results if isinstance(r, BadInput)]
    assert len(paid) == 1 and len(refused) == 3, results
    assert all("balance of 3.00 USD" in r.message for r in refused)
    assert (await card(as_admin, ada))["rewards"]["balance"]["amount"] == "3.00"
    assert await RewardEntry.filter(kind="ISSUED").count() == 1


# --------------------------------------------------------------------------------------
# Opt-ins and marketing email
# --------------------------------------------------------------------------------------


async def test_opt_ins_default_off_and_are_journaled_with_source(
    as_admin: Api, api: Api, recorder: Recorder
) -> None:
    ada = await contact(as_admin, "Ada")
    before = await card(as_admin, ada)
    assert before["privacyOptIn"] == {"optedIn": False, "at": None, "source": None}
    assert before["communicationOptIn"] == {"optedIn": False, "at": None, "source": None}
    done = (
        await as_admin.data(
            OPT_INS, {"input": {"contactId": ada, "communication": {"optedIn": True, "source": "IMPORT"}}}
        )
    )["setOptIns"]
    assert done["communicationOptIn"]["optedIn"] is True and done["communicationOptIn"]["source"] == "IMPORT"
    assert done["privacyOptIn"]["optedIn"] is False
    await drain(api)
    (event,) = recorder.take("opt_in_changed")
    assert event.changes == {
        "communicationOptIn": [False, True],
        "communicationOptInSource": [None, "IMPORT"],
    }
    assert event.contact.communication_opt_in is True and event.contact.privacy_opt_in is False
    # The same again changes nothing; an opt-out is journaled.
    await as_admin.data(OPT_INS, {"input": {"contactId": ada, "communication": {"optedIn": True}}})
    await as_admin.data(OPT_INS, {"input": {"contactId": ada, "communication": {"optedIn": False}}})
    await drain(api)
    (event,) = recorder.take("opt_in_changed")
    assert event.changes["communicationOptIn"] == [True, False]
    assert event.changes["communicationOptInSource"] == ["IMPORT", "USER"]
    assert len(entries(await card(as_admin, ada), "OPT_IN_CHANGED")) == 2
    # Nothing given: refused.
    error = (await as_admin.post(OPT_INS, {"input": {"contactId": ada}}))["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    # A lead's consents: source FORM.
    await as_admin.data(
        SUBMIT,
        {
            "input": {
                "formName": "News",
                "email": "bo@example.com",
                "communicationOptIn": True,
                "privacyOptIn": False,
            }
        },
    )
    bo = await Contact.get(email="bo@example.com")
    assert bo.communication_opt_in is True and bo.communication_opt_in_source == "FORM"
    assert bo.privacy_opt_in is False and bo.privacy_opt_in_at is None


class Marketer:
    """A partner's marketing plugin: when a contact opts in, it sends the welcome newsletter
    through the public send path; it also tries a contact who never opted in."""

    name = "marketer"

    def __init__(self) -> None:
        self.refusals: list[str] = []
        self.sent: list[int] = []
        self.seen: list[bool] = []

    @hookimpl
    async def opt_in_changed(self, event: CardEvent) -> None:
        self.seen.append(event.contact.communication_opt_in)
        actor = Actor.plugin(event.account_id, self.name)
        if event.contact.communication_opt_in:
            message = await message_service.queue_email(
                actor, event.contact_id, "Welcome", "Our spring offers", marketing=True
            )
            self.sent.append(message.id)
        try:
            await message_service.queue_email(
                actor, event.contact_id, "Offers", "More offers", marketing=True
            )
        except BadInput as exc:
            self.refusals.append(exc.message)


async def test_marketing_email_needs_the_communication_opt_in(running_app: AppFactory) -> None:
    marketer = Marketer()
    with FakeSmtpServer() as smtp:
        async with running_app(plugins=(marketer,), env=smtp.env(), disabled_plugins=()) as started:
            tenant = await make_tenant("Acme")
            api = started.as_(tenant.admin_key)
            ada = await contact(api, "Ada", email="ada@example.com")
            send = {"contactId": ada, "subject": "Spring sale", "body": "20% off", "marketing": True}
            error = (await api.post(SEND_EMAIL, {"input": send}))["errors"][0]
            assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "marketing"}
            assert "communicationOptIn" in error["message"]
            # A personal email needs no opt-in.
            personal = await api.data(SEND_EMAIL, {"input": {**send, "marketing": False}})
            assert personal["sendEmail"]["status"] == "QUEUED"
            # Through a plugin: after opting in its marketing send goes out; after opting out it is refused.
            await api.data(OPT_INS, {"input": {"contactId": ada, "communication": {"optedIn": True}}})
            await started.runtime.dispatcher.drain()
            assert marketer.seen == [True] and len(marketer.sent) == 1 and marketer.refusals == []
            assert (await api.data(SEND_EMAIL, {"input": send}))["sendEmail"]["status"] == "QUEUED"
            await api.data(OPT_INS, {"input": {"contactId": ada, "communication": {"optedIn": False}}})
            await started.runtime.dispatcher.drain()
            assert marketer.seen == [True, False] and len(marketer.sent) == 1
            assert len(marketer.refusals) == 1 and "communicationOptIn" in marketer.refusals[0]


# --------------------------------------------------------------------------------------
# The migration's backfill
# --------------------------------------------------------------------------------------


async def test_the_migration_backfills_codes_for_existing_contacts(as_admin: Api) -> None:
    import importlib

    from tortoise import Tortoise

    migration = importlib.import_module("crm.migrations.0016_referrals_rewards")
    ids = [db_id(await contact(as_admin, name)) for name in ("Ada", "Bo", "Cy")]
    await Contact.filter(id__in=ids[:2]).update(referral_code=None)
    kept = (await Contact.get(id=ids[2])).referral_code

    class Editor:
        client = Tortoise.get_connection("default")

    await migration.backfill_referral_codes(None, Editor())
    codes = await Contact.filter(id__in=ids).order_by("id").values_list("referral_code", flat=True)
    assert None not in codes and len(set(codes)) == 3 and codes[2] == kept


# --------------------------------------------------------------------------------------
# The README's example and the demo
# --------------------------------------------------------------------------------------


async def test_the_readme_example_runs(as_admin: Api) -> None:
    import re
    from pathlib import Path

    text = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text()
    section = text.split("### Referrals, rewards and opt-ins", 1)[1].split("\n### ", 1)[0]
    (example,) = re.findall(r"```graphql\n(.*?)```", section, flags=re.DOTALL)
    ada = await contact(as_admin, "Ada")
    assert ada == "Q29udGFjdDox"  # the id the example names: the account's first contact
    data = (await as_admin.data(example))["earnReward"]
    assert data["entry"] == {
        "kind": "EARNED",
        "direct": True,
        "amount": {"amount": "25.00", "currency": "USD"},
    }
    assert data["contact"]["rewards"]["balance"] == {"amount": "25.00", "currency": "USD"}
    assert data["contact"]["rewards"]["toBeIssued"] == {"amount": "25.00"}  # direct: at once
    assert data["contact"]["referral"]["referralLink"].startswith("https://crm.example.com/r/")


async def test_the_demo_fills_referrals_rewards_and_opt_ins(api: Api) -> None:
    from dossier.demo import DEMO_ACCOUNT, ensure_demo

    await ensure_demo(contacts=60, rich=12)
    account = await Account.get(name=DEMO_ACCOUNT)
    assert account.referral_landing_url == "https://example.com/refer"
    invited = await Contact.filter(account_id=account.id, inviter_id__isnull=False).values("id", "inviter_id")
    inviters = {row["inviter_id"] for row in invited}
    assert len(invited) >= 12 and len(inviters) >= 6
    # A chain: an inviter who was invited too.
    assert inviters & {row["id"] for row in invited}
    kinds = set(await RewardEntry.filter(account_id=account.id).values_list("kind", flat=True))
    assert kinds == {"EARNED", "ISSUED", "PROMO_REDEEMED"}
    assert await Contact.filter(account_id=account.id, communication_opt_in=True).count() >= 6


# --------------------------------------------------------------------------------------
# Merges and referrals
# --------------------------------------------------------------------------------------

MERGE = """
mutation($i: MergeContactsInput!) {
  mergeContacts(input: $i) {
    contact {
      id referral { inviter { id } }
      journey(first: 1) { nodes { kind changes { field before after } } }
    }
    merge { id moved { kind count } filled { field fromContactId value } }
  }
}
"""
UNMERGE = """
mutation($i: UnmergeContactsInput!) {
  unmergeContacts(input: $i) {
    contacts { id } merge { undoneAt }
  }
}
"""


async def inviters(*contact_ids: str) -> list[int | None]:
    from crm.models.contacts import every_contact

    rows = dict(
        await every_contact().filter(id__in=[db_id(i) for i in contact_ids]).values_list("id", "inviter_id")
    )
    return [rows[db_id(i)] for i in contact_ids]


async def merge(api: Api, primary: str, *duplicates: str) -> dict[str, Any]:
    return (await api.data(MERGE, {"i": {"primaryId": primary, "duplicateIds": list(duplicates)}}))[
        "mergeContacts"
    ]


async def test_a_merge_moves_the_invited_and_the_inviter_and_undo_gives_them_back(
    as_admin: Api, api: Api, recorder: Recorder
) -> None:
    ana, bea, cy, dee, eve = [await contact(as_admin, n) for n in ("Ana", "Bea", "Cy", "Dee", "Eve")]
    for invited, inviter in ((cy, bea), (dee, bea), (bea, eve)):
        await set_inviter(as_admin, invited, inviter)
    bea_code = (await card(as_admin, bea))["referral"]["referralCode"]
    await as_admin.data(SETTINGS, {"input": {"referralLandingUrl": "https://example.com/refer"}})

    done = await merge(as_admin, ana, bea)
    # Bea's invited now point at Ana; Ana had no inviter: she takes Bea's (fill-empty).
    assert await inviters(cy, dee, ana) == [db_id(ana), db_id(ana), db_id(eve)]
    assert done["contact"]["referral"]["inviter"] == {"id": eve}
    assert {"kind": "InvitedContact", "count": 2} in done["merge"]["moved"]
    assert {"field": "inviter", "fromContactId": bea, "value": eve} in done["merge"]["filled"]
    (entry,) = done["contact"]["journey"]["nodes"]
    assert entry["kind"] == "CONTACTS_MERGED"
    assert changes_of(entry)["inviter"] == [None, {"id": db_id(eve), "name": "Eve Lee"}]
    ana_card = await card(as_admin, ana)
    assert {e["node"]["id"] for e in ana_card["referral"]["invited"]["edges"]} == {cy, dee}

    # Bea's code, while she is absorbed, attributes to Ana: the link and a lead.
    response = await as_admin.client.get(f"/r/{bea_code}")
    assert response.status_code == 302 and response.headers["location"].endswith(f"ref={bea_code}")
    lead = await as_admin.data(
        SUBMIT, {"input": {"formName": "Quote", "email": "fay@example.com", "referralCode": bea_code}}
    )
    fay = lead["submitLead"]["lead"]["contact"]["id"]
    assert await inviters(fay) == [db_id(ana)]
    await drain(api)
    assert recorder.take("lead_submitted")[0].subject["referral"] == {
        "code": bea_code,
        "outcome": "ATTRIBUTED",
    }

    # Undo: Bea's invited and Ana's inviter go back; Fay came after the merge and stays with Ana.
    merge_id = done["merge"]["id"]
    await as_admin.data(UNMERGE, {"i": {"mergeId": merge_id}})
    assert await inviters(cy, dee, ana, bea, fay) == [db_id(bea), db_id(bea), None, db_id(eve), db_id(ana)]
    unmerged = entries(await card(as_admin, ana), "CONTACT_UNMERGED")[0]
    assert changes_of(unmerged)["inviter"] == [{"id": db_id(eve), "name": "Eve Lee"}, None]
    # Bea's code is hers again.
    lead = await as_admin.data(
        SUBMIT, {"input": {"formName": "Quote", "email": "gus@example.com", "referralCode": bea_code}}
    )
    assert await inviters(lead["submitLead"]["lead"]["contact"]["id"]) == [db_id(bea)]


async def test_a_merge_never_makes_the_primary_its_own_inviter(as_admin: Api) -> None:
    ana, bea, cal, ivy, kim = [await contact(as_admin, n) for n in ("Ana", "Bea", "Cal", "Ivy", "Kim")]
    # Bea invited Ana; Ana keeps her own inviter only where it is not Bea: here it is cleared,
    # and Ana takes Bea's inviter (Cal) instead.
    await set_inviter(as_admin, ana, bea)
    await set_inviter(as_admin, bea, cal)
    done = await merge(as_admin, ana, bea)
    assert await inviters(ana) == [db_id(cal)]
    assert changes_of(done["contact"]["journey"]["nodes"][0])["inviter"] == [
        {"id": db_id(bea), "name": "Bea Lee"},
        {"id": db_id(cal), "name": "Cal Lee"},
    ]
    await as_admin.data(UNMERGE, {"i": {"mergeId": done["merge"]["id"]}})
    assert await inviters(ana, bea) == [db_id(bea), db_id(cal)]

    # Bea invited Ivy, Ivy invited Kim; Kim absorbs Bea: Ivy now points at Kim, so Kim's inviter
    # (Ivy) would be a cycle: cleared, and put back by the undo.
    await set_inviter(as_admin, ivy, bea)
    await set_inviter(as_admin, kim, ivy)
    await set_inviter(as_admin, bea, None)  # nothing for Kim to take instead
    done = await merge(as_admin, kim, bea)
    assert await inviters(kim, ivy) == [None, db_id(kim)]
    assert {"field": "inviter", "fromContactId": bea, "value": None} in done["merge"]["filled"]
    await as_admin.data(UNMERGE, {"i": {"mergeId": done["merge"]["id"]}})
    assert await inviters(kim, ivy, bea) == [db_id(ivy), db_id(bea), None]

    # Kim's own inviter would be a cycle, but Bea has another one (Cal): Kim takes hers.
    await set_inviter(as_admin, bea, cal)
    done = await merge(as_admin, kim, bea)
    assert await inviters(kim, ivy) == [db_id(cal), db_id(kim)]
    assert {"field": "inviter", "fromContactId": bea, "value": cal} in done["merge"]["filled"]
    await as_admin.data(UNMERGE, {"i": {"mergeId": done["merge"]["id"]}})
    assert await inviters(kim, ivy, bea) == [db_id(ivy), db_id(bea), db_id(cal)]

    # Ana keeps her own inviter (Cal); Bea's is not taken.
    await set_inviter(as_admin, ana, cal)
    lou = await contact(as_admin, "Lou")
    assert "errors" not in await set_inviter(as_admin, bea, lou)
    done = await merge(as_admin, ana, bea)
    assert await inviters(ana, bea) == [db_id(cal), db_id(lou)]
    assert all(f["field"] != "inviter" for f in done["merge"]["filled"])


async def test_undo_refuses_when_a_moved_invitation_was_changed_since(as_admin: Api) -> None:
    ana, bea, cy, dan = [await contact(as_admin, n) for n in ("Ana", "Bea", "Cy", "Dan")]
    await set_inviter(as_admin, cy, bea)
    done = await merge(as_admin, ana, bea)
    await set_inviter(as_admin, cy, dan)
    body = await as_admin.post(UNMERGE, {"i": {"mergeId": done["merge"]["id"]}})
    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONFLICT"
    assert "inviter" in error["message"] and "set its inviter back" in error["message"]
    assert await inviters(cy) == [db_id(dan)]
    from crm.models.contacts import every_contact

    assert (await every_contact().get(id=db_id(bea))).merged_into_id == db_id(ana)  # type: ignore[attr-defined]
    # Set back: the undo goes through.
    await set_inviter(as_admin, cy, ana)
    await as_admin.data(UNMERGE, {"i": {"mergeId": done["merge"]["id"]}})
    assert await inviters(cy) == [db_id(bea)]


async def test_direct_rewards_and_moved_invitations_answer_the_same_on_both_executors(as_admin: Api) -> None:
    from tests.test_fast_execution import both_over_http

    ana, bea, cy = [await contact(as_admin, n) for n in ("Ana", "Bea", "Cy")]
    await as_admin.data(EARN, {"input": {"contactId": ana, "amount": "3", "reason": "x", "direct": True}})
    await as_admin.data(EARN, {"input": {"contactId": ana, "amount": "4", "reason": "y"}})
    await set_inviter(as_admin, cy, bea)
    await merge(as_admin, ana, bea)
    query = """
    query($id: ID!) {
      contact(id: $id) {
        rewards { toBeIssued { amount } ledger(first: 5) { edges { node { kind direct } } } }
        referral { invited(first: 5) { edges { node { id } } } }
        merges(first: 2) { moved { kind count } filled { field value } }
      }
      gone: contact(id: "%s") { id }
    }
    """.replace("%s", bea)
    plain, fast = await both_over_http(as_admin, query, {"id": ana})
    assert plain == fast
    data = plain["data"]["contact"]
    assert data["rewards"]["toBeIssued"] == {"amount": "3.00"}
    assert [e["node"]["direct"] for e in data["rewards"]["ledger"]["edges"]] == [False, True]
    assert data["referral"]["invited"]["edges"] == [{"node": {"id": cy}}]
    assert plain["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # Bea is absorbed
