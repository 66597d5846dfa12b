"""Notifications (C9): due tasks and call reminders fire once per due time, through the outbox.

The due time is an outbox row not claimed before its time (crm/services/reminders.py). These
tests prove the issue's rules on both backends: a task due in the past on create fires at once;
a due time moved twice fires once, at the last time; a cancelled or completed task never fires;
a rescheduled call is reminded of at its new time only; a row delivered twice (its worker died
after the commit) notifies once. With PostgreSQL, two `dossier worker` processes deliver a batch
of due rows (each written twice) and notify once per due time. Then the inbox
(`notifications`, `markNotificationsRead`, the subscription) and the built-in email and SMS.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from strawberry import relay

from crm import outbox
from crm.clock import utcnow
from crm.events import ReminderEvent
from crm.models import JourneyEvent, Notification, OutboxRow, ReminderReceipt
from crm.services import reminders
from dossier import Settings, create_app
from graph.ids import global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant, twilio_app
from tests.fakes.smtp import FakeSmtpServer
from tests.fakes.twilio_api import FakeTwilio

ROOT = Path(__file__).resolve().parent.parent
CREATE_CONTACT = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
CREATE_TASK = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id dueAt } }"
UPDATE_TASK = "mutation($input: UpdateTaskInput!) { updateTask(input: $input) { id dueAt } }"
COMPLETE_TASK = "mutation($input: CompleteTaskInput!) { completeTask(input: $input) { id status } }"
CANCEL_TASK = "mutation($input: CancelTaskInput!) { cancelTask(input: $input) { id status } }"
SCHEDULE_CALL = "mutation($input: ScheduleCallInput!) { scheduleCall(input: $input) { id } }"
RESCHEDULE_CALL = "mutation($input: RescheduleCallInput!) { rescheduleCall(input: $input) { id } }"
CANCEL_CALL = "mutation($input: CancelCallInput!) { cancelCall(input: $input) { id } }"
INBOX = """
query($unread: Boolean, $first: Int = 20, $after: String) {
  notifications(unread: $unread, first: $first, after: $after) {
    unreadCount totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id kind title body dueAt readAt read contact { id } task { id title } call { id eventName } }
  }
}
"""
MARK_READ = """
mutation($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) { unreadCount notifications { id read readAt } }
}
"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Notification { kind title } } }"
JOURNEY = """
query($id: ID!) { contact(id: $id) { journey(first: 100) { nodes { kind summary actor { kind name } } } } }
"""
VIEWER = "{ viewer { user { id phone } account { notifyBySms } } }"
SET_PHONE = "mutation($input: SetUserPhoneInput!) { setUserPhone(input: $input) { id phone } }"
SETTINGS = (
    "mutation($input: UpdateAccountSettingsInput!) { updateAccountSettings(input: $input) { notifyBySms } }"
)
PROBE = "reminder-probe"


def db_id(global_id: str) -> int:
    return int(relay.GlobalID.from_id(global_id).node_id)


def gid(type_name: str, number: Any) -> str:
    return global_id_text(type_name, int(number))


def iso(when: datetime) -> str:
    return when.isoformat()


class Listener:
    """A partner plugin: records every task_due / call_reminder it is given."""

    name = PROBE

    def __init__(self) -> None:
        self.events: list[ReminderEvent] = []

    @hookimpl
    async def task_due(self, event: ReminderEvent) -> None:
        self.events.append(event)

    @hookimpl
    async def call_reminder(self, event: ReminderEvent) -> None:
        self.events.append(event)


class Desk:
    """An account's admin at work: a card, tasks and calls on it, the inbox, the dispatcher."""

    def __init__(self, api: Api, tenant: Tenant) -> None:
        self.api = api.as_(tenant.admin_key)
        self.tenant = tenant

    async def contact(self, first_name: str = "Ada") -> str:
        data = await self.api.data(CREATE_CONTACT, {"input": {"firstName": first_name}})
        return str(data["createContact"]["id"])

    async def task(self, contact_id: str, due: datetime | None, title: str = "Call back", **more: Any) -> str:
        values = {"contactId": contact_id, "kind": "TASK", "title": title, "dueAt": iso(due) if due else None}
        data = await self.api.data(CREATE_TASK, {"input": {**values, **more}})
        return str(data["createTask"]["id"])

    async def move_task(self, task_id: str, due: datetime) -> None:
        await self.api.data(UPDATE_TASK, {"input": {"id": task_id, "dueAt": iso(due)}})

    async def call(self, contact_id: str, at: datetime) -> str:
        values = {"contactId": contact_id, "scheduledAt": iso(at), "eventName": "Discovery call"}
        return str((await self.api.data(SCHEDULE_CALL, {"input": values}))["scheduleCall"]["id"])

    async def inbox(self, key: str | None = None, **variables: Any) -> dict[str, Any]:
        return dict((await self.api.data(INBOX, variables, key=key))["notifications"])

    async def drain(self) -> int:
        return int(await self.api.runtime.dispatcher.drain())

    async def journey_kinds(self, contact_id: str) -> list[str]:
        data = await self.api.data(JOURNEY, {"id": contact_id})
        return [e["kind"] for e in data["contact"]["journey"]["nodes"]]


async def pending_reminders() -> list[OutboxRow]:
    return await OutboxRow.filter(plugin=reminders.REMINDER_PLUGIN, status="PENDING").order_by("id")


async def claim_reminder() -> outbox.Delivery:
    """Claim the one due reminder row as a worker would (other due rows are left unclaimed)."""
    claimed = await outbox.claim_due(50, lease_seconds=30)
    [mine] = [d for d in claimed if d.plugin == reminders.REMINDER_PLUGIN]
    await OutboxRow.filter(id__in=[d.id for d in claimed if d is not mine]).update(locked_until=None)
    return mine


async def deliver_when_due(desk: Desk, done: Callable[[], Awaitable[bool]], what: str) -> None:
    """Deliver whatever falls due until `done` holds: for rows a second or two ahead."""
    deadline = time.monotonic() + 30
    while True:
        await desk.drain()
        if await done():
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def listener() -> Listener:
    return Listener()


@pytest.fixture
async def desk(running_app: AppFactory, listener: Listener) -> Any:
    async with running_app(plugins=(listener,)) as api:
        yield Desk(api, await make_tenant("Acme"))


# --------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------


async def test_a_task_due_in_the_past_on_create_fires_at_once(desk: Desk, listener: Listener) -> None:
    contact = await desk.contact()
    due = utcnow() - timedelta(hours=1)
    task = await desk.task(contact, due, title="Send the quote")

    await desk.drain()

    inbox = await desk.inbox()
    assert inbox["unreadCount"] == inbox["totalCount"] == 1
    [note] = inbox["nodes"]
    assert note["kind"] == "TASK_DUE"
    assert note["title"] == "Task due: Send the quote"
    assert note["task"] == {"id": task, "title": "Send the quote"}
    assert note["contact"] == {"id": contact} and note["call"] is None
    assert note["read"] is False and note["readAt"] is None
    assert datetime.fromisoformat(note["dueAt"]) == due.replace(microsecond=due.microsecond)
    # Journaled on the card, by the system.
    assert (await desk.journey_kinds(contact)).count("NOTIFICATION_SENT") == 1
    # The partner hook, once, with the recipient (the caller: the task's default assignee).
    [event] = listener.events
    assert (event.kind, event.subject_type, event.subject_id) == ("TASK_DUE", "Task", db_id(task))
    assert [(r.user_id, r.email) for r in event.recipients] == [
        (desk.tenant.user_ids["admin"], "admin@acme.example.com")
    ]
    assert event.contact_id == db_id(contact) and event.due_at == due
    # Nothing is left to fire; draining again notifies nobody twice.
    assert await pending_reminders() == []
    await desk.drain()
    assert (await desk.inbox())["totalCount"] == 1 and len(listener.events) == 1


async def test_a_due_time_moved_twice_fires_once_at_the_last_time(desk: Desk, listener: Listener) -> None:
    contact = await desk.contact()
    task = await desk.task(contact, utcnow() + timedelta(hours=1))
    [first_row] = await pending_reminders()
    await desk.move_task(task, utcnow() + timedelta(hours=2))
    last = utcnow() + timedelta(seconds=1.5)
    await desk.move_task(task, last)

    # One row left, due at the last time; the superseded ones are gone.
    [row] = await pending_reminders()
    assert row.next_attempt_at == last
    assert row.payload["version"] == "2"
    # A superseded row that survived (a worker held it during the move) is due now: stale.
    await OutboxRow.create(
        account_id=first_row.account_id, contact_id=first_row.contact_id, hook=first_row.hook,
        plugin=first_row.plugin, payload=first_row.payload, next_attempt_at=utcnow(),
    )  # fmt: skip

    async def notified() -> bool:
        return await Notification.exists()

    await deliver_when_due(desk, notified, "the last due time")
    await desk.drain()

    [note] = (await desk.inbox())["nodes"]
    assert datetime.fromisoformat(note["dueAt"]) == last
    [event] = listener.events
    assert (event.version, event.due_at) == ("2", last)
    assert (await desk.journey_kinds(contact)).count("NOTIFICATION_SENT") == 1
    statuses = await OutboxRow.filter(plugin=reminders.REMINDER_PLUGIN).values_list("status", flat=True)
    assert sorted(statuses) == ["DELIVERED", "DELIVERED"]  # the stale copy was delivered as a no-op


@pytest.mark.parametrize("mutation", [CANCEL_TASK, COMPLETE_TASK], ids=["cancelled", "completed"])
async def test_a_cancelled_or_completed_task_never_fires(
    desk: Desk, listener: Listener, mutation: str
) -> None:
    contact = await desk.contact()
    early = await desk.task(contact, utcnow() - timedelta(minutes=5), title="Due, then closed")
    # Its row was claimed by a worker when the task was closed: it stays, and finds itself stale.
    held = await desk.task(contact, utcnow() - timedelta(minutes=5), title="Held, then closed")
    claimed = [d for d in await outbox.claim_due(50, 30) if d.payload.get("subjectId") == db_id(held)]
    assert len(claimed) == 1
    others = OutboxRow.filter(locked_until__isnull=False).exclude(id=claimed[0].id)
    await others.update(locked_until=None)  # only the held row stays claimed

    await desk.api.data(mutation, {"input": {"id": early}})
    await desk.api.data(mutation, {"input": {"id": held}})
    assert [r.payload["subjectId"] for r in await pending_reminders()] == [db_id(held)]
    await OutboxRow.filter(id=claimed[0].id).update(locked_until=utcnow() - timedelta(seconds=1))

    await desk.drain()

    assert (await desk.inbox())["totalCount"] == 0
    assert listener.events == []
    assert "NOTIFICATION_SENT" not in await desk.journey_kinds(contact)
    assert await ReminderReceipt.all().count() == 0
    assert await pending_reminders() == []


async def test_a_task_without_a_due_time_never_fires_and_gets_one_when_given(desk: Desk) -> None:
    contact = await desk.contact()
    task = await desk.task(contact, None)
    assert await pending_reminders() == []
    await desk.move_task(task, utcnow() - timedelta(seconds=1))
    await desk.drain()
    assert (await desk.inbox())["totalCount"] == 1


async def test_the_assignee_is_notified_else_the_owner(desk: Desk) -> None:
    contact = await desk.contact()
    rep_id = gid("User", desk.tenant.user_ids["rep"])
    await desk.task(contact, utcnow() - timedelta(minutes=1), title="For the rep", assigneeId=rep_id)
    await desk.task(contact, utcnow() - timedelta(minutes=1), title="Nobody's yet", assigneeId=None)
    await desk.drain()

    rep_inbox = await desk.inbox(key=desk.tenant.rep_key)
    assert [n["title"] for n in rep_inbox["nodes"]] == ["Task due: For the rep"]
    admin_inbox = await desk.inbox()  # the owner (its creator) when nobody is assigned
    assert [n["title"] for n in admin_inbox["nodes"]] == ["Task due: Nobody's yet"]
    assert (await desk.inbox(key=desk.tenant.manager_key))["totalCount"] == 0


# --------------------------------------------------------------------------------------
# Calls
# --------------------------------------------------------------------------------------


async def test_a_rescheduled_call_is_reminded_of_at_its_new_time_only(desk: Desk, listener: Listener) -> None:
    contact = await desk.contact()
    # 15 minutes before: a call 10 minutes ahead is reminded of at once, one 3 hours ahead later.
    call = await desk.call(contact, utcnow() + timedelta(minutes=10))
    await desk.api.data(
        RESCHEDULE_CALL, {"input": {"id": call, "scheduledAt": iso(utcnow() + timedelta(hours=3))}}
    )
    [row] = await pending_reminders()
    assert row.payload["version"] == "1"
    await desk.drain()
    assert (await desk.inbox())["totalCount"] == 0  # the old time fires nothing

    at = utcnow() + timedelta(minutes=5)
    await desk.api.data(RESCHEDULE_CALL, {"input": {"id": call, "scheduledAt": iso(at)}})
    await desk.drain()

    [note] = (await desk.inbox())["nodes"]
    assert note["kind"] == "CALL_REMINDER" and note["title"] == "Coming call: Discovery call"
    assert note["call"] == {"id": call, "eventName": "Discovery call"} and note["task"] is None
    assert datetime.fromisoformat(note["dueAt"]) == at
    [event] = listener.events
    assert (event.kind, event.subject_type, event.version, event.due_at) == ("CALL_REMINDER", "Call", "2", at)
    assert [r.user_id for r in event.recipients] == [desk.tenant.user_ids["admin"]]  # who booked it
    assert (await desk.journey_kinds(contact)).count("NOTIFICATION_SENT") == 1


async def test_a_cancelled_call_is_never_reminded_of(desk: Desk, listener: Listener) -> None:
    contact = await desk.contact()
    call = await desk.call(contact, utcnow() + timedelta(minutes=10))
    await desk.api.data(CANCEL_CALL, {"input": {"id": call}})
    assert await pending_reminders() == []
    await desk.drain()
    assert (await desk.inbox())["totalCount"] == 0 and listener.events == []


async def test_the_reminder_lead_is_a_setting(running_app: AppFactory) -> None:
    assert Settings.from_env({}).call_reminder_minutes == 15.0
    assert Settings.from_env({"DOSSIER_CALL_REMINDER_MINUTES": "60"}).call_reminder_minutes == 60.0
    async with running_app(call_reminder_minutes=60) as api:
        desk = Desk(api, await make_tenant("Acme"))
        at = utcnow() + timedelta(hours=2)
        await desk.call(await desk.contact(), at)
        [row] = await pending_reminders()
        assert row.next_attempt_at == at - timedelta(minutes=60)


# --------------------------------------------------------------------------------------
# Delivered twice, and a dispatcher killed mid-delivery
# --------------------------------------------------------------------------------------


async def test_a_row_delivered_again_after_its_worker_died_past_the_commit_notifies_once(
    desk: Desk, listener: Listener
) -> None:
    """The worker claimed the due row, committed the notification, and died before it could
    mark the row delivered: the row comes back after its lease and is delivered again."""
    contact = await desk.contact()
    await desk.task(contact, utcnow() - timedelta(minutes=1))
    claimed = await claim_reminder()
    assert await reminders.deliver(claimed.payload) is True  # committed ... and the worker dies
    await OutboxRow.filter(id=claimed.id).update(locked_until=utcnow() - timedelta(seconds=1))

    await desk.drain()

    row = await OutboxRow.get(id=claimed.id)
    assert (row.status, row.attempts) == ("DELIVERED", 2)
    assert (await desk.inbox())["totalCount"] == 1
    assert (await desk.journey_kinds(contact)).count("NOTIFICATION_SENT") == 1
    assert len(listener.events) == 1  # its hook row was written once, by the first delivery
    assert await reminders.deliver(claimed.payload) is False  # and any later copy does nothing


async def test_a_dispatcher_killed_before_the_commit_still_delivers_once(
    desk: Desk, listener: Listener
) -> None:
    """The worker claimed the due row and died before its transaction committed."""
    contact = await desk.contact()
    await desk.task(contact, utcnow() - timedelta(minutes=1))
    claimed = await claim_reminder()
    await OutboxRow.filter(id=claimed.id).update(locked_until=utcnow() - timedelta(seconds=1))

    await desk.drain()

    assert (await desk.inbox())["totalCount"] == 1
    assert len(listener.events) == 1
    assert (await OutboxRow.get(id=claimed.id)).status == "DELIVERED"


# --------------------------------------------------------------------------------------
# The inbox
# --------------------------------------------------------------------------------------


async def notifications_for(desk: Desk, count: int) -> list[str]:
    contact = await desk.contact()
    for n in range(count):
        await desk.task(contact, utcnow() - timedelta(minutes=count - n), title=f"Task {n}")
    await desk.drain()
    return [n["id"] for n in (await desk.inbox(first=100))["nodes"]]


async def test_the_inbox_pages_filters_and_marks_read(desk: Desk) -> None:
    ids = await notifications_for(desk, 3)
    assert len(ids) == 3

    page = await desk.inbox(first=2)
    assert [n["id"] for n in page["nodes"]] == ids[:2] and page["pageInfo"]["hasNextPage"] is True
    rest = await desk.inbox(first=2, after=page["pageInfo"]["endCursor"])
    assert [n["id"] for n in rest["nodes"]] == ids[2:] and rest["pageInfo"]["hasNextPage"] is False

    marked = (await desk.api.data(MARK_READ, {"input": {"ids": [ids[1], ids[1]]}}))["markNotificationsRead"]
    assert marked["unreadCount"] == 2
    [one] = marked["notifications"]
    assert one["id"] == ids[1] and one["read"] is True and one["readAt"] is not None
    again = (await desk.api.data(MARK_READ, {"input": {"ids": [ids[1]]}}))["markNotificationsRead"]
    assert again["notifications"][0]["readAt"] == one["readAt"]  # read once, its time kept

    unread = await desk.inbox(unread=True)
    assert [n["id"] for n in unread["nodes"]] == [ids[0], ids[2]]
    assert (unread["unreadCount"], unread["totalCount"]) == (2, 2)
    read = await desk.inbox(unread=False)
    assert [n["id"] for n in read["nodes"]] == [ids[1]] and read["unreadCount"] == 2

    node = (await desk.api.data(NODE, {"id": ids[0]}))["node"]
    newest = (await desk.inbox(first=1))["nodes"][0]  # rows fall due together: any order
    assert node == {"id": ids[0], "kind": "TASK_DUE", "title": newest["title"]}


async def test_nobody_else_reads_or_marks_a_users_notifications(desk: Desk) -> None:
    [mine] = await notifications_for(desk, 1)
    globex = await make_tenant("Globex")
    for key in (desk.tenant.rep_key, globex.admin_key):  # another user; another account
        assert (await desk.inbox(key=key))["totalCount"] == 0
        error = await desk.api.error(MARK_READ, {"input": {"ids": [mine]}}, key=key)
        assert error["extensions"]["code"] == "NOT_FOUND"
        assert (await desk.api.error(NODE, {"id": mine}, key=key))["extensions"]["code"] == "NOT_FOUND"
    # One id that is not the caller's refuses the whole request: nothing was marked.
    missing = gid("Notification", "999999")
    error = await desk.api.error(MARK_READ, {"input": {"ids": [mine, missing]}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert (await desk.inbox())["unreadCount"] == 1


@pytest.mark.parametrize(
    ("ids", "words"),
    [
        ([], "1 to 100"),
        ([gid("Notification", n) for n in range(1, 102)], "1 to 100"),
        ([gid("Contact", "1")], "not a Notification id"),
        (["nonsense"], "not a valid Notification id"),
    ],
    ids=["none", "too-many", "wrong-type", "not-an-id"],
)
async def test_bad_ids_are_refused_and_change_nothing(desk: Desk, ids: list[str], words: str) -> None:
    await notifications_for(desk, 1)
    error = await desk.api.error(MARK_READ, {"input": {"ids": ids}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert words in error["message"]
    assert (await desk.inbox())["unreadCount"] == 1


def test_the_subscription_tells_the_user_of_new_and_read_notifications(settings: Settings) -> None:
    protocol = ["graphql-transport-ws"]
    query = "subscription { notifications { id kind title read } }"
    with TestClient(create_app(settings)) as client:
        acme = client.portal.call(make_tenant, "Acme")
        api_headers = {"Authorization": f"Bearer {acme.admin_key}"}

        def post(document: str, variables: dict[str, Any]) -> dict[str, Any]:
            body = client.post(
                "/graphql", json={"query": document, "variables": variables}, headers=api_headers
            ).json()
            assert not body.get("errors"), body
            return dict(body["data"])

        contact = post(CREATE_CONTACT, {"input": {"firstName": "Ada"}})["createContact"]["id"]
        with client.websocket_connect("/graphql", subprotocols=protocol) as ws, \
                client.websocket_connect("/graphql", subprotocols=protocol) as other:  # fmt: skip
            for socket, key in ((ws, acme.admin_key), (other, acme.rep_key)):
                socket.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
                assert socket.receive_json() == {"type": "connection_ack"}
                socket.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
            broker = client.app.state.dossier.broker  # type: ignore[attr-defined]

            async def listening() -> None:
                from crm.models import User
                from crm.services.notifications import notifications_channel

                admin = await User.get(id=acme.user_ids["admin"])
                rep = await User.get(id=acme.user_ids["rep"])
                async with asyncio.timeout(10):
                    for user in (admin, rep):
                        while await broker.listeners(notifications_channel(user.account_id, user.id)) == 0:  # type: ignore[attr-defined]
                            await asyncio.sleep(0.01)

            client.portal.call(listening)
            due = iso(utcnow() - timedelta(minutes=1))
            post(
                CREATE_TASK,
                {"input": {"contactId": contact, "kind": "TASK", "title": "Ring Ada", "dueAt": due}},
            )
            client.portal.call(client.app.state.dossier.dispatcher.drain)  # type: ignore[attr-defined]

            new = ws.receive_json()
            assert new["type"] == "next"
            got = new["payload"]["data"]["notifications"]
            assert (got["kind"], got["title"], got["read"]) == ("TASK_DUE", "Task due: Ring Ada", False)
            post(MARK_READ, {"input": {"ids": [got["id"]]}})
            read = ws.receive_json()["payload"]["data"]["notifications"]
            assert (read["id"], read["read"]) == (got["id"], True)

            other.send_json({"type": "ping"})
            assert other.receive_json() == {"type": "pong"}  # the rep heard nothing of the admin's


# --------------------------------------------------------------------------------------
# Built-in delivery: email, SMS
# --------------------------------------------------------------------------------------


async def test_the_assignee_gets_an_email(running_app: AppFactory) -> None:
    with FakeSmtpServer() as smtp:
        async with running_app(env=smtp.env()) as api:
            desk = Desk(api, await make_tenant("Acme"))
            await desk.task(
                await desk.contact("Grace"), utcnow() - timedelta(minutes=1), title="Send contract"
            )
            await desk.drain()
            [mail] = smtp.received
            assert mail.rcpt_tos == ["admin@acme.example.com"]
            assert mail.message["Subject"] == "Task due: Send contract"
            assert "Grace" in mail.message.get_content()
            assert mail.message["Message-ID"].startswith("<reminder.")


async def test_reminders_are_texted_when_the_account_enables_it_and_the_user_has_a_phone(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio) as api:
        viewer = (await api.data(VIEWER))["viewer"]
        assert viewer["user"]["phone"] is None and viewer["account"]["notifyBySms"] is False
        user_id = viewer["user"]["id"]
        phone = await api.data(SET_PHONE, {"input": {"userId": user_id, "phone": "(415) 555-0134"}})
        assert phone["setUserPhone"] == {"id": user_id, "phone": "+14155550134"}
        contact = (await api.data(CREATE_CONTACT, {"input": {"firstName": "Lin"}}))["createContact"]["id"]
        due = iso(utcnow() - timedelta(minutes=1))
        task = {"contactId": contact, "kind": "TASK", "dueAt": due}

        await api.data(CREATE_TASK, {"input": {**task, "title": "Not texted"}})
        await api.runtime.dispatcher.drain()
        assert twilio.accepted == []  # the account has not switched texts on

        assert (await api.data(SETTINGS, {"input": {"notifyBySms": True}}))["updateAccountSettings"] == {
            "notifyBySms": True
        }
        await api.data(CREATE_TASK, {"input": {**task, "title": "Texted"}})
        await api.runtime.dispatcher.drain()
        [text] = twilio.accepted
        assert text["to"] == "+14155550134" and text["body"].startswith("Task due: Texted.")


async def test_user_phones_and_the_sms_switch_refuse_bad_input(desk: Desk) -> None:
    admin_id = gid("User", desk.tenant.user_ids["admin"])
    rep_id = gid("User", desk.tenant.user_ids["rep"])
    bad = await desk.api.error(SET_PHONE, {"input": {"userId": admin_id, "phone": "12"}})
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and "phone" in bad["message"]
    denied = await desk.api.error(
        SET_PHONE, {"input": {"userId": admin_id, "phone": "+14155550100"}}, key=desk.tenant.rep_key
    )
    assert denied["extensions"]["code"] == "FORBIDDEN"
    own = await desk.api.data(
        SET_PHONE, {"input": {"userId": rep_id, "phone": "+14155550100"}}, key=desk.tenant.rep_key
    )
    assert own["setUserPhone"]["phone"] == "+14155550100"
    globex = await make_tenant("Globex")
    elsewhere = await desk.api.error(
        SET_PHONE, {"input": {"userId": admin_id, "phone": None}}, key=globex.admin_key
    )
    assert elsewhere["extensions"]["code"] == "NOT_FOUND"
    switch = await desk.api.error(SETTINGS, {"input": {"notifyBySms": True}}, key=desk.tenant.rep_key)
    assert switch["extensions"]["code"] == "FORBIDDEN"
    null = await desk.api.error(SETTINGS, {"input": {"notifyBySms": None}})
    assert null["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await desk.api.data(VIEWER))["viewer"] == {
        "user": {"id": admin_id, "phone": None},
        "account": {"notifyBySms": False},
    }


# --------------------------------------------------------------------------------------
# Two `dossier worker` processes (PostgreSQL)
# --------------------------------------------------------------------------------------

PROBE_MODULE = """
import os

from plugins import hookimpl


class Probe:
    name = "reminder-probe"

    @hookimpl
    def task_due(self, event):
        with open(os.path.join(os.environ["DOSSIER_PROBE_DIR"], f"{os.getpid()}.log"), "a") as out:
            out.write(event.id + "\\n")
"""


@pytest.fixture
def postgres_only(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("several workers need PostgreSQL (FOR UPDATE SKIP LOCKED)")
    return database_url


# The same probe, whose event_audience -- asked inside the notifying transaction, before its
# commit -- SIGKILLs the first worker that gets that far: killed between claiming a due row and
# finishing it.
KILLER_MODULE = (
    PROBE_MODULE.replace("import os\n", "import os\nimport signal\n")
    + """

    @hookimpl
    def event_audience(self):
        async def audience(conn, account_id, hook):
            marker = os.path.join(os.environ["DOSSIER_PROBE_DIR"], "killed")
            if hook == "task_due" and not os.path.exists(marker):
                with open(marker, "w") as out:
                    out.write(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
            return True

        return audience
"""
)


class Workers:
    def __init__(self, tmp_path: Path, database_url: str, module: str = PROBE_MODULE) -> None:
        site = tmp_path / "site"
        site.mkdir()
        (site / "dossier_reminder_probe.py").write_text(module)
        dist = site / "dossier_reminder_probe-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dossier-reminder-probe\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text(f"[dossier.plugins]\n{PROBE} = dossier_reminder_probe:Probe\n")
        self.out = tmp_path / "probe"
        self.out.mkdir()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")},
            "DOSSIER_DATABASE_URL": database_url,
            "DOSSIER_DISABLED_PLUGINS": ",".join(builtin_names()),
            "DOSSIER_PROBE_DIR": str(self.out),
            "DOSSIER_OUTBOX_POLL_INTERVAL": "0.2",
            "DOSSIER_OUTBOX_LEASE_SECONDS": "1",  # a killed worker's row comes back within a second
            "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self) -> None:
        log = self.out.parent / f"worker-{len(self.processes)}.out"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "dossier.cli", "worker"],
                env=self.env, cwd=self.out.parent, stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append((process, log))

    def check_alive(self) -> None:
        for process, log in self.processes:
            assert process.poll() is None, f"a worker exited early:\n{log.read_text()}"

    def seen(self) -> collections.Counter[str]:
        return collections.Counter(line for f in self.out.glob("*.log") for line in f.read_text().split())

    def stop(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


@pytest.fixture
def workers(postgres_only: str, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path, postgres_only)
    yield started
    started.stop()


async def test_two_worker_processes_notify_once_per_due_time(
    running_app: AppFactory, workers: Workers
) -> None:
    async with running_app(disabled_plugins=builtin_names()) as app:
        desk = Desk(app, await make_tenant("Acme"))
        contact = await desk.contact()
        tasks = [await desk.task(contact, utcnow() - timedelta(minutes=1), title=f"T{n}") for n in range(12)]
        # Every due row twice, as if each had been written (or claimed) twice.
        for row in await pending_reminders():
            await OutboxRow.create(
                account_id=row.account_id, contact_id=row.contact_id, hook=row.hook, plugin=row.plugin,
                payload=row.payload, next_attempt_at=row.next_attempt_at,
            )  # fmt: skip
        assert len(await pending_reminders()) == 2 * len(tasks)

        workers.start()
        workers.start()

        async def settled() -> bool:
            pending = await OutboxRow.filter(status="PENDING").count()
            return pending == 0 and await OutboxRow.filter(plugin=PROBE).exists()

        deadline = time.monotonic() + 60
        while not await settled():
            workers.check_alive()
            assert time.monotonic() < deadline, "timed out waiting for the workers"
            await asyncio.sleep(0.05)

        assert await Notification.all().count() == len(tasks)
        assert await ReminderReceipt.all().count() == len(tasks)
        kinds = await JourneyEvent.filter(kind="NOTIFICATION_SENT").count()
        assert kinds == len(tasks)
        seen = workers.seen()
        assert len(seen) == len(tasks) and set(seen.values()) == {1}  # each event once
        statuses = await OutboxRow.filter(plugin=reminders.REMINDER_PLUGIN).values_list("status", flat=True)
        assert set(statuses) == {"DELIVERED"}


async def test_a_worker_killed_between_claiming_a_due_row_and_finishing_it(
    running_app: AppFactory, postgres_only: str, tmp_path: Path
) -> None:
    workers = Workers(tmp_path, postgres_only, KILLER_MODULE)
    try:
        async with running_app(disabled_plugins=builtin_names()) as app:
            desk = Desk(app, await make_tenant("Acme"))
            contact = await desk.contact()
            await desk.task(contact, utcnow() - timedelta(minutes=1))
            marker = workers.out / "killed"
            workers.start()
            deadline = time.monotonic() + 60
            while not (marker.exists() and workers.processes[0][0].poll() is not None):
                assert time.monotonic() < deadline, "the first worker was never killed"
                await asyncio.sleep(0.05)
            assert await Notification.all().count() == 0  # its transaction died with it

            workers.start()  # as a supervisor would

            async def settled() -> bool:
                return await OutboxRow.filter(status="PENDING").count() == 0 and bool(workers.seen())

            while not await settled():
                assert time.monotonic() < deadline, "timed out waiting for the second worker"
                await asyncio.sleep(0.05)

            assert await Notification.all().count() == 1
            assert (await desk.journey_kinds(contact)).count("NOTIFICATION_SENT") == 1
            assert list(workers.seen().values()) == [1]
            [row] = await OutboxRow.filter(plugin=reminders.REMINDER_PLUGIN)
            assert (row.status, row.attempts) == ("DELIVERED", 2)  # the killed claim counted
    finally:
        workers.stop()


def test_reminder_events_survive_the_outbox_as_json() -> None:
    from crm.events import ContactSnapshot, Recipient, event_from_json

    event = ReminderEvent(
        id="e1", kind="TASK_DUE", account_id=1, contact_id=2, occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        due_at=datetime(2026, 1, 1, 9, tzinfo=UTC), subject_type="Task", subject_id=3, version="0",
        title="Task due: x", body="x",
        contact=ContactSnapshot(2, 1, "Ada", "Ada", None, None, None, None, "lead", None),
        recipients=(Recipient(4, "Rep", "rep@example.com", "+14155550100"),), notify_by_sms=True,
    )  # fmt: skip
    assert event_from_json(event.to_json()) == event


async def test_the_readme_examples_run(desk: Desk) -> None:
    import re

    text = (ROOT / "README.md").read_text()
    section = text.split("### Notifications: due tasks and call reminders", 1)[1].split("\n### ", 1)[0]
    bell, mark = re.findall(r"```graphql\n(.*?)```", section, flags=re.DOTALL)
    [first] = await notifications_for(desk, 1)
    assert first == "Tm90aWZpY2F0aW9uOjE="  # the id the example names: the first notification
    [note] = (await desk.api.data(bell))["notifications"]["nodes"]
    assert note["kind"] == "TASK_DUE" and note["contact"]["firstName"] == "Ada"
    marked = (await desk.api.data(mark))["markNotificationsRead"]
    assert marked["unreadCount"] == 0 and marked["notifications"][0]["readAt"] is not None


async def test_deleting_a_card_deletes_its_notifications_and_its_reminders_fire_nothing(desk: Desk) -> None:
    contact = await desk.contact()
    await desk.task(contact, utcnow() - timedelta(minutes=1))
    await desk.drain()
    await desk.task(contact, utcnow() - timedelta(minutes=1), title="Still pending")  # not yet delivered
    await desk.api.data(
        "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }",
        {"i": {"ids": [contact]}},
    )
    await desk.api.data(
        "mutation($i: DeleteContactsInput!) { deleteContacts(input: $i) { deletedIds } }",
        {"i": {"ids": [contact]}},
    )
    await desk.drain()
    assert await Notification.all().count() == 0
    assert (await desk.inbox())["totalCount"] == 0
    assert await pending_reminders() == []
