"""Leads (D1, A7, A11, E4): submitLead matches contacts, marks duplicates, makes Guests, fills
empty fields; the card's leads, answers, UTMs and first/last touch; forms; the root list."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.events import AccountEvent, CardEvent
from crm.models import Contact as ContactModel
from crm.models import Lead as LeadModel
from crm.services import leads as lead_service
from dossier import Settings
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant

SUBMIT = """
mutation($input: SubmitLeadInput!) {
  submitLead(input: $input) {
    createdContact
    lead {
      id status matchReason formName variant ipAddress referrer submittedAt identity
      answers { question answer form }
      utms { source medium campaign }
      contact { id displayName email phone firstName lastName address { city } }
    }
  }
}
"""
CARD = """
query($id: ID!) {
  contact(id: $id) {
    id displayName firstName email phone
    leads { id status matchReason formName submittedAt answers { question answer } utms { source } }
    formAnswers { question answer form }
    utms { source campaign }
    firstTouch { formName variant submittedAt utm { source campaign } lead { id } }
    lastTouch { formName variant submittedAt utm { source campaign } lead { id } }
    journey(first: 20, kinds: [LEAD_SUBMITTED, CONTACT_CREATED]) {
      nodes { kind summary changes { field before after } }
    }
  }
}
"""
ROOT = """
query($first: Int!, $after: String, $formName: String, $status: LeadStatus) {
  leads(first: $first, after: $after, formName: $formName, status: $status) {
    edges { cursor node { id formName status contact { id } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
FUTURE = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
CREATE_CONTACT = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
CREATE_FORM = (
    "mutation($input: CreateFormInput!) { createForm(input: $input) { id name key intakeUrl revokedAt } }"
)
REVOKE_FORM = "mutation($input: RevokeFormInput!) { revokeForm(input: $input) { id revokedAt } }"


async def submit(api: Api, **fields: Any) -> dict[str, Any]:
    payload = {"formName": "Contact us", **fields}
    return (await api.data(SUBMIT, {"input": payload}))["submitLead"]


async def card(api: Api, contact_id: str) -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id}))["contact"]


async def contact_count() -> int:
    return await ContactModel.all().count()


# --------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------


async def test_a_new_person_makes_a_contact(as_admin: Api) -> None:
    result = await submit(
        as_admin,
        firstName="Ada",
        email="ada@example.com",
        phone="+1 415 555 0123",
        variant="B",
        referrer="https://ads.example.com/landing",
        ipAddress="203.0.113.7",
        answers=[{"question": "Budget?", "answer": "10k"}],
        utm={"source": "google", "medium": "cpc", "campaign": "spring"},
    )
    lead = result["lead"]
    assert result["createdContact"] is True
    assert lead["status"] == "NEW" and lead["matchReason"] == "NEW"
    assert lead["variant"] == "B" and lead["ipAddress"] == "203.0.113.7"
    assert lead["referrer"] == "https://ads.example.com/landing"
    assert lead["identity"] == {
        "firstName": "Ada", "email": "ada@example.com", "phone": "+14155550123", "ipAddress": "203.0.113.7"
    }  # fmt: skip
    assert lead["answers"] == [{"question": "Budget?", "answer": "10k", "form": "Contact us"}]
    assert lead["utms"] == [{"source": "google", "medium": "cpc", "campaign": "spring"}]
    assert lead["contact"]["email"] == "ada@example.com" and lead["contact"]["phone"] == "+14155550123"
    shown = await card(as_admin, lead["contact"]["id"])
    kinds = [e["kind"] for e in shown["journey"]["nodes"]]
    assert kinds == ["LEAD_SUBMITTED", "CONTACT_CREATED"]
    assert "a new contact" in shown["journey"]["nodes"][0]["summary"]


async def test_matched_by_email(as_admin: Api) -> None:
    existing = await as_admin.data(
        CREATE_CONTACT, {"input": {"firstName": "Ada", "email": "ada@example.com"}}
    )
    contact_id = existing["createContact"]["id"]
    result = await submit(as_admin, email="  ada@EXAMPLE.com ")
    assert result["createdContact"] is False
    assert result["lead"]["matchReason"] == "EMAIL"
    assert result["lead"]["contact"]["id"] == contact_id
    assert await contact_count() == 1


async def test_matched_by_phone_in_another_format(as_admin: Api) -> None:
    existing = await as_admin.data(CREATE_CONTACT, {"input": {"firstName": "Bo", "phone": "+14155550123"}})
    contact_id = existing["createContact"]["id"]
    for i, spelling in enumerate(("(415) 555-0123", "415.555.0123", "+1 415 555 0123", "1-415-555-0123")):
        result = await submit(as_admin, phone=spelling, answers=[{"question": "n", "answer": str(i)}])
        assert result["lead"]["matchReason"] == "PHONE", spelling
        assert result["lead"]["contact"]["id"] == contact_id
    assert await contact_count() == 1


async def test_matched_by_email_and_phone(as_admin: Api) -> None:
    existing = await as_admin.data(
        CREATE_CONTACT, {"input": {"firstName": "Cy", "email": "cy@example.com", "phone": "+14155550199"}}
    )
    result = await submit(as_admin, email="cy@example.com", phone="415 555 0199")
    assert result["lead"]["matchReason"] == "EMAIL_AND_PHONE"
    assert result["lead"]["contact"]["id"] == existing["createContact"]["id"]


async def test_email_wins_when_email_and_phone_name_two_contacts(as_admin: Api) -> None:
    by_email = await as_admin.data(CREATE_CONTACT, {"input": {"email": "dee@example.com"}})
    await as_admin.data(CREATE_CONTACT, {"input": {"phone": "+14155550111"}})
    result = await submit(as_admin, email="dee@example.com", phone="+14155550111")
    assert result["lead"]["matchReason"] == "EMAIL"
    assert result["lead"]["contact"]["id"] == by_email["createContact"]["id"]
    # The email's contact had no phone: the lead's phone fills it, though another contact has it.
    assert result["lead"]["contact"]["phone"] == "+14155550111"


async def test_another_accounts_contact_is_never_matched(api: Api, acme: Tenant, globex: Tenant) -> None:
    await api.as_(globex.admin_key).data(CREATE_CONTACT, {"input": {"email": "eve@example.com"}})
    result = await submit(api.as_(acme.admin_key), email="eve@example.com")
    assert result["lead"]["matchReason"] == "NEW" and result["createdContact"] is True


async def test_a_rep_may_submit_leads(api: Api, acme: Tenant) -> None:
    result = await submit(api.as_(acme.rep_key), email="rep-lead@example.com")
    assert result["lead"]["status"] == "NEW"


# --------------------------------------------------------------------------------------
# Filling, never overwriting
# --------------------------------------------------------------------------------------


async def test_a_later_lead_fills_empty_fields_and_never_overwrites(as_admin: Api) -> None:
    existing = await as_admin.data(
        CREATE_CONTACT, {"input": {"firstName": "Ada", "email": "ada@example.com"}}
    )
    contact_id = existing["createContact"]["id"]
    result = await submit(
        as_admin, email="ada@example.com", firstName="Adelaide", lastName="Lovelace",
        address={"city": "London"},
    )  # fmt: skip
    contact = result["lead"]["contact"]
    assert contact["firstName"] == "Ada"  # kept
    assert contact["lastName"] == "Lovelace" and contact["address"]["city"] == "London"  # filled
    assert result["lead"]["identity"]["firstName"] == "Adelaide"  # what the form said is kept
    event = (await card(as_admin, contact_id))["journey"]["nodes"][0]
    assert event["kind"] == "LEAD_SUBMITTED"
    changes = {c["field"]: [c["before"], c["after"]] for c in event["changes"]}
    assert changes == {"lastName": [None, "Lovelace"], "city": [None, "London"]}
    assert "filled lastName, city" in event["summary"]


# --------------------------------------------------------------------------------------
# Duplicates
# --------------------------------------------------------------------------------------


async def test_the_same_answers_within_the_window_are_a_duplicate_kept(as_admin: Api) -> None:
    answers = [{"question": "Budget?", "answer": "10k"}, {"question": "When?", "answer": "May"}]
    first = await submit(as_admin, email="ada@example.com", answers=answers)
    again = await submit(as_admin, email="ada@example.com", answers=list(reversed(answers)))
    assert first["lead"]["status"] == "NEW"
    assert again["lead"]["status"] == "DUPLICATE" and again["lead"]["matchReason"] == "EMAIL"
    other_answers = await submit(
        as_admin, email="ada@example.com", answers=[{"question": "Budget?", "answer": "20k"}]
    )
    other_form = await submit(as_admin, email="ada@example.com", answers=answers, formName="Pricing")
    assert other_answers["lead"]["status"] == "NEW" and other_form["lead"]["status"] == "NEW"
    shown = await card(as_admin, first["lead"]["contact"]["id"])
    assert [lead["status"] for lead in shown["leads"]].count("DUPLICATE") == 1
    assert len(shown["leads"]) == 4  # stored and shown, never dropped
    # formAnswers still lists every lead's answers, duplicates included.
    assert len(shown["formAnswers"]) == 2 + 2 + 1 + 2
    assert "duplicate" in shown["journey"]["nodes"][2]["summary"]


async def test_outside_the_window_is_new(as_admin: Api) -> None:
    old = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    answers = [{"question": "Budget?", "answer": "10k"}]
    await submit(as_admin, email="ada@example.com", answers=answers, submittedAt=old)
    later = await submit(as_admin, email="ada@example.com", answers=answers)
    assert later["lead"]["status"] == "NEW"
    inside = (datetime.now(UTC) - timedelta(hours=23)).isoformat()
    backfilled = await submit(as_admin, email="ada@example.com", answers=answers, submittedAt=inside)
    assert backfilled["lead"]["status"] == "DUPLICATE"


async def test_the_window_is_configurable(running_app: AppFactory) -> None:
    async with running_app(lead_duplicate_window=60.0) as api:
        admin = api.as_((await make_tenant("Acme")).admin_key)
        answers = [{"question": "q", "answer": "a"}]
        two_minutes_ago = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
        await submit(admin, email="ada@example.com", answers=answers, submittedAt=two_minutes_ago)
        assert (await submit(admin, email="ada@example.com", answers=answers))["lead"]["status"] == "NEW"
        assert (await submit(admin, email="ada@example.com", answers=answers))["lead"][
            "status"
        ] == "DUPLICATE"


def test_the_window_setting_reads_durations() -> None:
    env = {"DOSSIER_LEAD_DUPLICATE_WINDOW": "2h"}
    assert Settings.from_env(env).lead_duplicate_window == 7200
    assert Settings.from_env({"DOSSIER_LEAD_DUPLICATE_WINDOW": "90"}).lead_duplicate_window == 90
    assert Settings.from_env({}).lead_duplicate_window == 24 * 3600
    with pytest.raises(ValueError, match="not a duration"):
        Settings.from_env({"DOSSIER_LEAD_DUPLICATE_WINDOW": "soon"})


# --------------------------------------------------------------------------------------
# Guest (E4)
# --------------------------------------------------------------------------------------


async def test_a_lead_without_name_email_or_phone_makes_a_guest_until_named(as_admin: Api) -> None:
    result = await submit(as_admin, answers=[{"question": "Rating", "answer": "5"}])
    contact = result["lead"]["contact"]
    assert result["createdContact"] is True and contact["displayName"] == "Guest"
    # Guests are not matched to each other: each anonymous submission is its own contact.
    second = await submit(as_admin, answers=[{"question": "Rating", "answer": "5"}])
    assert second["lead"]["contact"]["id"] != contact["id"]
    # An edit that does not name it is allowed; one that names it ends "Guest".
    update = """mutation($input: UpdateContactInput!) {
      updateContact(input: $input) { displayName address { city } }
    }"""
    edited = await as_admin.data(update, {"input": {"id": contact["id"], "address": {"city": "Oslo"}}})
    assert edited["updateContact"] == {"displayName": "Guest", "address": {"city": "Oslo"}}
    named = await as_admin.data(update, {"input": {"id": contact["id"], "firstName": "Ola"}})
    assert named["updateContact"]["displayName"] == "Ola"
    # Once named, the last identifier cannot be taken away again.
    error = await as_admin.error(update, {"input": {"id": contact["id"], "firstName": None}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


# --------------------------------------------------------------------------------------
# Bad input changes nothing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"formName": "  "}, "formName", "cannot be empty"),
        ({"formName": "x" * 201}, "formName", "limit is 200"),
        ({"email": "not-an-email"}, "email", "not a valid email"),
        ({"phone": "12"}, "phone", "phone"),
        ({"ipAddress": "999.1.1.1"}, "ipAddress", "IPv4 or IPv6"),
        ({"variant": "v" * 201}, "variant", "limit is 200"),
        ({"referrer": "r" * 1001}, "referrer", "limit is 1000"),
        ({"referrer": "a\u202eb"}, "referrer", "invisible or control"),
        ({"answers": [{"question": " ", "answer": "x"}]}, "formAnswers.question", "cannot be empty"),
        ({"answers": [{"question": "q", "answer": "a"}] * 101}, "formAnswers", "at most 100"),
        ({"utm": {"source": "s" * 201}}, "utm.source", "limit is 200"),
        ({"submittedAt": FUTURE}, "submittedAt", "in the future"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    as_admin: Api, fields: dict[str, Any], field: str, words: str
) -> None:
    before = await contact_count()
    payload = {"formName": "Contact us", "email": "ok@example.com", **fields}
    error = await as_admin.error(SUBMIT, {"input": payload})
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert words in error["message"]
    assert error["extensions"].get("field") in (field, None)
    assert await contact_count() == before and await LeadModel.all().count() == 0


async def test_unauthenticated_submit_is_refused(api: Api) -> None:
    error = await api.error(SUBMIT, {"input": {"formName": "x", "email": "a@example.com"}})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


# --------------------------------------------------------------------------------------
# The card and the root list
# --------------------------------------------------------------------------------------


async def test_first_and_last_touch_and_the_card_lists(as_admin: Api) -> None:
    earlier = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    first = await submit(
        as_admin, formName="Webinar", variant="A", email="ada@example.com", submittedAt=earlier.isoformat(),
        utm={"source": "newsletter", "campaign": "q1"}, answers=[{"question": "Topic", "answer": "CRM"}],
    )  # fmt: skip
    last = await submit(
        as_admin, formName="Pricing", phone="+14155550123", email="ada@example.com",
        utm={"source": "google", "campaign": "brand"},
    )  # fmt: skip
    shown = await card(as_admin, first["lead"]["contact"]["id"])
    assert shown["firstTouch"]["formName"] == "Webinar" and shown["firstTouch"]["variant"] == "A"
    assert shown["firstTouch"]["utm"] == {"source": "newsletter", "campaign": "q1"}
    assert shown["firstTouch"]["lead"]["id"] == first["lead"]["id"]
    assert datetime.fromisoformat(shown["firstTouch"]["submittedAt"]) == earlier
    assert shown["lastTouch"]["formName"] == "Pricing"
    assert shown["lastTouch"]["utm"] == {"source": "google", "campaign": "brand"}
    assert shown["lastTouch"]["lead"]["id"] == last["lead"]["id"]
    assert [lead["id"] for lead in shown["leads"]] == [last["lead"]["id"], first["lead"]["id"]]
    assert shown["leads"][1]["answers"] == [{"question": "Topic", "answer": "CRM"}]
    assert {u["source"] for u in shown["utms"]} == {"newsletter", "google"}
    assert shown["formAnswers"] == [{"question": "Topic", "answer": "CRM", "form": "Webinar"}]
    # Pages with `after`.
    page = await as_admin.data(
        "query($id: ID!, $after: ID) { contact(id: $id) { leads(first: 1, after: $after) { id } } }",
        {"id": shown["id"], "after": last["lead"]["id"]},
    )
    assert page["contact"]["leads"] == [{"id": first["lead"]["id"]}]


async def test_a_contact_without_leads_has_no_touches(as_admin: Api) -> None:
    made = await as_admin.data(CREATE_CONTACT, {"input": {"firstName": "Nolead"}})
    shown = await card(as_admin, made["createContact"]["id"])
    assert shown["leads"] == [] and shown["firstTouch"] is None and shown["lastTouch"] is None


async def test_root_leads_filter_and_page(as_admin: Api) -> None:
    answers = [{"question": "q", "answer": "a"}]
    ids = []
    for i in range(3):
        ids.append(
            (await submit(as_admin, formName="Webinar", email=f"p{i}@example.com", answers=answers))["lead"][
                "id"
            ]
        )
    dup = await submit(as_admin, formName="Webinar", email="p0@example.com", answers=answers)
    await submit(as_admin, formName="Pricing", email="p9@example.com")
    page = (await as_admin.data(ROOT, {"first": 2, "formName": "Webinar"}))["leads"]
    assert [e["node"]["id"] for e in page["edges"]] == [dup["lead"]["id"], ids[2]]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await as_admin.data(
        ROOT, {"first": 10, "formName": "Webinar", "after": page["pageInfo"]["endCursor"]}
    )
    assert [e["node"]["id"] for e in rest["leads"]["edges"]] == [ids[1], ids[0]]
    dups = (await as_admin.data(ROOT, {"first": 10, "status": "DUPLICATE"}))["leads"]["edges"]
    assert [e["node"]["id"] for e in dups] == [dup["lead"]["id"]]
    everything = (await as_admin.data(ROOT, {"first": 100}))["leads"]["edges"]
    assert len(everything) == 5
    error = await as_admin.error(ROOT, {"first": 101})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await as_admin.error(ROOT, {"first": 5, "after": "bogus"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_leads_of_another_account_stay_hidden(api: Api, acme: Tenant, globex: Tenant) -> None:
    theirs = await submit(api.as_(globex.admin_key), email="g@example.com")
    mine = api.as_(acme.admin_key)
    assert (await mine.data(ROOT, {"first": 10}))["leads"]["edges"] == []
    error = await mine.error("query($id: ID!) { node(id: $id) { id } }", {"id": theirs["lead"]["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"
    found = await api.as_(globex.admin_key).data(
        "query($id: ID!) { node(id: $id) { ... on Lead { formName } } }", {"id": theirs["lead"]["id"]}
    )
    assert found["node"] == {"formName": "Contact us"}


# --------------------------------------------------------------------------------------
# Forms
# --------------------------------------------------------------------------------------


async def test_admins_create_and_revoke_forms(api: Api, acme: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    form = (await admin.data(CREATE_FORM, {"input": {"name": "Contact us"}}))["createForm"]
    assert form["name"] == "Contact us" and len(form["key"]) >= 32
    assert form["intakeUrl"] == f"http://dossier.test/forms/{form['key']}"
    other = (await admin.data(CREATE_FORM, {"input": {"name": "Contact us"}}))["createForm"]
    assert other["key"] != form["key"]
    for key in (acme.manager_key, acme.rep_key):
        error = await api.as_(key).error(CREATE_FORM, {"input": {"name": "Sneaky"}})
        assert error["extensions"]["code"] == "FORBIDDEN"
        error = await api.as_(key).error(REVOKE_FORM, {"input": {"id": form["id"]}})
        assert error["extensions"]["code"] == "FORBIDDEN"
        error = await api.as_(key).error("query($id: ID!) { node(id: $id) { id } }", {"id": form["id"]})
        assert error["extensions"]["code"] == "FORBIDDEN"
    revoked = (await admin.data(REVOKE_FORM, {"input": {"id": form["id"]}}))["revokeForm"]
    assert revoked["revokedAt"] is not None
    again = (await admin.data(REVOKE_FORM, {"input": {"id": form["id"]}}))["revokeForm"]
    assert again["revokedAt"] == revoked["revokedAt"]  # idempotent
    listed = (await admin.data("{ forms { id revokedAt } }"))["forms"]
    assert [f["id"] for f in listed] == [other["id"], form["id"]]
    error = await admin.error(CREATE_FORM, {"input": {"name": "  "}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_forms_of_another_account_cannot_be_revoked(api: Api, acme: Tenant, globex: Tenant) -> None:
    theirs = (await api.as_(globex.admin_key).data(CREATE_FORM, {"input": {"name": "Theirs"}}))["createForm"]
    error = await api.as_(acme.admin_key).error(REVOKE_FORM, {"input": {"id": theirs["id"]}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await lead_service.live_form(theirs["key"]) is not None


async def test_the_intake_url_follows_the_public_url(running_app: AppFactory) -> None:
    async with running_app(public_url="https://crm.example.com/") as api:
        admin = api.as_((await make_tenant("Acme")).admin_key)
        form = (await admin.data(CREATE_FORM, {"input": {"name": "Demo"}}))["createForm"]
        assert form["intakeUrl"] == f"https://crm.example.com/forms/{form['key']}"


# --------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------


class LeadRecorder:
    name = "lead-recorder"

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def lead_submitted(self, event: CardEvent) -> None:
        self.events.append(("lead_submitted", event))

    @hookimpl
    def contact_created(self, event: CardEvent) -> None:
        self.events.append(("contact_created", event))

    @hookimpl
    def form_created(self, event: AccountEvent) -> None:
        self.events.append(("form_created", event))

    @hookimpl
    def form_revoked(self, event: AccountEvent) -> None:
        self.events.append(("form_revoked", event))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The hook test counts its own plugin's calls: no built-in may subscribe."""
    return replace(settings, disabled_plugins=builtin_names())


async def test_hooks_fire_after_commit(running_app: AppFactory) -> None:
    recorder = LeadRecorder()
    async with running_app(plugins=(recorder,)) as api:
        admin = api.as_((await make_tenant("Acme")).admin_key)
        made = await submit(admin, email="ada@example.com", answers=[{"question": "q", "answer": "a"}])
        await submit(admin, email="ada@example.com", answers=[{"question": "q", "answer": "a"}])
        form = (await admin.data(CREATE_FORM, {"input": {"name": "Web"}}))["createForm"]
        await admin.data(REVOKE_FORM, {"input": {"id": form["id"]}})
        await admin.data(REVOKE_FORM, {"input": {"id": form["id"]}})  # fires nothing again
        await api.runtime.dispatcher.drain()
    hooks = [hook for hook, _ in recorder.events]
    assert sorted(hooks) == sorted(
        ["contact_created", "lead_submitted", "lead_submitted", "form_created", "form_revoked"]
    )
    leads = [e for hook, e in recorder.events if hook == "lead_submitted"]
    statuses = sorted(e.subject["status"] for e in leads)
    assert statuses == ["DUPLICATE", "NEW"]
    assert all(e.subject["matchReason"] in ("NEW", "EMAIL") for e in leads)
    assert leads[0].subject_type == "Lead" and leads[0].subject["formAnswers"][0]["question"] == "q"
    assert {e.contact_id for e in leads} == {int(_db_id(made["lead"]["contact"]["id"]))}
    created = next(e for hook, e in recorder.events if hook == "form_created")
    assert created.subject == {"name": "Web", "revokedAt": None}
    assert form["key"] not in repr(created)


def _db_id(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":", 1)[1]


# --------------------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------------------


async def test_the_demo_has_leads_duplicates_phone_matches_and_a_form(api: Api) -> None:
    from dossier.demo import DEMO_ACCOUNT, ensure_demo
    from dossier.demo_leads import DUPLICATES, EMAIL_MATCHED, INTAKE_FORM, PHONE_MATCHED

    demo = await ensure_demo(contacts=60, rich=12)
    admin = api.as_(demo.api_key)
    everything = (await admin.data(ROOT, {"first": 100}))["leads"]["edges"]
    assert len(everything) == EMAIL_MATCHED + DUPLICATES + PHONE_MATCHED
    dups = (await admin.data(ROOT, {"first": 100, "status": "DUPLICATE"}))["leads"]["edges"]
    assert len(dups) == DUPLICATES
    by_phone = (await admin.data(ROOT, {"first": 100, "formName": INTAKE_FORM}))["leads"]["edges"]
    assert len(by_phone) == PHONE_MATCHED
    lead = (await admin.data("query($id: ID!) { node(id: $id) { ... on Lead { matchReason } } }",
                             {"id": by_phone[0]["node"]["id"]}))["node"]  # fmt: skip
    assert lead["matchReason"] == "PHONE"
    shown = await card(admin, dups[0]["node"]["contact"]["id"])
    assert [lead["status"] for lead in shown["leads"]] == ["DUPLICATE", "NEW"]
    assert (
        shown["firstTouch"]["utm"]["source"] and shown["lastTouch"]["lead"]["id"] == shown["leads"][0]["id"]
    )
    forms = (await admin.data("{ forms { name revokedAt } }"))["forms"]
    assert forms == [{"name": INTAKE_FORM, "revokedAt": None}]
    assert (
        await LeadModel.filter(account__name=DEMO_ACCOUNT, form_id__isnull=False).count()
    ) == PHONE_MATCHED


async def test_simultaneous_submissions_of_one_new_person_make_one_contact(as_admin: Api) -> None:
    # PostgreSQL: an advisory lock per email and phone; SQLite: one writer at a time.
    results = await asyncio.gather(
        *(
            submit(
                as_admin,
                email="rush@example.com",
                phone="+14155550177",
                answers=[{"question": "n", "answer": str(i)}],
            )
            for i in range(6)
        )
    )
    assert len({r["lead"]["contact"]["id"] for r in results}) == 1
    reasons = sorted(r["lead"]["matchReason"] for r in results)
    assert reasons == ["EMAIL_AND_PHONE"] * 5 + ["NEW"]
    assert await contact_count() == 1


async def test_a_live_contact_is_preferred_to_an_archived_one_and_an_archived_one_still_gets_its_lead(
    as_admin: Api,
) -> None:
    archive = "mutation($input: ArchiveContactsInput!) { archiveContacts(input: $input) { archivedIds } }"
    old = await as_admin.data(CREATE_CONTACT, {"input": {"firstName": "Old", "email": "twin@example.com"}})
    new = await as_admin.data(CREATE_CONTACT, {"input": {"firstName": "New", "email": "twin@example.com"}})
    old_id, new_id = old["createContact"]["id"], new["createContact"]["id"]
    await as_admin.data(archive, {"input": {"ids": [old_id]}})
    result = await submit(as_admin, email="twin@example.com")
    assert result["lead"]["contact"]["id"] == new_id  # the live one, though younger
    await as_admin.data(archive, {"input": {"ids": [new_id]}})
    result = await submit(as_admin, email="twin@example.com")
    assert result["lead"]["contact"]["id"] == old_id and result["createdContact"] is False
    event = (await card(as_admin, old_id))["journey"]["nodes"][0]
    assert event["kind"] == "LEAD_SUBMITTED" and "the contact is archived" in event["summary"]
