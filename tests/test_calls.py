"""Calls on a card (B2): booking, rescheduling, cancelling, outcomes, and the calls section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crm.models import Call as CallModel
from crm.services.calls import CallOutcome
from graph.ids import decode_id, global_id
from tests.conftest import Api, Tenant

CALL_FIELDS = """
    id eventName scheduledAt durationMinutes endsAt isUpcoming status outcome outcomeAt
    recordingUrl cancelReason cancelledAt rescheduleCount badges
    bookedBy { name } contact { id displayName }
"""
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
SCHEDULE = f"mutation($i: ScheduleCallInput!) {{ scheduleCall(input: $i) {{ {CALL_FIELDS} }} }}"
RESCHEDULE = f"mutation($i: RescheduleCallInput!) {{ rescheduleCall(input: $i) {{ {CALL_FIELDS} }} }}"
CANCEL = f"mutation($i: CancelCallInput!) {{ cancelCall(input: $i) {{ {CALL_FIELDS} }} }}"
OUTCOME = f"mutation($i: SetCallOutcomeInput!) {{ setCallOutcome(input: $i) {{ {CALL_FIELDS} }} }}"
CARD = f"""
query($id: ID!, $when: CallWhen!) {{
  contact(id: $id) {{
    lastBookedEvent
    calls(when: $when) {{ {CALL_FIELDS} }}
    journey(first: 100) {{
      totalCount
      nodes {{ kind summary subjectId changes {{ field before after }} }}
    }}
  }}
}}
"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Call {{ {CALL_FIELDS} }} }} }}"


def at(**delta: float) -> datetime:
    """A whole-second UTC time relative to now."""
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def iso(value: datetime) -> str:
    return value.isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def new_contact(api: Api, first_name: str = "Ada") -> str:
    data = await api.data(CREATE_CONTACT, {"i": {"firstName": first_name, "lastName": "Lovelace"}})
    return data["createContact"]["id"]


async def card(api: Api, contact_id: str, when: str = "ALL") -> dict[str, Any]:
    return (await api.data(CARD, {"id": contact_id, "when": when}))["contact"]


async def book(
    api: Api, contact_id: str, when: datetime, name: str = "Discovery call", minutes: int = 30
) -> dict:
    variables = {
        "i": {
            "contactId": contact_id,
            "scheduledAt": iso(when),
            "eventName": name,
            "durationMinutes": minutes,
        }
    }
    return (await api.data(SCHEDULE, variables))["scheduleCall"]


async def past_call(contact_id: str, when: datetime, name: str = "Past call") -> str:
    """Test setup: a call whose time has already come, written straight to the database."""
    call = await CallModel.create(
        contact_id=decode_id(contact_id, "Contact"), event_name=name, scheduled_at=when, duration_minutes=30
    )
    return str(global_id("Call", call.id))


def kinds(card_data: dict[str, Any]) -> list[str]:
    return [n["kind"] for n in card_data["journey"]["nodes"]]


def changes_of(entry: dict[str, Any]) -> dict[str, list[Any]]:
    return {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}


# --------------------------------------------------------------------------------------
# scheduleCall
# --------------------------------------------------------------------------------------


async def test_schedule_call_books_an_upcoming_call(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    when = at(days=2)

    call = await book(as_admin, contact_id, when, "Strategy session", 45)

    assert call["eventName"] == "Strategy session"
    assert parse(call["scheduledAt"]) == when
    assert parse(call["endsAt"]) == when + timedelta(minutes=45)
    assert call["durationMinutes"] == 45
    assert call["isUpcoming"] is True
    assert call["status"] == "SCHEDULED"
    assert call["outcome"] is None
    assert call["rescheduleCount"] == 0
    assert call["badges"] == []
    assert call["bookedBy"] == {"name": "Acme Admin"}
    assert call["contact"] == {"id": contact_id, "displayName": "Ada Lovelace"}

    data = await card(as_admin, contact_id)
    assert data["lastBookedEvent"] == "Strategy session"
    assert [c["id"] for c in data["calls"]] == [call["id"]]
    entry = data["journey"]["nodes"][0]
    assert entry["kind"] == "CALL_SCHEDULED"
    assert entry["subjectId"] == call["id"]
    assert "Strategy session" in entry["summary"]
    assert changes_of(entry)["scheduledAt"][0] is None
    assert parse(changes_of(entry)["scheduledAt"][1]) == when

    node = (await as_admin.data(NODE, {"id": call["id"]}))["node"]
    assert node["eventName"] == "Strategy session"


async def test_schedule_call_converts_offsets_to_utc(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    when = at(days=3)
    berlin_like = (when + timedelta(hours=2)).replace(tzinfo=None).isoformat() + "+02:00"

    call = (
        await as_admin.data(
            SCHEDULE, {"i": {"contactId": contact_id, "scheduledAt": berlin_like, "eventName": "Demo"}}
        )
    )["scheduleCall"]

    assert parse(call["scheduledAt"]) == when
    assert parse(call["scheduledAt"]).utcoffset() == timedelta(0)
    assert call["durationMinutes"] == 30  # the default


async def test_schedule_call_accepts_the_duration_bounds(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    assert (await book(as_admin, contact_id, at(days=1), minutes=5))["durationMinutes"] == 5
    assert (await book(as_admin, contact_id, at(days=2), minutes=480))["durationMinutes"] == 480


def bad_bookings() -> list[tuple[dict[str, Any], str | None, str]]:
    return [
        ({"scheduledAt": iso(at(minutes=-5))}, "scheduledAt", "future"),
        ({"scheduledAt": iso(at(seconds=-1))}, "scheduledAt", "future"),
        ({"scheduledAt": at(days=1).replace(tzinfo=None).isoformat()}, "scheduledAt", "timezone offset"),
        ({"durationMinutes": 4}, "durationMinutes", "between 5 and 480"),
        ({"durationMinutes": 481}, "durationMinutes", "between 5 and 480"),
        ({"durationMinutes": 0}, "durationMinutes", "between 5 and 480"),
        ({"durationMinutes": -30}, "durationMinutes", "between 5 and 480"),
        ({"eventName": ""}, "eventName", "eventName"),
        ({"eventName": "   "}, "eventName", "eventName"),
        ({"eventName": "x" * 201}, "eventName", "limit is 200"),
        ({"scheduledAt": "tomorrow at noon"}, None, "DateTime"),
    ]


async def test_schedule_call_refuses_bad_input_and_books_nothing(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    before = await card(as_admin, contact_id)

    for overrides, field, message in bad_bookings():
        values = {
            "contactId": contact_id,
            "scheduledAt": iso(at(days=1)),
            "eventName": "Discovery call",
            "durationMinutes": 30,
            **overrides,
        }
        error = await as_admin.error(SCHEDULE, {"i": values})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", overrides
        assert message in error["message"], (overrides, error["message"])
        assert error["extensions"].get("field") == field, overrides

    after = await card(as_admin, contact_id)
    assert after["calls"] == []
    assert after["lastBookedEvent"] is None
    assert after["journey"] == before["journey"]
    assert await CallModel.all().count() == 0


async def test_schedule_call_on_unknown_or_foreign_contact_is_not_found(
    as_admin: Api, acme: Tenant, globex: Tenant
) -> None:
    foreign = await new_contact(as_admin.as_(globex.admin_key), "Grace")
    for contact_id in (foreign, str(global_id("Contact", 999999))):
        error = await as_admin.error(
            SCHEDULE, {"i": {"contactId": contact_id, "scheduledAt": iso(at(days=1)), "eventName": "Demo"}}
        )
        assert error["extensions"]["code"] == "NOT_FOUND"
        assert "contact" in error["message"]
    assert await CallModel.all().count() == 0


async def test_schedule_call_needs_a_contact_id_not_another_id(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call = await book(as_admin, contact_id, at(days=1))
    error = await as_admin.error(
        SCHEDULE, {"i": {"contactId": call["id"], "scheduledAt": iso(at(days=1)), "eventName": "Demo"}}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Call id, not a Contact id" in error["message"]
    assert await CallModel.all().count() == 1


# --------------------------------------------------------------------------------------
# rescheduleCall
# --------------------------------------------------------------------------------------


async def test_reschedule_moves_the_call_and_records_old_and_new(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    first = at(days=1)
    second = at(days=4)
    third = at(days=2)
    call = await book(as_admin, contact_id, first, "Demo", 60)

    moved = (await as_admin.data(RESCHEDULE, {"i": {"id": call["id"], "scheduledAt": iso(second)}}))[
        "rescheduleCall"
    ]
    assert parse(moved["scheduledAt"]) == second
    assert parse(moved["endsAt"]) == second + timedelta(minutes=60)
    assert moved["rescheduleCount"] == 1
    assert moved["badges"] == ["RESCHEDULED"]
    assert moved["status"] == "SCHEDULED"

    moved = (await as_admin.data(RESCHEDULE, {"i": {"id": call["id"], "scheduledAt": iso(third)}}))[
        "rescheduleCall"
    ]
    assert moved["rescheduleCount"] == 2

    data = await card(as_admin, contact_id)
    assert kinds(data)[:3] == ["CALL_RESCHEDULED", "CALL_RESCHEDULED", "CALL_SCHEDULED"]
    latest, earlier = data["journey"]["nodes"][0], data["journey"]["nodes"][1]
    assert [parse(v) for v in changes_of(earlier)["scheduledAt"]] == [first, second]
    assert [parse(v) for v in changes_of(latest)["scheduledAt"]] == [second, third]
    assert latest["subjectId"] == call["id"]
    assert "Demo" in latest["summary"]
    assert data["calls"][0]["rescheduleCount"] == 2


async def test_reschedule_into_the_past_or_without_offset_changes_nothing(
    as_admin: Api, acme: Tenant
) -> None:
    contact_id = await new_contact(as_admin)
    when = at(days=1)
    call = await book(as_admin, contact_id, when)
    before = await card(as_admin, contact_id)

    for bad in (iso(at(hours=-1)), at(days=2).replace(tzinfo=None).isoformat()):
        error = await as_admin.error(RESCHEDULE, {"i": {"id": call["id"], "scheduledAt": bad}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "future" in error["message"] or "timezone" in error["message"]

    after = await card(as_admin, contact_id)
    assert after == before
    assert parse(after["calls"][0]["scheduledAt"]) == when
    assert after["calls"][0]["rescheduleCount"] == 0


async def test_rescheduling_a_cancelled_call_is_a_conflict(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call = await book(as_admin, contact_id, at(days=1))
    await as_admin.data(CANCEL, {"i": {"id": call["id"], "reason": "Client asked"}})
    before = await card(as_admin, contact_id)

    error = await as_admin.error(RESCHEDULE, {"i": {"id": call["id"], "scheduledAt": iso(at(days=3))}})

    assert error["extensions"]["code"] == "CONFLICT"
    assert "cancelled" in error["message"]
    assert await card(as_admin, contact_id) == before


async def test_reschedule_unknown_or_foreign_call_is_not_found(
    as_admin: Api, acme: Tenant, globex: Tenant
) -> None:
    contact_id = await new_contact(as_admin)
    call = await book(as_admin, contact_id, at(days=1))
    before = await card(as_admin, contact_id)
    for key, call_id in ((globex.admin_key, call["id"]), (acme.admin_key, str(global_id("Call", 424242)))):
        error = await as_admin.error(
            RESCHEDULE, {"i": {"id": call_id, "scheduledAt": iso(at(days=5))}}, key=key
        )
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert await card(as_admin, contact_id) == before


# --------------------------------------------------------------------------------------
# cancelCall
# --------------------------------------------------------------------------------------


async def test_cancel_call_keeps_it_listed_as_cancelled(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call = await book(as_admin, contact_id, at(days=1), "Onboarding")

    cancelled = (await as_admin.data(CANCEL, {"i": {"id": call["id"], "reason": "  Client is travelling "}}))[
        "cancelCall"
    ]

    assert cancelled["status"] == "CANCELLED"
    assert cancelled["cancelReason"] == "Client is travelling"
    assert cancelled["cancelledAt"] is not None
    assert abs(parse(cancelled["cancelledAt"]) - datetime.now(UTC)) < timedelta(minutes=5)
    assert cancelled["badges"] == ["CANCELLED"]

    data = await card(as_admin, contact_id, "UPCOMING")
    assert [(c["id"], c["status"]) for c in data["calls"]] == [(call["id"], "CANCELLED")]
    entry = data["journey"]["nodes"][0]
    assert entry["kind"] == "CALL_CANCELLED"
    assert entry["subjectId"] == call["id"]
    assert "Client is travelling" in entry["summary"]
    assert changes_of(entry) == {
        "status": ["SCHEDULED", "CANCELLED"],
        "cancelReason": [None, "Client is travelling"],
    }


async def test_cancelling_twice_is_a_conflict(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call = await book(as_admin, contact_id, at(days=1))
    await as_admin.data(CANCEL, {"i": {"id": call["id"], "reason": "first"}})
    before = await card(as_admin, contact_id)

    error = await as_admin.error(CANCEL, {"i": {"id": call["id"], "reason": "second"}})

    assert error["extensions"]["code"] == "CONFLICT"
    assert "already cancelled" in error["message"]
    after = await card(as_admin, contact_id)
    assert after == before
    assert after["calls"][0]["cancelReason"] == "first"


async def test_cancel_with_an_overlong_reason_changes_nothing(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call = await book(as_admin, contact_id, at(days=1))
    before = await card(as_admin, contact_id)

    error = await as_admin.error(CANCEL, {"i": {"id": call["id"], "reason": "x" * 501}})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "reason"
    assert await card(as_admin, contact_id) == before


# --------------------------------------------------------------------------------------
# setCallOutcome
# --------------------------------------------------------------------------------------


async def test_past_call_needs_an_outcome_until_one_is_set(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call_id = await past_call(contact_id, at(hours=-2), "Intro")

    call = (await as_admin.data(NODE, {"id": call_id}))["node"]
    assert call["isUpcoming"] is False
    assert call["badges"] == ["NEEDS_OUTCOME"]

    done = (
        await as_admin.data(
            OUTCOME,
            {"i": {"id": call_id, "outcome": "SPOKE", "recordingUrl": "https://rec.example.com/calls/1.mp3"}},
        )
    )["setCallOutcome"]

    assert done["outcome"] == "SPOKE"
    assert done["outcomeAt"] is not None
    assert done["recordingUrl"] == "https://rec.example.com/calls/1.mp3"
    assert done["badges"] == ["RECORDED"]
    data = await card(as_admin, contact_id)
    entry = data["journey"]["nodes"][0]
    assert entry["kind"] == "CALL_OUTCOME_SET"
    assert entry["subjectId"] == call_id
    assert "Intro" in entry["summary"]
    assert changes_of(entry) == {
        "outcome": [None, "SPOKE"],
        "recordingUrl": [None, "https://rec.example.com/calls/1.mp3"],
    }


async def test_every_outcome_can_be_set_and_each_change_shows_before_and_after(
    as_admin: Api, acme: Tenant
) -> None:
    contact_id = await new_contact(as_admin)
    call_id = await past_call(contact_id, at(days=-1))
    expected = ["CALLED", "NO_ANSWER", "LEFT_VOICEMAIL", "SPOKE", "NO_SHOW"]
    outcomes = [o.value for o in CallOutcome]
    assert outcomes[: len(expected)] == expected

    previous = None
    for outcome in outcomes:
        done = (await as_admin.data(OUTCOME, {"i": {"id": call_id, "outcome": outcome}}))["setCallOutcome"]
        assert done["outcome"] == outcome
        assert done["badges"] == []
        entry = (await card(as_admin, contact_id))["journey"]["nodes"][0]
        assert entry["kind"] == "CALL_OUTCOME_SET"
        assert changes_of(entry) == {"outcome": [previous, outcome]}
        previous = outcome

    # Setting the same outcome again is not a change and writes no journey entry.
    count = (await card(as_admin, contact_id))["journey"]["totalCount"]
    await as_admin.data(OUTCOME, {"i": {"id": call_id, "outcome": previous}})
    assert (await card(as_admin, contact_id))["journey"]["totalCount"] == count


async def test_outcome_of_a_future_call_is_a_conflict(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call = await book(as_admin, contact_id, at(days=1))
    before = await card(as_admin, contact_id)

    error = await as_admin.error(OUTCOME, {"i": {"id": call["id"], "outcome": "SPOKE"}})

    assert error["extensions"]["code"] == "CONFLICT"
    assert "once it has started" in error["message"]
    assert await card(as_admin, contact_id) == before


async def test_outcome_of_a_cancelled_call_is_a_conflict(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call_id = await past_call(contact_id, at(hours=-3))
    await as_admin.data(CANCEL, {"i": {"id": call_id, "reason": "no-show policy"}})
    before = await card(as_admin, contact_id)

    error = await as_admin.error(OUTCOME, {"i": {"id": call_id, "outcome": "NO_SHOW"}})

    assert error["extensions"]["code"] == "CONFLICT"
    assert "cancelled" in error["message"]
    after = await card(as_admin, contact_id)
    assert after == before
    assert after["calls"][0]["outcome"] is None


async def test_unknown_outcome_is_bad_input_inline_and_in_variables(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call_id = await past_call(contact_id, at(hours=-1))
    before = await card(as_admin, contact_id)

    inline = await as_admin.error(
        f'mutation {{ setCallOutcome(input: {{id: "{call_id}", outcome: MAYBE}}) {{ id outcome }} }}'
    )
    assert inline["extensions"]["code"] == "BAD_USER_INPUT"
    assert "MAYBE" in inline["message"]

    via_variables = await as_admin.error(OUTCOME, {"i": {"id": call_id, "outcome": "MAYBE"}})
    assert via_variables["extensions"]["code"] == "BAD_USER_INPUT"
    assert "MAYBE" in via_variables["message"]

    lower_case = await as_admin.error(OUTCOME, {"i": {"id": call_id, "outcome": "spoke"}})
    assert lower_case["extensions"]["code"] == "BAD_USER_INPUT"

    assert await card(as_admin, contact_id) == before


async def test_recording_url_must_be_http(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call_id = await past_call(contact_id, at(hours=-1))
    before = await card(as_admin, contact_id)

    for url in (
        "ftp://files.example.com/rec.mp3",
        "javascript:alert(1)",
        "rec.example.com/1.mp3",
        "https://",
    ):
        error = await as_admin.error(OUTCOME, {"i": {"id": call_id, "outcome": "SPOKE", "recordingUrl": url}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", url
        assert error["extensions"]["field"] == "recordingUrl", url
        assert "http(s)" in error["message"], url

    after = await card(as_admin, contact_id)
    assert after == before
    assert after["calls"][0]["outcome"] is None
    assert after["calls"][0]["recordingUrl"] is None


async def test_a_call_with_an_outcome_cannot_be_cancelled_or_moved(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    call_id = await past_call(contact_id, at(hours=-1))
    await as_admin.data(OUTCOME, {"i": {"id": call_id, "outcome": "SPOKE"}})
    before = await card(as_admin, contact_id)

    cancel = await as_admin.error(CANCEL, {"i": {"id": call_id}})
    move = await as_admin.error(RESCHEDULE, {"i": {"id": call_id, "scheduledAt": iso(at(days=1))}})

    assert cancel["extensions"]["code"] == "CONFLICT"
    assert move["extensions"]["code"] == "CONFLICT"
    assert await card(as_admin, contact_id) == before


# --------------------------------------------------------------------------------------
# The calls section of the card
# --------------------------------------------------------------------------------------


async def test_calls_section_orders_upcoming_and_past_calls(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    older = await past_call(contact_id, at(days=-3), "Old intro")
    recent = await past_call(contact_id, at(days=-1), "Recent follow-up")
    far = await book(as_admin, contact_id, at(days=3), "Far kickoff")
    soon = await book(as_admin, contact_id, at(days=1), "Soon check-in")
    middle = await book(as_admin, contact_id, at(days=2), "Middle review")  # booked last
    await as_admin.data(CANCEL, {"i": {"id": far["id"]}})

    upcoming = await card(as_admin, contact_id, "UPCOMING")
    assert [c["id"] for c in upcoming["calls"]] == [soon["id"], middle["id"], far["id"]]
    assert [c["status"] for c in upcoming["calls"]] == ["SCHEDULED", "SCHEDULED", "CANCELLED"]
    assert all(c["isUpcoming"] for c in upcoming["calls"])
    # Most recently booked, not the soonest nor the latest one.
    assert upcoming["lastBookedEvent"] == "Middle review"

    past = await card(as_admin, contact_id, "PAST")
    assert [c["id"] for c in past["calls"]] == [recent, older]
    assert [c["eventName"] for c in past["calls"]] == ["Recent follow-up", "Old intro"]
    assert all(not c["isUpcoming"] and c["badges"] == ["NEEDS_OUTCOME"] for c in past["calls"])
    assert all(c["bookedBy"] is None for c in past["calls"])

    everything = await card(as_admin, contact_id, "ALL")
    assert [c["id"] for c in everything["calls"]] == [older, recent, soon["id"], middle["id"], far["id"]]
    times = [parse(c["scheduledAt"]) for c in everything["calls"]]
    assert times == sorted(times)
    assert {c["contact"]["id"] for c in everything["calls"]} == {contact_id}
    assert {c["bookedBy"]["name"] for c in everything["calls"] if c["bookedBy"]} == {"Acme Admin"}


async def test_calls_default_to_all_and_last_booked_event_is_empty_without_calls(
    as_admin: Api, acme: Tenant
) -> None:
    contact_id = await new_contact(as_admin)
    data = await as_admin.data(
        "query($id: ID!) { contact(id: $id) { lastBookedEvent calls { id } } }", {"id": contact_id}
    )
    assert data["contact"] == {"lastBookedEvent": None, "calls": []}

    call = await book(as_admin, contact_id, at(days=1), "First")
    data = await as_admin.data(
        "query($id: ID!) { contact(id: $id) { lastBookedEvent calls { id } } }", {"id": contact_id}
    )
    assert data["contact"] == {"lastBookedEvent": "First", "calls": [{"id": call["id"]}]}


async def test_booked_by_is_the_rep_who_booked(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    contact_id = await new_contact(rep)
    call = await book(rep, contact_id, at(days=1))
    assert call["bookedBy"] == {"name": "Acme Rep"}
    entry = (await card(rep, contact_id))["journey"]["nodes"][0]
    assert entry["kind"] == "CALL_SCHEDULED"
    assert "Acme Rep" in entry["summary"]
