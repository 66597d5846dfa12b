"""`dossier serve --demo`: the demo account, its key, and cards whose journeys tell their story."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from tortoise.functions import Count

from crm import validation as v
from crm.clock import utcnow
from crm.models import (
    Account,
    Call,
    Contact,
    ContactProfile,
    ContactTag,
    Deal,
    JourneyEvent,
    Merge,
    Note,
    OutboxRow,
    Tag,
    User,
)
from crm.models.accounts import default_statuses
from crm.models.profile import PROFILE_BY_API
from crm.services import accounts
from crm.services.contacts import IDENTITY_FIELDS
from crm.services.profile import journal_value, stored_value
from dossier import demo as demo_module
from dossier.demo import DEMO_ACCOUNT, Demo, ensure_demo
from dossier.demo_lifecycle import ARCHIVED, COPIES
from graph import graphiql
from graph.ids import decode_id, global_id_text
from tests.conftest import Api

SMALL = {"contacts": 60, "rich": 12}
# What the contacts list counts: archived cards are not in it, a duplicated copy is.
# A merged-away card is not in it either (dossier/demo_merges.py makes one from a new card).
LISTED = SMALL["contacts"] - ARCHIVED + COPIES
EXAMPLE_QUERY = (Path(__file__).parent.parent / "graph" / "example_card_query.graphql").read_text()
VIEWER = "{ viewer { user { name role } account { name } } }"
OWNER_COLUMNS = {
    "setterOwner": "setter_owner_id",
    "closerOwner": "closer_owner_id",
    "assignedTo": "assigned_to_id",
}
STATE_COLUMNS = {
    **{api: column for column, api in IDENTITY_FIELDS.items()},
    "status": "status",
    "subStatus": "sub_status",
    "convertedAt": "converted_at",
    # The header (dossier/demo_profile.py); profile.* changes are checked against contact_profile.
    "leadSource": "lead_source",
    "actionPlan": "action_plan",
    "salesCycle": "sales_cycle",
}


@pytest.fixture
async def demo(api: Api) -> Demo:
    return await ensure_demo(**SMALL)


async def demo_account_id() -> int:
    return (await Account.get(name=DEMO_ACCOUNT)).id


async def copies(account_id: int) -> set[int]:
    """Contacts made by duplicating another (dossier/demo_lifecycle.py): newer than their source."""
    rows = await JourneyEvent.filter(account_id=account_id, kind="CONTACT_DUPLICATED").values(
        "contact_id", "subject_id"
    )
    return {r["contact_id"] for r in rows if r["contact_id"] > r["subject_id"]}


async def newest_rich(api: Api, demo: Demo, count: int) -> list[dict[str, Any]]:
    """The newest cards, which are the rich ones, passing over duplicated copies."""
    made = await copies(await demo_account_id())
    page = await api.data(
        "query($n: Int!) { contacts(first: $n) { nodes { id createdAt } } }",
        {"n": count + len(made)},
        key=demo.api_key,
    )
    nodes = [n for n in page["contacts"]["nodes"] if decode_id(n["id"], "Contact") not in made]
    return nodes[:count]


async def journey_sizes(account_id: int) -> dict[int, int]:
    rows = (
        await JourneyEvent.filter(account_id=account_id)
        .group_by("contact_id")
        .annotate(n=Count("id"))
        .values("contact_id", "n")
    )
    return {r["contact_id"]: r["n"] for r in rows}


# --------------------------------------------------------------------------------------
# The account and its key
# --------------------------------------------------------------------------------------


async def test_the_demo_key_signs_in_as_the_demo_admin(api: Api, demo: Demo) -> None:
    assert demo.account_name == DEMO_ACCOUNT
    assert demo.contacts == LISTED
    assert demo.seeded
    data = await api.data(VIEWER, key=demo.api_key)
    assert data["viewer"]["account"] == {"name": DEMO_ACCOUNT}
    region = await api.data("{ viewer { account { region phoneRegion } } }", key=demo.api_key)
    assert region["viewer"]["account"] == {"region": "US", "phoneRegion": "US"}
    assert data["viewer"]["user"]["role"] == "ADMIN"
    users = await api.data("{ users { name role } }", key=demo.api_key)
    roles = [u["role"] for u in users["users"]]
    assert roles.count("ADMIN") == 1 and roles.count("MANAGER") == 1 and roles.count("REP") >= 4


async def test_seeding_again_adds_nothing_and_mints_a_new_key(api: Api, demo: Demo) -> None:
    account_id = await demo_account_id()
    before = await JourneyEvent.filter(account_id=account_id).count()
    again = await ensure_demo(**SMALL)
    assert not again.seeded
    assert again.contacts == demo.contacts
    assert await Account.filter(name=DEMO_ACCOUNT).count() == 1
    # A merged-away card is hidden (Contact.merged_into): not counted.
    assert await Contact.filter(account_id=account_id).count() == SMALL["contacts"] + COPIES
    assert await JourneyEvent.filter(account_id=account_id).count() == before
    assert again.api_key != demo.api_key
    for key in (demo.api_key, again.api_key):  # the old key keeps working
        data = await api.data(VIEWER, key=key)
        assert data["viewer"]["account"]["name"] == DEMO_ACCOUNT


async def test_an_existing_account_named_demo_co_is_left_alone(api: Api) -> None:
    mine = await accounts.create_account(DEMO_ACCOUNT, "owner@democo.example.com", "Real Owner")
    found = await ensure_demo(**SMALL)
    assert not found.seeded
    assert found.contacts == 0
    assert await User.filter(account_id=mine.user.account_id).count() == 1  # type: ignore[attr-defined]
    data = await api.data(VIEWER, key=found.api_key)
    assert data["viewer"]["user"] == {"name": "Real Owner", "role": "ADMIN"}


async def test_a_seed_that_fails_halfway_leaves_nothing_behind(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo_module, "_set_updated_at", broken)  # the last step of the seed
    with pytest.raises(RuntimeError, match="disk full"):
        await ensure_demo(**SMALL)
    assert not await Account.filter(name=DEMO_ACCOUNT).exists()
    assert await Contact.all().count() == 0 and await JourneyEvent.all().count() == 0
    monkeypatch.undo()
    again = await ensure_demo(**SMALL)  # so the next start seeds it properly
    assert again.seeded and again.contacts == LISTED


async def test_the_demo_is_not_news_for_plugins(api: Api, demo: Demo) -> None:
    assert await OutboxRow.all().count() == 0
    entries = await JourneyEvent.all().count()
    await api.runtime.dispatcher.drain()
    assert await JourneyEvent.all().count() == entries


# --------------------------------------------------------------------------------------
# The cards, through the API
# --------------------------------------------------------------------------------------


async def test_the_example_card_query_shows_a_full_card(api: Api, demo: Demo) -> None:
    newest = {"contacts": {"nodes": await newest_rich(api, demo, 3)}}
    statuses = {
        s["name"]: s["subStatuses"]
        for s in (
            await api.data("{ viewer { account { statuses { name subStatuses } } } }", key=demo.api_key)
        )["viewer"]["account"]["statuses"]
    }
    for node in newest["contacts"]["nodes"]:  # the newest cards are the rich ones
        data = await api.data(EXAMPLE_QUERY, {"id": node["id"]}, key=demo.api_key)
        card = data["contact"]
        assert list(data) == ["contact"] and card["id"] == node["id"]
        journey = card["journey"]
        assert journey["totalCount"] >= 100
        assert len(journey["nodes"]) == 20
        times = [entry["occurredAt"] for entry in journey["nodes"]]
        assert times == sorted(times, reverse=True)
        assert all(entry["summary"] and entry["actor"]["name"] for entry in journey["nodes"])
        assert card["status"] in statuses
        assert card["subStatus"] is None or card["subStatus"] in statuses[card["status"]]
        assert card["displayName"]
        assert card["past"], "a rich card has had calls"
        assert card["createdAt"] < card["updatedAt"]


async def test_the_example_card_query_shows_tasks_files_and_recordings(api: Api, demo: Demo) -> None:
    """Issue 13's sections in GraphiQL's example: a card with the demo's tasks, one with files,
    one with a recorded call (dossier/demo_tasks.py, demo_attachments.py, demo_recordings.py)."""
    from crm.models import Attachment, Task

    account_id = await demo_account_id()
    tasked = await Task.filter(account_id=account_id).order_by("id").first()
    filed = await Attachment.filter(account_id=account_id, kind="FILE").order_by("id").first()
    recorded = await Attachment.filter(account_id=account_id, kind="RECORDING").order_by("id").first()
    assert tasked and filed and recorded, "the demo has tasks, files and recordings"

    async def card(contact_id: int) -> dict[str, Any]:
        variables = {"id": global_id_text("Contact", contact_id)}
        return (await api.data(EXAMPLE_QUERY, variables, key=demo.api_key))["contact"]

    tasks = await card(tasked.contact_id)  # type: ignore[attr-defined]
    assert {t["status"] for t in tasks["tasks"]["nodes"]} == {"OPEN", "DONE"}
    assert any(t["overdue"] for t in tasks["tasks"]["nodes"])
    actions = tasks["upcomingActions"]
    assert (
        actions
        and {a["__typename"] for a in actions} <= {"Task", "Call"}
        and actions[0]["__typename"] == "Task"
    )
    times = [a.get("dueAt") or a.get("scheduledAt") for a in actions]
    assert times == sorted(times, key=datetime.fromisoformat)
    files = (await card(filed.contact_id))["attachments"]["nodes"]  # type: ignore[attr-defined]
    assert files and all("/files/" in f["downloadUrl"] and f["size"] > 0 for f in files)
    calls = (await card(recorded.contact_id))["past"]  # type: ignore[attr-defined]
    listened = [c["recording"] for c in calls if c["recording"]]
    assert listened and listened[0]["duration"] > 0 and "/files/" in listened[0]["downloadUrl"]


async def test_a_rich_card_reads_back_oldest_first_from_its_creation(api: Api, demo: Demo) -> None:
    card = (await newest_rich(api, demo, 1))[0]
    query = """
    query($id: ID!, $after: String) {
      contact(id: $id) {
        journey(first: 50, after: $after, order: OLDEST_FIRST) {
          totalCount pageInfo { hasNextPage endCursor }
          nodes { kind occurredAt subjectId actor { kind name } }
        }
      }
    }
    """
    entries: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await api.data(query, {"id": card["id"], "after": after}, key=demo.api_key))["contact"]
        entries += page["journey"]["nodes"]
        if not page["journey"]["pageInfo"]["hasNextPage"]:
            break
        after = page["journey"]["pageInfo"]["endCursor"]
    assert len(entries) == page["journey"]["totalCount"] >= 100
    assert entries[0]["kind"] == "CONTACT_CREATED"
    assert entries[0]["occurredAt"] == card["createdAt"]
    times = [e["occurredAt"] for e in entries]
    assert times == sorted(times) and len(set(times)) == len(times)
    kinds = {e["kind"] for e in entries}
    assert {"STATUS_CHANGED", "OWNER_CHANGED", "CALL_SCHEDULED", "NOTE_ADDED", "CONTACT_UPDATED"} <= kinds
    about_something = [e for e in entries if e["kind"].startswith(("CALL_", "DEAL_", "NOTE_", "TAG_"))]
    assert about_something and all(e["subjectId"] for e in about_something)
    assert {e["actor"]["kind"] for e in entries} <= {"USER", "SYSTEM", "PLUGIN"}


# --------------------------------------------------------------------------------------
# The cards, row by row
# --------------------------------------------------------------------------------------


async def test_rich_cards_have_long_journeys_in_id_order(demo: Demo) -> None:
    account_id = await demo_account_id()
    sizes = await journey_sizes(account_id)
    made = await copies(account_id)
    assert len(made) == COPIES and len(sizes) == SMALL["contacts"] + COPIES
    assert sum(n >= 100 for n in sizes.values()) >= SMALL["rich"]
    assert min(sizes.values()) >= 3
    rows = (
        await JourneyEvent.filter(account_id=account_id)
        .order_by("id")
        .values_list("contact_id", "kind", "occurred_at")
    )
    by_contact: dict[int, list[tuple[str, Any]]] = defaultdict(list)
    for contact_id, kind, occurred_at in rows:
        by_contact[contact_id].append((kind, occurred_at))
    now = utcnow()
    for contact_id, entries in by_contact.items():
        assert entries[0][0] == ("CONTACT_DUPLICATED" if contact_id in made else "CONTACT_CREATED")
        times = [at for _, at in entries]
        assert all(a < b for a, b in itertools.pairwise(times)), "id order must be time order"
        assert now - timedelta(days=600) < times[0] and times[-1] <= now


async def test_contact_details_are_valid(demo: Demo) -> None:
    account_id = await demo_account_id()
    statuses = {s["name"]: s for s in (await Account.get(id=account_id)).statuses}
    contacts = await Contact.filter(account_id=account_id).values()
    phones = [p for c in contacts for p in (c["phone"], c["secondary_phone"]) if p]
    assert len(phones) >= len(contacts) // 2
    for phone in phones:
        parsed = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(parsed), phone
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == phone
    emails = [e for c in contacts for e in (c["email"], c["secondary_email"]) if e]
    assert len(emails) == len(set(emails))
    for email in emails:
        assert v.clean_email(email, "email") == email
        assert email.rsplit("@", 1)[1] in ("example.com", "example.org", "example.net")
    for c in contacts:
        assert c["first_name"] or c["business_name"]
        assert v.clean_ip(c["ip_address"]) == c["ip_address"]
        assert c["country"] in (None, "US")
        assert c["status"] in statuses
        assert c["sub_status"] is None or c["sub_status"] in statuses[c["status"]]["subStatuses"]
        assert (c["converted_at"] is not None) == bool(statuses[c["status"]].get("converts"))
        assert c["created_at"] <= c["updated_at"]
    assert len({c["status"] for c in contacts}) >= 4
    assert sum(bool(c["business_name"]) for c in contacts) >= 5
    assert sum(bool(c["street"]) for c in contacts) >= len(contacts) // 3
    deals = await Deal.filter(contact__account_id=account_id).values()
    assert deals and {d["currency"] for d in deals} <= {"USD", "EUR", "GBP"}
    for deal in deals:
        assert deal["amount"] > 0 and isinstance(deal["amount"], Decimal)
        assert (deal["status"] == "OPEN") == (deal["closed_at"] is None)
        assert deal["recurring"] == (deal["payment_type"] == "RECURRING")
    now = utcnow()
    calls = await Call.filter(contact__account_id=account_id).values()
    assert any(c["scheduled_at"] > now for c in calls), "some calls are upcoming"
    assert any(c["recording_url"] for c in calls) and any(c["status"] == "CANCELLED" for c in calls)
    assert any(c["reschedule_count"] for c in calls)
    for call in calls:
        if call["outcome"] is not None:
            assert call["scheduled_at"] < call["outcome_at"] <= now
            assert call["status"] == "SCHEDULED"


async def test_each_card_is_where_its_journey_ends(demo: Demo) -> None:
    """Replaying a card's journey gives its columns, owners, tags, calls, deals and notes."""
    account_id = await demo_account_id()
    users = {u["id"]: u["name"] for u in await User.filter(account_id=account_id).values("id", "name")}
    contacts = {c["id"]: c for c in await Contact.filter(account_id=account_id).values()}
    tags: dict[int, set[str]] = defaultdict(set)
    for link in await ContactTag.filter(contact__account_id=account_id).values("contact_id", "tag__name"):
        tags[link["contact_id"]].add(link["tag__name"])
    tag_names = {t["id"]: t["name"] for t in await Tag.filter(account_id=account_id).values("id", "name")}
    rows = {
        "Call": {r["id"]: r for r in await Call.filter(contact__account_id=account_id).values()},
        "Deal": {r["id"]: r for r in await Deal.filter(contact__account_id=account_id).values()},
        "Note": {r["id"]: r for r in await Note.filter(contact__account_id=account_id).values()},
    }
    state: dict[int, dict[str, Any]] = defaultdict(dict)
    owners: dict[int, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(OWNER_COLUMNS))
    seen_tags: dict[int, set[str]] = defaultdict(set)
    subjects: dict[tuple[str, int], dict[str, Any]] = defaultdict(dict)
    for entry in await JourneyEvent.filter(account_id=account_id).order_by("id").values():
        contact_id, kind, changes = entry["contact_id"], entry["kind"], entry["changes"]
        if entry["actor_kind"] == "USER":
            assert users[entry["actor_user_id"]] == entry["actor_name"]
            assert entry["summary"].startswith(entry["actor_name"] + " ")
        if kind in ("CONTACT_CREATED", "CONTACT_UPDATED", "STATUS_CHANGED"):
            for name, (before, after) in changes.items():
                if kind != "CONTACT_CREATED":
                    assert state[contact_id].get(name) == before, (kind, name)
                state[contact_id][name] = after
        elif kind == "CONTACT_DUPLICATED":  # a copy starts from the source's fields, owners and tags
            for name, (_, after) in changes.items():
                if name in STATE_COLUMNS:
                    state[contact_id][name] = after
                elif name in OWNER_COLUMNS:
                    owners[contact_id][name] = after
                elif name == "tags":
                    seen_tags[contact_id] |= set(after)
        elif kind == "OWNER_CHANGED":
            for name, (before, after) in changes.items():
                assert owners[contact_id][name] == before
                owners[contact_id][name] = after
        elif kind in ("TAG_ADDED", "TAG_REMOVED"):
            before, after = changes["tags"]
            assert tag_names[entry["subject_id"]] == (after or before)
            assert (before in seen_tags[contact_id]) == (kind == "TAG_REMOVED")
            seen_tags[contact_id] ^= {after or before}
        elif entry["subject_type"] in rows:
            subject = subjects[(entry["subject_type"], entry["subject_id"])]
            subject.setdefault("contact_id", contact_id)
            assert subject["contact_id"] == contact_id
            first = kind in ("CALL_SCHEDULED", "DEAL_ADDED", "NOTE_ADDED")
            for name, (before, after) in changes.items():
                if not first and name in subject:
                    assert subject[name] == before, (kind, name)
                subject[name] = after
    profiles = {p.contact_id: p for p in await ContactProfile.filter(contact__account_id=account_id)}
    for contact_id, contact in contacts.items():
        for name, value in state[contact_id].items():
            if name.startswith("profile."):
                spec = PROFILE_BY_API[name.removeprefix("profile.")]
                assert journal_value(spec, stored_value(spec, profiles.get(contact_id))) == value, name
                continue
            column = contact[STATE_COLUMNS[name]]
            assert (column.isoformat() if name == "convertedAt" and column else column) == value, name
        for name, column in OWNER_COLUMNS.items():
            assert users.get(contact[column]) == owners[contact_id][name]
        assert tags[contact_id] == seen_tags[contact_id]
    for (subject_type, subject_id), subject in subjects.items():
        row = rows[subject_type].get(subject_id)
        if subject_type == "Note" and subject["body"] is None:
            assert row is None, "a deleted note is gone"
            continue
        assert row is not None and row["contact_id"] == subject["contact_id"]
        if subject_type == "Call":
            assert row["scheduled_at"].isoformat() == subject["scheduledAt"]
            assert row["outcome"] == subject.get("outcome")
            assert row["status"] == subject.get("status", "SCHEDULED")
        elif subject_type == "Deal":
            assert row["status"] == subject["status"] and row["amount"] == Decimal(subject["amount"])
        else:
            assert row["body"] == subject["body"]
    # Every call, deal and note has a history.
    assert {(kind, row_id) for kind, by_id in rows.items() for row_id in by_id} <= subjects.keys()


# --------------------------------------------------------------------------------------
# Full size, once
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_full_demo_has_hundreds_of_cards_and_dozens_of_rich_ones(api: Api) -> None:
    demo = await ensure_demo()
    # The contacts list's count: the archived cards are not in it, the copy is.
    assert demo.contacts == demo_module.DEFAULT_CONTACTS - ARCHIVED + COPIES
    assert demo_module.DEFAULT_CONTACTS >= 200
    sizes = await journey_sizes(await demo_account_id())
    assert sum(n >= 100 for n in sizes.values()) >= 30
    count = await api.data("{ contacts { totalCount } }", key=demo.api_key)
    assert count["contacts"]["totalCount"] == demo.contacts
    # GraphiQL opens the example query on the demo's fullest card.
    contact_id = await graphiql.example_contact_id(demo.api_key)
    assert contact_id is not None
    data = await api.data(EXAMPLE_QUERY, {"id": contact_id}, key=demo.api_key)
    assert data["contact"]["journey"]["totalCount"] == max(sizes.values())


def test_the_same_seed_draws_the_same_demo() -> None:
    people = [demo_module._Actor("USER", "Dana Whitfield", 1, "admin")] + [
        demo_module._Actor("USER", name, n + 2, job) for n, (name, _, _, job) in enumerate(demo_module.TEAM)
    ]
    now = utcnow()

    def draw(seed: int) -> list[tuple[Any, ...]]:
        planner = demo_module._Planner(random.Random(seed), now, people, default_statuses())
        cards = demo_module._plan_cards(planner, 40, 8)
        return [
            (c.created_at, sorted(c.columns.items()), [(e.at, e.kind, e.summary) for e in c.entries])
            for c in cards
        ]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


async def test_the_demo_has_a_merged_pair_and_a_duplicate_candidate(api: Api, demo: Demo) -> None:
    account_id = await demo_account_id()
    merge = await Merge.get(account_id=account_id)
    card = """
    query($id: ID!) { contact(id: $id) {
      secondaryPhone tags { name } notes { createdBy { name } }
      merges { actor { name } absorbed { id displayName } moved { kind count } filled { field value } }
      journey(first: 1) { nodes { kind summary } }
    } }
    """
    primary = global_id_text("Contact", merge.primary_id)  # type: ignore[attr-defined]
    data = (await api.data(card, {"id": primary}, key=demo.api_key))["contact"]
    (shown,) = data["merges"]
    assert shown["actor"]["name"] in {
        u.name for u in await User.filter(account_id=account_id, role="manager")
    }
    assert {m["kind"]: m["count"] for m in shown["moved"]} == {"JourneyEvent": 3, "Note": 1, "Tag": 1}
    assert shown["filled"] == [{"field": "secondaryPhone", "value": data["secondaryPhone"]}]
    assert "Webinar" in {t["name"] for t in data["tags"]}
    assert data["journey"]["nodes"][0]["kind"] == "CONTACTS_MERGED"
    gone = await api.post(
        "query($id: ID!) { contact(id: $id) { id } }", {"id": shown["absorbed"][0]["id"]}, key=demo.api_key
    )
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    candidates = await api.data(
        "{ contacts(first: 100) { nodes { id duplicateCandidates { reason contact { id } } } } }",
        key=demo.api_key,
    )
    reasons = [c["reason"] for n in candidates["contacts"]["nodes"] for c in n["duplicateCandidates"]]
    assert "PHONE" in reasons
