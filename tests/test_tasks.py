"""Tasks and upcoming actions (B5): every mutation and its rules, the card's lists, myTasks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from crm.models import Task as TaskModel
from graph.ids import global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant

TASK = """
    id kind title body dueAt durationMinutes endsAt status overdue completedAt
    completedBy { id } assignee { id name } owner { id } contact { id } createdAt updatedAt
"""
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
CREATE = f"mutation($i: CreateTaskInput!) {{ createTask(input: $i) {{ {TASK} }} }}"
UPDATE = f"mutation($i: UpdateTaskInput!) {{ updateTask(input: $i) {{ {TASK} }} }}"
COMPLETE = f"mutation($i: CompleteTaskInput!) {{ completeTask(input: $i) {{ {TASK} }} }}"
REOPEN = f"mutation($i: ReopenTaskInput!) {{ reopenTask(input: $i) {{ {TASK} }} }}"
CANCEL = f"mutation($i: CancelTaskInput!) {{ cancelTask(input: $i) {{ {TASK} }} }}"
SCHEDULE = "mutation($i: ScheduleCallInput!) { scheduleCall(input: $i) { id } }"
JOURNEY = """
query($id: ID!) {
  contact(id: $id) {
    journey(first: 50, kinds: [TASK_CREATED, TASK_UPDATED, TASK_COMPLETED, TASK_REOPENED, TASK_CANCELLED]) {
      nodes { kind summary subjectType subjectId changes { field before after } }
    }
  }
}
"""
TASKS = """
query($id: ID!, $status: [TaskStatus!], $first: Int!, $after: String) {
  contact(id: $id) {
    tasks(status: $status, first: $first, after: $after) {
      edges { cursor node { id title status dueAt } }
      nodes { title }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}
"""
UPCOMING = """
query($id: ID!, $first: Int!) {
  contact(id: $id) {
    upcomingActions(first: $first) {
      __typename
      ... on Task { id title dueAt overdue assignee { name } }
      ... on Call { id eventName scheduledAt bookedBy { name } }
    }
  }
}
"""
MY_TASKS = """
query($due: TaskDue!, $first: Int!, $after: String, $zone: String) {
  myTasks(due: $due, first: $first, after: $after, timeZone: $zone) {
    edges { cursor node { title dueAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def at(days: float = 0, hours: float = 0, offset: str = "+00:00") -> str:
    """A time from now, written with the given offset."""
    sign = 1 if offset[0] == "+" else -1
    zone = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
    when = (datetime.now(UTC) + timedelta(days=days, hours=hours)).replace(microsecond=0)
    return when.astimezone(timezone(zone)).isoformat()


async def new_contact(api: Api, name: str = "Ada") -> str:
    return (await api.data(CREATE_CONTACT, {"i": {"firstName": name, "lastName": "Lovelace"}}))[
        "createContact"
    ]["id"]


async def create(api: Api, contact_id: str, **values: Any) -> dict[str, Any]:
    data = await api.data(
        CREATE, {"i": {"contactId": contact_id, "kind": "TASK", "title": "Call back", **values}}
    )
    return data["createTask"]


async def task_count() -> int:
    return await TaskModel.all().count()


async def journey(api: Api, contact_id: str) -> list[dict[str, Any]]:
    return (await api.data(JOURNEY, {"id": contact_id}))["contact"]["journey"]["nodes"]


# --------------------------------------------------------------------------------------
# createTask
# --------------------------------------------------------------------------------------


async def test_a_task_reads_back_as_it_was_written(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    due = at(days=2, offset="+05:30")
    made = await create(
        as_admin,
        contact_id,
        kind="MEETING",
        title="  Site visit  ",
        body="<b>Bring</b> the <script>alert(1)</script>plans",
        dueAt=due,
        durationMinutes=90,
    )
    assert made["kind"] == "MEETING" and made["title"] == "Site visit"
    assert made["body"] == "<b>Bring</b> the plans"
    assert made["dueAt"] == due  # the offset it was given in
    ends = datetime.fromisoformat(due) + timedelta(minutes=90)
    assert datetime.fromisoformat(made["endsAt"]) == ends
    assert (made["status"], made["overdue"], made["completedAt"], made["completedBy"]) == (
        "OPEN",
        False,
        None,
        None,
    )
    admin = global_id_text("User", acme.user_ids["admin"])
    # Left out, the assignee is the caller; the caller owns it.
    assert made["assignee"]["id"] == admin and made["owner"]["id"] == admin
    assert made["contact"]["id"] == contact_id
    node = await as_admin.data(
        f"query($id: ID!) {{ node(id: $id) {{ ... on Task {{ {TASK} }} }} }}", {"id": made["id"]}
    )
    assert node["node"] == made
    (entry,) = await journey(as_admin, contact_id)
    assert entry["kind"] == "TASK_CREATED" and entry["subjectType"] == "Task"
    changes = {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}
    assert changes["dueAt"] == [None, due] and changes["title"] == [None, "Site visit"]
    assert changes["assigneeId"] == [None, admin] and changes["status"] == [None, "OPEN"]


async def test_a_task_due_in_the_past_is_accepted_and_overdue_at_once(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    made = await create(as_admin, contact_id, dueAt=at(hours=-3))
    assert made["status"] == "OPEN" and made["overdue"] is True


async def test_null_assignee_leaves_it_unassigned_and_another_user_can_be_named(
    as_admin: Api, acme: Tenant
) -> None:
    contact_id = await new_contact(as_admin)
    assert (await create(as_admin, contact_id, assigneeId=None))["assignee"] is None
    rep = global_id_text("User", acme.user_ids["rep"])
    assert (await create(as_admin, contact_id, assigneeId=rep))["assignee"]["id"] == rep


@pytest.mark.parametrize(
    ("values", "field", "fragment"),
    [
        ({"title": "   "}, "title", "title cannot be empty"),
        ({"title": "x" * 201}, "title", "the limit is 200"),
        ({"durationMinutes": 0}, "durationMinutes", "1 to 1440"),
        ({"durationMinutes": 1441}, "durationMinutes", "1 to 1440"),
        ({"dueAt": "2030-01-01T10:00:00"}, "dueAt", "timezone offset"),
        ({"dueAt": "3000-01-01T10:00:00Z"}, "dueAt", "between 1900"),
        ({"body": "<p>" + "x" * 1501 + "</p>"}, "body", "at most 1500 characters"),
        ({"body": "<b></b>"}, "body", "no visible text"),
    ],
)
async def test_bad_input_on_create_is_refused_and_changes_nothing(
    as_admin: Api, values: dict[str, Any], field: str, fragment: str
) -> None:
    contact_id = await new_contact(as_admin)
    error = await as_admin.error(
        CREATE, {"i": {"contactId": contact_id, "kind": "TASK", "title": "T", **values}}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert fragment in error["message"], error
    assert error["extensions"].get("field", field) == field
    assert await task_count() == 0 and await journey(as_admin, contact_id) == []


async def test_other_accounts_contact_and_user_are_not_found(as_admin: Api, api: Api, globex: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    theirs = await new_contact(api.as_(globex.admin_key), "Grace")
    error = await as_admin.error(CREATE, {"i": {"contactId": theirs, "kind": "TASK", "title": "T"}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    missing = global_id_text("Contact", 999_999)
    assert (await as_admin.error(CREATE, {"i": {"contactId": missing, "kind": "TASK", "title": "T"}}))[
        "extensions"
    ]["code"] == "NOT_FOUND"
    their_user = global_id_text("User", globex.user_ids["rep"])
    error = await as_admin.error(
        CREATE, {"i": {"contactId": contact_id, "kind": "TASK", "title": "T", "assigneeId": their_user}}
    )
    assert error["extensions"]["code"] == "NOT_FOUND" and "no user" in error["message"]
    error = await as_admin.error(
        CREATE, {"i": {"contactId": contact_id, "kind": "TASK", "title": "T", "assigneeId": contact_id}}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"  # a Contact id where a User id goes
    assert await task_count() == 0


async def test_an_archived_contact_takes_no_new_task(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    await as_admin.data(
        "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }",
        {"i": {"ids": [contact_id]}},
    )
    error = await as_admin.error(CREATE, {"i": {"contactId": contact_id, "kind": "TASK", "title": "T"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "archived" in error["message"]
    assert await task_count() == 0


# --------------------------------------------------------------------------------------
# updateTask
# --------------------------------------------------------------------------------------


async def test_an_update_journals_before_and_after_of_each_field(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    first_due = at(days=1)
    made = await create(as_admin, contact_id, dueAt=first_due, durationMinutes=30)
    rep = global_id_text("User", acme.user_ids["rep"])
    new_due = at(days=3, offset="-04:00")
    updated = (
        await as_admin.data(
            UPDATE,
            {
                "i": {
                    "id": made["id"],
                    "title": "Call back twice",
                    "dueAt": new_due,
                    "assigneeId": rep,
                    "kind": "CALL",
                }
            },
        )
    )["updateTask"]
    assert (updated["title"], updated["dueAt"], updated["kind"]) == ("Call back twice", new_due, "CALL")
    assert updated["assignee"]["id"] == rep and updated["durationMinutes"] == 30  # left out: kept
    entry = (await journey(as_admin, contact_id))[0]
    assert entry["kind"] == "TASK_UPDATED"
    changes = {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}
    admin = global_id_text("User", acme.user_ids["admin"])
    assert changes == {
        "kind": ["TASK", "CALL"],
        "title": ["Call back", "Call back twice"],
        "dueAt": [first_due, new_due],
        "assigneeId": [admin, rep],
    }
    stored = await TaskModel.get(title="Call back twice")
    assert stored.due_version == 1  # the due time moved once

    # Null clears; the same values again change nothing and journal nothing.
    cleared = (
        await as_admin.data(UPDATE, {"i": {"id": made["id"], "dueAt": None, "durationMinutes": None}})
    )["updateTask"]
    assert cleared["dueAt"] is None and cleared["durationMinutes"] is None and cleared["endsAt"] is None
    assert (await TaskModel.get(id=stored.id)).due_version == 2
    count = len(await journey(as_admin, contact_id))
    await as_admin.data(UPDATE, {"i": {"id": made["id"], "title": "Call back twice", "dueAt": None}})
    assert len(await journey(as_admin, contact_id)) == count
    assert (await TaskModel.get(id=stored.id)).due_version == 2


async def test_bad_updates_are_refused_and_change_nothing(as_admin: Api, api: Api, globex: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    made = await create(as_admin, contact_id, dueAt=at(days=1))
    for values, code in (
        ({"title": None}, "BAD_USER_INPUT"),
        ({"title": ""}, "BAD_USER_INPUT"),
        ({"kind": None}, "BAD_USER_INPUT"),
        ({"durationMinutes": -5}, "BAD_USER_INPUT"),
        ({"assigneeId": global_id_text("User", globex.user_ids["admin"])}, "NOT_FOUND"),
        ({"dueAt": "2030-01-01T10:00:00+05:30:30"}, "BAD_USER_INPUT"),
    ):
        body = await as_admin.post(UPDATE, {"i": {"id": made["id"], "dueAt": at(days=5), **values}})
        assert body["errors"][0]["extensions"]["code"] == code, (values, body)
    after = await as_admin.data(
        f"query($id: ID!) {{ node(id: $id) {{ ... on Task {{ {TASK} }} }} }}", {"id": made["id"]}
    )
    assert after["node"] == made
    theirs = await create(api.as_(globex.admin_key), await new_contact(api.as_(globex.admin_key)))
    for document in (UPDATE, COMPLETE, REOPEN, CANCEL):
        error = await as_admin.error(document, {"i": {"id": theirs["id"]}})
        assert error["extensions"]["code"] == "NOT_FOUND", document
    error = await as_admin.error(UPDATE, {"i": {"id": global_id_text("Task", 999_999), "title": "x"}})
    assert error["extensions"]["code"] == "NOT_FOUND"


# --------------------------------------------------------------------------------------
# Permissions
# --------------------------------------------------------------------------------------


async def test_reps_change_only_tasks_they_own_or_are_assigned(api: Api, acme: Tenant) -> None:
    admin, manager, rep = api.as_(acme.admin_key), api.as_(acme.manager_key), api.as_(acme.rep_key)
    contact_id = await new_contact(admin)
    rep_id = global_id_text("User", acme.user_ids["rep"])
    not_theirs = await create(admin, contact_id, title="Admin's own")
    assigned = await create(admin, contact_id, title="For the rep", assigneeId=rep_id)
    own = await create(rep, contact_id, title="Rep's own", assigneeId=None)
    for document, values in ((UPDATE, {"title": "Mine now"}), (COMPLETE, {}), (CANCEL, {})):
        error = await rep.error(document, {"i": {"id": not_theirs["id"], **values}})
        assert error["extensions"]["code"] == "FORBIDDEN" and "owner" in error["message"], error
    assert (await rep.data(COMPLETE, {"i": {"id": assigned["id"]}}))["completeTask"]["status"] == "DONE"
    assert (await rep.data(UPDATE, {"i": {"id": own["id"], "title": "Rep's"}}))["updateTask"][
        "title"
    ] == "Rep's"
    # Managers (and admins) change anybody's.
    done = (await manager.data(COMPLETE, {"i": {"id": own["id"]}}))["completeTask"]
    assert done["completedBy"]["id"] == global_id_text("User", acme.user_ids["manager"])
    assert await TaskModel.filter(title="Admin's own", status="OPEN").count() == 1  # untouched


# --------------------------------------------------------------------------------------
# completeTask, reopenTask, cancelTask
# --------------------------------------------------------------------------------------


async def test_status_moves_and_the_ones_refused(as_admin: Api, acme: Tenant) -> None:
    contact_id = await new_contact(as_admin)
    made = await create(as_admin, contact_id, dueAt=at(days=1))
    done = (await as_admin.data(COMPLETE, {"i": {"id": made["id"]}}))["completeTask"]
    assert done["status"] == "DONE" and done["completedAt"] is not None and done["overdue"] is False
    assert done["completedBy"]["id"] == global_id_text("User", acme.user_ids["admin"])
    error = await as_admin.error(COMPLETE, {"i": {"id": made["id"]}})
    assert error["extensions"]["code"] == "CONFLICT" and "already DONE" in error["message"]
    error = await as_admin.error(CANCEL, {"i": {"id": made["id"]}})
    assert error["extensions"]["code"] == "CONFLICT" and "reopen" in error["message"]
    reopened = (await as_admin.data(REOPEN, {"i": {"id": made["id"]}}))["reopenTask"]
    assert (reopened["status"], reopened["completedAt"], reopened["completedBy"]) == ("OPEN", None, None)
    error = await as_admin.error(REOPEN, {"i": {"id": made["id"]}})
    assert error["extensions"]["code"] == "CONFLICT" and "already OPEN" in error["message"]
    cancelled = (await as_admin.data(CANCEL, {"i": {"id": made["id"]}}))["cancelTask"]
    assert cancelled["status"] == "CANCELLED"
    error = await as_admin.error(CANCEL, {"i": {"id": made["id"]}})
    assert error["extensions"]["code"] == "CONFLICT" and "already CANCELLED" in error["message"]
    error = await as_admin.error(COMPLETE, {"i": {"id": made["id"]}})
    assert error["extensions"]["code"] == "CONFLICT" and "reopen" in error["message"]
    assert (await as_admin.data(REOPEN, {"i": {"id": made["id"]}}))["reopenTask"]["status"] == "OPEN"
    kinds = [e["kind"] for e in await journey(as_admin, contact_id)]
    assert kinds == ["TASK_REOPENED", "TASK_CANCELLED", "TASK_REOPENED", "TASK_COMPLETED", "TASK_CREATED"]
    entry = (await journey(as_admin, contact_id))[3]
    changes = {c["field"]: [c["before"], c["after"]] for c in entry["changes"]}
    assert changes["status"] == ["OPEN", "DONE"] and changes["completedAt"][0] is None
    # Every status change moves the due version: a notification written before is stale.
    assert (await TaskModel.first()).due_version == 4


# --------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------

HOOKS = ("task_created", "task_updated", "task_completed", "task_reopened", "task_cancelled")


class Planner:
    name = "planner"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []


def _recording(hook: str) -> Any:
    def impl(self: Planner, event: Any) -> None:
        self.calls.append((hook, event))

    impl.__name__ = hook
    return hookimpl(impl)


for _hook in HOOKS:
    setattr(Planner, _hook, _recording(_hook))


async def test_every_mutation_fires_its_hook_with_the_task(running_app: AppFactory) -> None:
    planner = Planner()
    async with running_app(plugins=(planner,), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await new_contact(api)

        async def fired() -> tuple[str, Any]:
            await api.runtime.dispatcher.drain()
            calls, planner.calls = [c for c in planner.calls if c[0] in HOOKS], []
            assert len(calls) == 1, calls
            return calls[0]

        due = at(days=1, offset="+02:00")
        made = await create(api, contact_id, dueAt=due)
        hook, event = await fired()
        assert hook == "task_created" and event.kind == "TASK_CREATED" and event.subject_type == "Task"
        assert event.subject["id"] == made["id"] and event.subject["contactId"] == contact_id
        assert event.subject["dueAt"] == due and event.subject["status"] == "OPEN"
        await api.data(UPDATE, {"i": {"id": made["id"], "title": "New"}})
        hook, event = await fired()
        assert hook == "task_updated" and event.changes == {"title": ["Call back", "New"]}
        await api.data(COMPLETE, {"i": {"id": made["id"]}})
        hook, event = await fired()
        assert hook == "task_completed" and event.subject["completedAt"] is not None
        await api.data(REOPEN, {"i": {"id": made["id"]}})
        assert (await fired())[0] == "task_reopened"
        await api.data(CANCEL, {"i": {"id": made["id"]}})
        hook, event = await fired()
        assert hook == "task_cancelled" and event.changes["status"] == ["OPEN", "CANCELLED"]


# --------------------------------------------------------------------------------------
# Contact.tasks
# --------------------------------------------------------------------------------------


async def test_the_card_lists_open_dated_then_undated_then_closed_and_pages_by_cursor(as_admin: Api) -> None:
    contact_id = await new_contact(as_admin)
    later = await create(as_admin, contact_id, title="later", dueAt=at(days=2))
    undated_1 = await create(as_admin, contact_id, title="undated 1")
    overdue = await create(as_admin, contact_id, title="overdue", dueAt=at(hours=-2))
    done_1 = await create(as_admin, contact_id, title="done 1", dueAt=at(days=1))
    soon = await create(as_admin, contact_id, title="soon", dueAt=at(hours=2))
    undated_2 = await create(as_admin, contact_id, title="undated 2")
    done_2 = await create(as_admin, contact_id, title="done 2")
    same_time = at(days=5)
    tie_1 = await create(as_admin, contact_id, title="tie 1", dueAt=same_time)
    tie_2 = await create(as_admin, contact_id, title="tie 2", dueAt=same_time)
    await as_admin.data(COMPLETE, {"i": {"id": done_1["id"]}})
    await as_admin.data(CANCEL, {"i": {"id": done_2["id"]}})
    expected = [overdue, soon, later, tie_1, tie_2, undated_1, undated_2, done_2, done_1]
    data = await as_admin.data(TASKS, {"id": contact_id, "first": 100})
    assert [n["title"] for n in data["contact"]["tasks"]["nodes"]] == [t["title"] for t in expected]
    # Two at a time, each page after the last cursor: the same order, nothing twice.
    seen: list[str] = []
    after = None
    while True:
        page = (await as_admin.data(TASKS, {"id": contact_id, "first": 2, "after": after}))["contact"][
            "tasks"
        ]
        seen.extend(edge["node"]["title"] for edge in page["edges"])
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [t["title"] for t in expected]
    # A status filter.
    data = await as_admin.data(TASKS, {"id": contact_id, "first": 100, "status": ["DONE", "CANCELLED"]})
    assert [n["title"] for n in data["contact"]["tasks"]["nodes"]] == ["done 2", "done 1"]
    error = await as_admin.error(TASKS, {"id": contact_id, "first": 10, "status": []})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    for bad in ("nonsense", "dGFzazoxLjEuMQ==", global_id_text("Task", 1)):
        error = await as_admin.error(TASKS, {"id": contact_id, "first": 10, "after": bad})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", bad
    error = await as_admin.error(TASKS, {"id": contact_id, "first": 101})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


PAGE = """
query($first: Int!) {
  contacts(first: $first) {
    edges { node { id
      tasks(first: 3) { nodes { title } }
      upcomingActions(first: 3) { __typename ... on Task { title } ... on Call { eventName } }
    } }
  }
}
"""


async def test_a_page_of_cards_reads_its_tasks_and_upcoming_actions_in_one_statement_each(
    as_admin: Api, count_statements: Any
) -> None:
    async def fill(count: int) -> None:
        for n in range(count):
            contact_id = await new_contact(as_admin, f"C{n}")
            for hours in (5, 1, 3):
                await create(as_admin, contact_id, title=f"t{n}-{hours}", dueAt=at(hours=hours))
            await as_admin.data(
                SCHEDULE, {"i": {"contactId": contact_id, "scheduledAt": at(hours=2), "eventName": f"c{n}"}}
            )

    await fill(6)

    async def measure(first: int) -> tuple[int, dict[str, Any], list[str]]:
        with count_statements() as counter:
            data = await as_admin.data(PAGE, {"first": first})
        return counter.count, data, counter.statements

    two, _, _ = await measure(2)
    six, data, statements = await measure(6)
    assert two == six, statements
    cards = data["contacts"]["edges"]
    for card in cards:
        node = card["node"]
        assert len(node["tasks"]["nodes"]) == 3
        kinds = [a["__typename"] for a in node["upcomingActions"]]
        assert kinds == ["Task", "Call", "Task"], node
    assert sum('FROM "task"' in s for s in statements) == 2, statements  # tasks, upcoming (union)


# --------------------------------------------------------------------------------------
# Contact.upcomingActions
# --------------------------------------------------------------------------------------


async def test_upcoming_actions_merge_tasks_and_calls_in_time_order_in_one_statement(
    as_admin: Api, count_statements: Any
) -> None:
    contact_id = await new_contact(as_admin)
    overdue = await create(as_admin, contact_id, title="overdue", dueAt=at(hours=-1))
    await create(as_admin, contact_id, title="undated")  # no due time: not an upcoming action
    in_3h = await create(as_admin, contact_id, title="in 3h", dueAt=at(hours=3, offset="+09:00"))
    done = await create(as_admin, contact_id, title="done", dueAt=at(hours=4))
    await as_admin.data(COMPLETE, {"i": {"id": done["id"]}})
    cancelled = await create(as_admin, contact_id, title="cancelled", dueAt=at(hours=4))
    await as_admin.data(CANCEL, {"i": {"id": cancelled["id"]}})
    call_2h = await as_admin.data(
        SCHEDULE, {"i": {"contactId": contact_id, "scheduledAt": at(hours=2), "eventName": "Demo"}}
    )
    call_5h = await as_admin.data(
        SCHEDULE, {"i": {"contactId": contact_id, "scheduledAt": at(hours=5), "eventName": "Follow-up"}}
    )
    dropped = await as_admin.data(
        SCHEDULE, {"i": {"contactId": contact_id, "scheduledAt": at(hours=1), "eventName": "Dropped"}}
    )
    await as_admin.data(
        "mutation($i: CancelCallInput!) { cancelCall(input: $i) { id } }",
        {"i": {"id": dropped["scheduleCall"]["id"]}},
    )
    with count_statements() as counter:
        data = await as_admin.data(UPCOMING, {"id": contact_id, "first": 10})
    actions = data["contact"]["upcomingActions"]
    assert [a["id"] for a in actions] == [
        overdue["id"], call_2h["scheduleCall"]["id"], in_3h["id"], call_5h["scheduleCall"]["id"]
    ]  # fmt: skip
    assert actions[0]["overdue"] is True and actions[2]["dueAt"] == in_3h["dueAt"]
    assert actions[1]["bookedBy"]["name"] == "Acme Admin" and actions[0]["assignee"]["name"] == "Acme Admin"
    unions = [s for s in counter.statements if "UNION ALL" in s]
    assert len(unions) == 1, counter.statements
    # The key, the contact, the page: one statement for the actions with their users.
    assert counter.count <= 3, counter.statements
    cut = (await as_admin.data(UPCOMING, {"id": contact_id, "first": 2}))["contact"]["upcomingActions"]
    assert [a["id"] for a in cut] == [overdue["id"], call_2h["scheduleCall"]["id"]]
    assert (await as_admin.error(UPCOMING, {"id": contact_id, "first": 0}))["extensions"][
        "code"
    ] == "BAD_USER_INPUT"


# --------------------------------------------------------------------------------------
# myTasks
# --------------------------------------------------------------------------------------

NOW = datetime(2030, 6, 15, 10, 0, tzinfo=UTC)  # the faked present of the myTasks tests


def fixed(**delta: float) -> str:
    return (NOW + timedelta(**delta)).isoformat()


async def test_my_tasks_filters_by_due_time_in_the_callers_zone(
    api: Api, acme: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graph.resolvers.tasks_queries as queries

    monkeypatch.setattr(queries, "utcnow", lambda: NOW)
    rep = api.as_(acme.rep_key)
    admin = api.as_(acme.admin_key)
    contact_id = await new_contact(admin)
    rep_id = global_id_text("User", acme.user_ids["rep"])

    async def mine(title: str, **values: Any) -> None:
        await create(admin, contact_id, title=title, assigneeId=rep_id, **values)

    await mine("undated")
    await mine("in 10 days", dueAt=fixed(days=10))
    await mine("in 2 days", dueAt=fixed(days=2))
    await mine("tonight in LA", dueAt=fixed(hours=19))  # 05:00Z tomorrow, 22:00 today in Los Angeles
    await mine("this afternoon", dueAt=fixed(hours=3))
    await mine("this morning", dueAt=fixed(hours=-2))  # overdue
    await mine("yesterday", dueAt=fixed(days=-1))  # overdue
    await create(admin, contact_id, title="someone else's", dueAt=fixed(hours=1))
    done = await create(admin, contact_id, title="done", assigneeId=rep_id, dueAt=fixed(hours=1))
    await admin.data(COMPLETE, {"i": {"id": done["id"]}})
    archived = await new_contact(admin, "Old")
    await create(admin, archived, title="archived card", assigneeId=rep_id, dueAt=fixed(hours=1))
    await admin.data(
        "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }",
        {"i": {"ids": [archived]}},
    )

    async def titles(due: str, zone: str | None = None) -> list[str]:
        data = await rep.data(MY_TASKS, {"due": due, "first": 50, "zone": zone})
        return [e["node"]["title"] for e in data["myTasks"]["edges"]]

    assert await titles("OVERDUE") == ["yesterday", "this morning"]
    assert await titles("TODAY") == ["this morning", "this afternoon"]
    assert await titles("TODAY", "America/Los_Angeles") == ["this morning", "this afternoon", "tonight in LA"]
    assert await titles("NEXT_7_DAYS") == ["this afternoon", "tonight in LA", "in 2 days"]
    everything = [
        "yesterday",
        "this morning",
        "this afternoon",
        "tonight in LA",
        "in 2 days",
        "in 10 days",
        "undated",
    ]
    assert await titles("ANY") == everything
    # Paged by cursor, the same list.
    seen, after = [], None
    while True:
        data = (await rep.data(MY_TASKS, {"due": "ANY", "first": 3, "after": after}))["myTasks"]
        seen += [e["node"]["title"] for e in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert seen == everything
    # The manager has none of these.
    assert (await api.as_(acme.manager_key).data(MY_TASKS, {"due": "ANY", "first": 10}))["myTasks"][
        "edges"
    ] == []
    for zone in ("Mars/Olympus", "", "../../etc/passwd", "x" * 500):
        error = await rep.error(MY_TASKS, {"due": "TODAY", "first": 10, "zone": zone})
        assert (
            error["extensions"]["code"] == "BAD_USER_INPUT"
            and error["extensions"].get("field", "timeZone") == "timeZone"
        )


# --------------------------------------------------------------------------------------
# Merging and deleting contacts
# --------------------------------------------------------------------------------------


async def test_a_merge_moves_tasks_to_the_survivor_and_a_delete_takes_them_along(as_admin: Api) -> None:
    primary = await new_contact(as_admin, "Ada")
    duplicate = await new_contact(as_admin, "Ada")
    moved = await create(as_admin, duplicate, title="moved", dueAt=at(days=1))
    await as_admin.data(
        "mutation($i: MergeContactsInput!) { mergeContacts(input: $i) { merge { id } } }",
        {"i": {"primaryId": primary, "duplicateIds": [duplicate]}},
    )
    data = await as_admin.data(TASKS, {"id": primary, "first": 10})
    assert [e["node"]["id"] for e in data["contact"]["tasks"]["edges"]] == [moved["id"]]
    upcoming = await as_admin.data(UPCOMING, {"id": primary, "first": 10})
    assert [a["id"] for a in upcoming["contact"]["upcomingActions"]] == [moved["id"]]
    await as_admin.data(
        "mutation($i: ArchiveContactsInput!) { archiveContacts(input: $i) { archivedIds } }",
        {"i": {"ids": [primary]}},
    )
    await as_admin.data(
        "mutation($i: DeleteContactsInput!) { deleteContacts(input: $i) { deletedIds } }",
        {"i": {"ids": [primary]}},
    )
    assert await task_count() == 0


async def test_the_readme_examples_run_as_written(as_admin: Api) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Tasks and upcoming actions", 1)[1].split("\n### ", 1)[0]
    create_example, today_example = re.findall(r"```graphql\n(.*?)```", section, flags=re.DOTALL)
    contact_id = await new_contact(as_admin)
    made = (await as_admin.data(create_example.replace("Q29udGFjdDox", contact_id)))["createTask"]
    assert (made["dueAt"], made["endsAt"], made["status"], made["overdue"]) == (
        "2099-03-02T14:00:00-05:00",
        "2099-03-02T15:00:00-05:00",
        "OPEN",
        False,
    )
    assert (await as_admin.data(today_example))["myTasks"]["nodes"] == []


async def test_the_demo_has_open_overdue_done_tasks_and_a_meeting_with_a_duration(api: Api) -> None:
    from dossier.demo import ensure_demo

    demo = await ensure_demo(contacts=60, rich=12)
    tasks = await TaskModel.all().values("contact_id", "kind", "status", "due_at", "duration_minutes")
    now = datetime.now(UTC)
    assert len({t["contact_id"] for t in tasks}) >= 3  # on several cards
    assert any(t["status"] == "OPEN" and t["due_at"] and t["due_at"] < now for t in tasks)  # overdue
    assert any(t["status"] == "OPEN" and t["due_at"] and t["due_at"] > now for t in tasks)
    assert any(t["status"] == "DONE" for t in tasks)
    assert any(t["kind"] == "MEETING" and t["duration_minutes"] for t in tasks)
    # The demo's admin has the reminders assigned to them.
    mine = await api.as_(demo.api_key).data("{ myTasks(due: NEXT_7_DAYS) { nodes { title kind } } }")
    assert mine["myTasks"]["nodes"] and all(n["kind"] == "REMINDER" for n in mine["myTasks"]["nodes"])
