"""Logging a call that already happened (C6): it lists with the past calls, journals
CALL_LOGGED and fires `call_logged`; a time in the future and other bad input are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crm.events import CardEvent
from crm.models import Call as CallModel
from graph.ids import decode_id
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant

CREATE = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
CALL_FIELDS = """
  id eventName scheduledAt durationMinutes endsAt isUpcoming status outcome outcomeAt recordingUrl
  direction durationSeconds summary badges bookedBy { name } contact { id }
"""
LOG = f"mutation($i: LogCallInput!) {{ logCall(input: $i) {{ {CALL_FIELDS} }} }}"
SCHEDULE = "mutation($i: ScheduleCallInput!) { scheduleCall(input: $i) { id } }"
CARD = f"""query($id: ID!) {{
  contact(id: $id) {{
    past: calls(when: PAST) {{ {CALL_FIELDS} }}
    upcoming: calls(when: UPCOMING) {{ id direction }}
    journey(first: 5) {{ nodes {{ kind summary subjectType subjectId changes {{ field before after }} }} }}
  }}
}}"""


def ago(**delta: float) -> datetime:
    return (datetime.now(UTC) - timedelta(**delta)).replace(microsecond=0)


async def new_contact(api: Api) -> str:
    return (await api.data(CREATE, {"i": {"firstName": "Ada", "lastName": "Lovelace"}}))["createContact"][
        "id"
    ]


def call_input(contact_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "contactId": contact_id,
        "occurredAt": ago(minutes=10).isoformat(),
        "direction": "INBOUND",
        "durationSeconds": 754,
        "outcome": "SPOKE",
        "summary": "Asked about the annual plan",
        "recordingUrl": "https://recordings.example.com/c/1.mp3",
        **overrides,
    }


async def test_a_logged_call_lists_with_the_past_calls_and_is_journaled(api: Api, acme: Tenant) -> None:
    rep = api.as_(acme.rep_key)
    ada = await new_contact(rep)
    occurred = ago(minutes=10)
    logged = (await rep.data(LOG, {"i": call_input(ada, occurredAt=occurred.isoformat())}))["logCall"]
    assert logged["direction"] == "INBOUND" and logged["durationSeconds"] == 754
    assert logged["durationMinutes"] == 13  # rounded up: endsAt covers the whole call
    assert datetime.fromisoformat(logged["scheduledAt"]) == occurred
    assert datetime.fromisoformat(logged["endsAt"]) == occurred + timedelta(minutes=13)
    assert (logged["outcome"], logged["summary"]) == ("SPOKE", "Asked about the annual plan")
    assert logged["eventName"] == "Inbound call" and logged["isUpcoming"] is False
    assert logged["badges"] == ["RECORDED"]  # an outcome already: no NEEDS_OUTCOME
    assert logged["bookedBy"] == {"name": "Acme Rep"} and logged["contact"]["id"] == ada

    # With a booked call of the past (straight into the table: booking one needs a future time)
    # and one ahead: the logged ones list among the past calls, newest first.
    contact_id = decode_id(ada, "Contact")
    await CallModel.create(
        contact_id=contact_id, event_name="Discovery", scheduled_at=ago(hours=2), duration_minutes=30
    )
    missed = call_input(
        ada,
        occurredAt=ago(minutes=1).isoformat(),
        direction="OUTBOUND",
        durationSeconds=0,
        outcome="NO_ANSWER",
        summary=None,
        recordingUrl=None,
    )
    later = await rep.data(LOG, {"i": missed})
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    booked = await rep.data(SCHEDULE, {"i": {"contactId": ada, "scheduledAt": soon, "eventName": "Demo"}})
    card = (await rep.data(CARD, {"id": ada}))["contact"]
    assert [(c["eventName"], c["direction"]) for c in card["past"]] == [
        ("Outbound call", "OUTBOUND"),
        ("Inbound call", "INBOUND"),
        ("Discovery", None),
    ]
    assert card["past"][0]["id"] == later["logCall"]["id"]
    assert (card["past"][0]["durationSeconds"], card["past"][0]["durationMinutes"]) == (0, 0)
    assert card["upcoming"] == [{"id": booked["scheduleCall"]["id"], "direction": None}]

    entries = [n for n in card["journey"]["nodes"] if n["kind"] == "CALL_LOGGED"]
    assert len(entries) == 2
    first = entries[-1]
    assert first["subjectType"] == "Call" and first["subjectId"] == logged["id"]
    assert first["summary"].startswith("Acme Rep logged an inbound call at ")
    assert first["summary"].endswith("(12:34): spoke")
    assert {c["field"]: c["after"] for c in first["changes"]} == {
        "scheduledAt": occurred.isoformat(),
        "direction": "INBOUND",
        "durationSeconds": 754,
        "outcome": "SPOKE",
    }


async def test_bad_input_is_refused_and_logs_nothing(api: Api, acme: Tenant, globex: Tenant) -> None:
    admin = api.as_(acme.admin_key)
    ada = await new_contact(admin)
    theirs = await new_contact(api.as_(globex.admin_key))
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    cases = [
        (call_input(ada, occurredAt=future), "BAD_USER_INPUT", "occurredAt", "in the future"),
        (call_input(ada, occurredAt="2026-01-01T10:00:00"), "BAD_USER_INPUT", "occurredAt", "timezone"),
        (call_input(ada, occurredAt="1850-01-01T10:00:00Z"), "BAD_USER_INPUT", "occurredAt", "between"),
        (call_input(ada, durationSeconds=-1), "BAD_USER_INPUT", "durationSeconds", "between 0 and 86400"),
        (call_input(ada, durationSeconds=86401), "BAD_USER_INPUT", "durationSeconds", "24 hours"),
        (call_input(ada, summary="x" * 5001), "BAD_USER_INPUT", "summary", "5000"),
        (call_input(ada, recordingUrl="ftp://x.example.com/a"), "BAD_USER_INPUT", "recordingUrl", ""),
        (call_input(theirs), "NOT_FOUND", None, "no contact"),
        (call_input("not-an-id"), "BAD_USER_INPUT", "contactId", ""),
    ]
    for values, code, field, words in cases:
        error = await admin.error(LOG, {"i": values})
        assert error["extensions"]["code"] == code, (values, error)
        if field:
            assert error["extensions"].get("field") == field, (values, error)
        assert words in error["message"], (values, error)
    # An unknown direction or outcome is refused by the schema itself.
    error = await admin.error(LOG, {"i": call_input(ada, direction="SIDEWAYS")})
    assert "SIDEWAYS" in error["message"]
    assert await CallModel.all().count() == 0


class CallRecorder:
    name = "call-recorder"

    def __init__(self) -> None:
        self.events: list[CardEvent] = []

    @hookimpl
    def call_logged(self, event: CardEvent) -> None:
        self.events.append(event)


async def test_call_logged_fires_with_the_call(running_app: AppFactory) -> None:
    recorder = CallRecorder()
    async with running_app(plugins=(recorder,), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.manager_key)
        ada = await new_contact(api)
        occurred = ago(minutes=3)
        logged = await api.data(LOG, {"i": call_input(ada, occurredAt=occurred.isoformat())})
        await app.runtime.dispatcher.drain()
        (event,) = recorder.events
        assert event.kind == "CALL_LOGGED" and event.subject_type == "Call"
        assert event.subject_id == decode_id(logged["logCall"]["id"], "Call")
        assert event.subject == {
            "direction": "INBOUND",
            "occurredAt": occurred.isoformat(),
            "durationSeconds": 754,
            "outcome": "SPOKE",
            "summary": "Asked about the annual plan",
            "recordingUrl": "https://recordings.example.com/c/1.mp3",
        }
