"""Bulk actions (D9): bulkAction as a BulkJob, dry runs, consent-aware sends, permissions, resume."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from strawberry import relay
from tortoise import Tortoise

from crm import jobs, outbox
from crm.clock import utcnow
from crm.events import AccountEvent, CardEvent
from crm.models import (
    BackgroundJob,
    Contact,
    ContactTag,
    JobError,
    JourneyEvent,
    Message,
    Segment,
    SegmentMember,
    Tag,
)
from crm.services import messages
from dossier import Settings
from graph.ids import global_id_text
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, Tenant, make_tenant, twilio_app
from tests.fakes.twilio_api import FakeTwilio
from tests.test_crash_safe_delivery import ROOT, Spawner, wait_until
from tests.test_crash_safe_delivery import postgres_only as postgres_only  # a fixture
from tests.test_statement_counts import account_of

BULK = """mutation($i: BulkActionInput!) { bulkAction(input: $i) {
  id kind status action dryRun total done skipped failed progress startedBy { name }
  skippedByReason { reason count } } }"""
JOB = """query($id: ID!) { job(id: $id) {
  __typename id kind status total done skipped failed progress startedBy { name } error
  ... on BulkJob { action dryRun skippedByReason { reason count } result
                   errors(first: 10) { nodes { code message contact { id } } } } } }"""
CANCEL = "mutation($i: CancelJobInput!) { cancelJob(input: $i) { __typename id status } }"


class Recorder:
    """Hooks and providers a test watches: email as a capability, the finished and marketing hooks."""

    name = "bulk-recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def capabilities(self) -> list[str]:
        return ["email"]

    @hookimpl
    def bulk_action_finished(self, event: AccountEvent) -> None:
        self.calls.append(("bulk_action_finished", event))

    @hookimpl
    def contact_status_changed(self, event: CardEvent) -> None:
        self.calls.append(("contact_status_changed", event))

    @hookimpl
    def email_queued(self, event: CardEvent) -> None:
        self.calls.append(("email_queued", event))

    def hooks(self, name: str) -> list[Any]:
        return [event for hook, event in self.calls if hook == name]


class Marketer:
    name = "mailer-sync"

    def __init__(self) -> None:
        self.batches: list[AccountEvent] = []

    @hookimpl
    def marketing_export(self, event: AccountEvent) -> None:
        self.batches.append(event)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, disabled_plugins=builtin_names(), job_batch_size=2)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def api(running_app: AppFactory, recorder: Recorder) -> Any:
    async with running_app(plugins=(recorder,)) as started:
        yield started


def gid(contact_id: int) -> str:
    return global_id_text("Contact", contact_id)


async def people(tenant: Tenant, *specs: dict[str, Any]) -> list[int]:
    """One contact per spec (attributes over a textable, emailable, opted-in lead), in id order."""
    account_id = await account_of(tenant)
    made = []
    for n, spec in enumerate(specs):
        values = {
            "first_name": f"Pat{n}",
            "last_name": "Lee",
            "email": f"pat{n}@example.com",
            "phone": f"+1415555{n:04}",
            "phone_line_type": "mobile",
            "ok_to_sms": True,
            "communication_opt_in": True,
            "status": "lead",
            **spec,
        }
        contact = await Contact.create(account_id=account_id, **values)
        made.append(contact.id)
    return made


async def bulk(api: Api, action: str, target: dict[str, Any], params: dict[str, Any] | None = None,
               *, dry_run: bool = False, key: str | None = None) -> dict[str, Any]:  # fmt: skip
    variables = {"i": {"action": action, "target": target, "params": params, "dryRun": dry_run}}
    return (await api.data(BULK, variables, key=key))["bulkAction"]


async def finished(api: Api, job: dict[str, Any]) -> dict[str, Any]:
    await api.runtime.dispatcher.drain()
    return (await api.data(JOB, {"id": job["id"]}))["job"]


def reasons(job: dict[str, Any]) -> dict[str, int]:
    return {r["reason"]: r["count"] for r in job["skippedByReason"]}


async def journal(contact_ids: list[int], kind: str) -> dict[int, list[str]]:
    rows = (
        await JourneyEvent.filter(contact_id__in=contact_ids, kind=kind)
        .order_by("id")
        .values("contact_id", "summary")
    )
    found: dict[int, list[str]] = {}
    for row in rows:
        found.setdefault(row["contact_id"], []).append(row["summary"])
    return found


async def snapshot() -> dict[str, list[Any]]:
    """Every row of every table but the jobs' (and when an API key was last used): what a dry run
    must leave as it was."""
    models = Tortoise.apps["models"]
    return {
        name: sorted(
            repr(sorted((k, v) for k, v in row.items() if k != "last_used_at"))
            for row in await model.all().values()
        )
        for name, model in models.items()
        if name != "BackgroundJob"
    }


# --------------------------------------------------------------------------------------
# Each action
# --------------------------------------------------------------------------------------


async def test_archive_and_restore_by_ids_journal_each_contact_once(
    as_admin: Api, acme: Tenant, recorder: Recorder
) -> None:
    ids = await people(acme, {}, {}, {"archived_at": utcnow()}, {})
    job = await bulk(as_admin, "ARCHIVE", {"ids": [gid(i) for i in ids]})
    assert (job["kind"], job["action"], job["status"], job["total"], job["dryRun"]) == (
        "bulk.ARCHIVE", "ARCHIVE", "QUEUED", 4, False,
    )  # fmt: skip
    number = (await BackgroundJob.get(kind="bulk.ARCHIVE")).id
    assert job["startedBy"] == {"name": "Acme Admin"} and job["id"] == global_id_text("BulkJob", number)
    job = await finished(as_admin, job)
    assert (job["__typename"], job["status"], job["done"], job["skipped"], job["progress"]) == (
        "BulkJob", "DONE", 3, 1, 1.0,
    )  # fmt: skip
    assert reasons(job) == {"ARCHIVED": 1}
    assert await Contact.filter(id__in=ids, archived_at__isnull=True).count() == 0
    entries = await journal(ids, "CONTACT_ARCHIVED")
    assert sorted(entries) == [ids[0], ids[1], ids[3]]
    assert all(s == [f"Acme Admin archived Pat{ids.index(c)} Lee (bulk action, job {number})"]
               for c, s in entries.items())  # fmt: skip
    [done] = recorder.hooks("bulk_action_finished")
    assert done.subject["action"] == "ARCHIVE" and done.subject["done"] == 3
    assert done.subject["skippedByReason"] == {"ARCHIVED": 1} and done.subject["jobId"] == job["id"]

    # RESTORE by a filter means archived contacts by default.
    job = await finished(as_admin, await bulk(as_admin, "RESTORE", {"filter": {}}))
    assert (job["status"], job["total"], job["done"]) == ("DONE", 4, 4)
    assert await Contact.filter(id__in=ids, archived_at__isnull=True).count() == 4


async def test_set_status_by_filter_skips_those_already_there(
    as_admin: Api, acme: Tenant, recorder: Recorder
) -> None:
    ids = await people(acme, {}, {"status": "customer"}, {}, {"status": "lost"}, {})
    target = {"filter": {"status": {"in": ["lead", "customer"]}}}
    dry = await bulk(as_admin, "SET_STATUS", target, {"status": "Customer"}, dry_run=True)
    assert (dry["status"], dry["dryRun"], dry["total"], dry["done"], dry["skipped"]) == (
        "DONE",
        True,
        4,
        3,
        1,
    )
    assert reasons(dry) == {"ALREADY_SET": 1}
    job = await finished(as_admin, await bulk(as_admin, "SET_STATUS", target, {"status": "Customer"}))
    # The dry run said it: 3 changed, 1 already so.
    assert (job["total"], job["done"], job["skipped"], reasons(job)) == (4, 3, 1, {"ALREADY_SET": 1})
    statuses = dict(await Contact.filter(id__in=ids).values_list("id", "status"))
    assert statuses == {ids[0]: "customer", ids[1]: "customer", ids[2]: "customer", ids[3]: "lost",
                        ids[4]: "customer"}  # fmt: skip
    assert sorted(await journal(ids, "STATUS_CHANGED")) == [ids[0], ids[2], ids[4]]
    # The usual hook per contact, as setContactStatus fires it.
    assert sorted(e.contact_id for e in recorder.hooks("contact_status_changed")) == [ids[0], ids[2], ids[4]]
    error = await as_admin.error(BULK, {"i": {"action": "SET_STATUS", "target": target,
                                              "params": {"status": "nope"}}})  # fmt: skip
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "status"}


async def test_assign_owner_is_for_managers_and_a_reps_dry_run_shows_no_permission(
    api: Api, acme: Tenant
) -> None:
    ids = await people(acme, {}, {"assigned_to_id": acme.user_ids["rep"]}, {})
    rep = acme.user_ids["rep"]
    params = {"ownerRole": "ASSIGNED", "userId": global_id_text("User", rep)}
    target = {"ids": [gid(i) for i in ids]}
    error = await api.error(BULK, {"i": {"action": "ASSIGN_OWNER", "target": target, "params": params}},
                            key=acme.rep_key)  # fmt: skip
    assert error["extensions"]["code"] == "FORBIDDEN" and "dry run" in error["message"]
    dry = await bulk(api, "ASSIGN_OWNER", target, params, dry_run=True, key=acme.rep_key)
    assert (dry["done"], reasons(dry)) == (0, {"NO_PERMISSION": 3})

    job = await bulk(api, "ASSIGN_OWNER", target, params, key=acme.manager_key)
    job = await finished(api.as_(acme.manager_key), job)
    assert (job["done"], reasons(job)) == (2, {"ALREADY_SET": 1})
    assert set(await Contact.filter(id__in=ids).values_list("assigned_to_id", flat=True)) == {rep}
    # userId null (or absent) clears it.
    job = await bulk(
        api, "ASSIGN_OWNER", target, {"ownerRole": "ASSIGNED", "userId": None}, key=acme.admin_key
    )
    await finished(api.as_(acme.admin_key), job)
    assert set(await Contact.filter(id__in=ids).values_list("assigned_to_id", flat=True)) == {None}


async def test_tags_and_segments_by_segment_target(as_admin: Api, acme: Tenant) -> None:
    ids = await people(acme, {}, {}, {}, {})
    account_id = await account_of(acme)
    members = await Segment.create(account_id=account_id, name="Spring fair", kind="STATIC")
    await SegmentMember.bulk_create([SegmentMember(segment_id=members.id, contact_id=i) for i in ids[:3]])
    target = {"segmentId": global_id_text("Segment", members.id)}

    job = await finished(as_admin, await bulk(as_admin, "ADD_TAG", target, {"tag": "Fair 2027"}))
    assert (job["total"], job["done"]) == (3, 3)
    tag = await Tag.get(account_id=account_id, key="fair 2027")
    assert sorted(await ContactTag.filter(tag_id=tag.id).values_list("contact_id", flat=True)) == ids[:3]
    again = await finished(as_admin, await bulk(as_admin, "ADD_TAG", target, {"tag": "fair 2027"}))
    assert (again["done"], reasons(again)) == (0, {"ALREADY_SET": 3})

    into = await Segment.create(account_id=account_id, name="Follow up", kind="STATIC")
    await SegmentMember.create(segment_id=into.id, contact_id=ids[0])
    params = {"segmentId": global_id_text("Segment", into.id)}
    job = await finished(
        as_admin, await bulk(as_admin, "ADD_TO_SEGMENT", {"ids": [gid(i) for i in ids]}, params)
    )
    assert (job["done"], reasons(job)) == (3, {"ALREADY_SET": 1})
    assert await SegmentMember.filter(segment_id=into.id).count() == 4
    assert sorted(await journal(ids, "ADDED_TO_SEGMENT")) == ids[1:]  # ids[0] was added directly

    job = await finished(as_admin, await bulk(as_admin, "REMOVE_TAG", {"filter": {}}, {"tag": "FAIR 2027"}))
    assert (job["total"], job["done"], reasons(job)) == (4, 3, {"ALREADY_SET": 1})
    assert await ContactTag.filter(tag_id=tag.id).count() == 0
    assert sorted(await journal(ids, "TAG_REMOVED")) == ids[:3]

    dynamic = await Segment.create(account_id=account_id, name="Leads", kind="DYNAMIC", filter_spec={})
    params = {"segmentId": global_id_text("Segment", dynamic.id)}
    error = await as_admin.error(
        BULK, {"i": {"action": "ADD_TO_SEGMENT", "target": target, "params": params}}
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "params.segmentId"}
    assert "dynamic" in error["message"]


async def test_delete_takes_archived_contacts_only(as_admin: Api, acme: Tenant) -> None:
    ids = await people(acme, {"archived_at": utcnow()}, {}, {"archived_at": utcnow()})
    job = await finished(as_admin, await bulk(as_admin, "DELETE", {"ids": [gid(i) for i in ids]}))
    assert (job["done"], reasons(job)) == (2, {"NOT_ARCHIVED": 1})
    assert await Contact.filter(id__in=ids).values_list("id", flat=True) == [ids[1]]


async def test_bulk_email_is_marketing_by_default_and_asks_for_the_opt_in(
    as_admin: Api, acme: Tenant, recorder: Recorder
) -> None:
    ids = await people(acme, {}, {"communication_opt_in": False}, {"email": None}, {"archived_at": utcnow()})
    target = {"ids": [gid(i) for i in ids]}
    params = {"subject": "Spring offer", "body": "20% off this week"}
    dry = await bulk(as_admin, "SEND_EMAIL", target, params, dry_run=True)
    job = await finished(as_admin, await bulk(as_admin, "SEND_EMAIL", target, params))
    expected = {"ARCHIVED": 1, "NO_EMAIL": 1, "NO_MARKETING_CONSENT": 1}
    assert (dry["done"], reasons(dry)) == (job["done"], reasons(job)) == (1, expected)
    assert [e.contact_id for e in recorder.hooks("email_queued")] == [ids[0]]
    personal = await finished(
        as_admin, await bulk(as_admin, "SEND_EMAIL", target, {**params, "marketing": False})
    )
    assert (personal["done"], reasons(personal)) == (2, {"ARCHIVED": 1, "NO_EMAIL": 1})
    assert await Message.filter(contact_id__in=ids, channel="EMAIL").count() == 3


async def test_marketing_export_needs_a_plugin_and_hands_it_opted_in_contacts(
    running_app: AppFactory,
) -> None:
    async with running_app() as api:
        acme = await make_tenant("Acme")
        await people(acme, {})
        error = await api.error(BULK, {"i": {"action": "MARKETING_EXPORT", "target": {"filter": {}}}},
                                key=acme.admin_key)  # fmt: skip
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "action"}
        assert "marketing_export" in error["message"]
    marketer = Marketer()
    async with running_app(plugins=(marketer,)) as api:
        acme = await make_tenant("Acme2")
        ids = await people(acme, {}, {"communication_opt_in": False}, {}, {}, {"email": ""})
        job = await bulk(
            api, "MARKETING_EXPORT", {"filter": {}}, {"options": {"listId": "L1"}}, key=acme.admin_key
        )
        job = await finished(api.as_(acme.admin_key), job)
        assert (job["done"], reasons(job)) == (3, {"NO_EMAIL": 1, "NO_MARKETING_CONSENT": 1})
        # One event per batch (batches of 2 here), only consenting contacts with an email.
        sent = [c["id"] for event in marketer.batches for c in event.subject["contacts"]]
        assert sent == [gid(ids[0]), gid(ids[2]), gid(ids[3])]
        assert all(e.subject["options"] == {"listId": "L1"} for e in marketer.batches)
        # A rep may not (personal data leaving in bulk, like exports).
        error = await api.error(BULK, {"i": {"action": "MARKETING_EXPORT", "target": {"filter": {}}}},
                                key=acme.rep_key)  # fmt: skip
        assert error["extensions"]["code"] == "FORBIDDEN"


# --------------------------------------------------------------------------------------
# Dry runs change nothing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("ARCHIVE", None),
        ("SET_STATUS", {"status": "customer"}),
        ("ADD_TAG", {"tag": "vip"}),
        ("SEND_EMAIL", {"subject": "Hi", "body": "Hello"}),
        ("DELETE", None),
    ],
)
async def test_a_dry_run_changes_nothing(as_admin: Api, acme: Tenant, action: str, params: Any) -> None:
    ids = await people(acme, {}, {"archived_at": utcnow()}, {"email": None}, {"communication_opt_in": False})
    await as_admin.runtime.dispatcher.drain()
    before = await snapshot()
    jobs_before = await BackgroundJob.all().count()
    dry = await bulk(as_admin, action, {"ids": [gid(i) for i in ids]}, params, dry_run=True)
    await as_admin.runtime.dispatcher.drain()
    assert await snapshot() == before
    assert await BackgroundJob.all().count() == jobs_before + 1  # the dry run's own record
    assert (dry["status"], dry["dryRun"], dry["total"], dry["progress"]) == ("DONE", True, 4, 1.0)
    assert dry["done"] + dry["skipped"] == 4


# --------------------------------------------------------------------------------------
# Bad input, other accounts
# --------------------------------------------------------------------------------------


async def test_bad_targets_and_params_change_nothing(as_admin: Api, acme: Tenant) -> None:
    ids = await people(acme, {}, {})
    globex = await make_tenant("Globex")
    theirs = await people(globex, {})
    account_id = await account_of(globex)
    their_segment = await Segment.create(account_id=account_id, name="Theirs", kind="STATIC")
    one = {"ids": [gid(ids[0])]}
    cases = [
        ("ARCHIVE", {}, None, "BAD_USER_INPUT", "target"),
        ("ARCHIVE", {"ids": [gid(ids[0])], "filter": {}}, None, "BAD_USER_INPUT", "target"),
        ("ARCHIVE", {"ids": []}, None, "BAD_USER_INPUT", "ids"),
        ("ARCHIVE", {"ids": [gid(ids[0]), gid(theirs[0])]}, None, "NOT_FOUND", "ids"),
        (
            "ARCHIVE",
            {"segmentId": global_id_text("Segment", their_segment.id)},
            None,
            "NOT_FOUND",
            "segmentId",
        ),
        ("ARCHIVE", one, {"tag": "x"}, "BAD_USER_INPUT", "params.tag"),
        ("ADD_TAG", one, None, "BAD_USER_INPUT", "params.tag"),
        ("ADD_TAG", one, {"tag": "   "}, "BAD_USER_INPUT", "name"),
        ("SET_STATUS", one, {"status": "lead", "body": "x"}, "BAD_USER_INPUT", "params.body"),
        (
            "ASSIGN_OWNER",
            one,
            {"userId": global_id_text("User", acme.user_ids["rep"])},
            "BAD_USER_INPUT",
            "params.ownerRole",
        ),
        (
            "ASSIGN_OWNER",
            one,
            {"ownerRole": "SETTER", "userId": global_id_text("User", globex.user_ids["rep"])},
            "NOT_FOUND",
            "params.userId",
        ),
        (
            "ADD_TO_SEGMENT",
            one,
            {"segmentId": global_id_text("Segment", their_segment.id)},
            "NOT_FOUND",
            "params.segmentId",
        ),
        ("SEND_EMAIL", one, {"subject": "a\nb", "body": "x"}, "BAD_USER_INPUT", "subject"),
        ("SEND_SMS", one, {"body": "hi"}, "NOT_CONFIGURED", None),
        ("ARCHIVE", {"filter": {"customFields": [{"key": "nope", "eq": "x"}]}}, None, "BAD_USER_INPUT", None),
    ]
    before = await snapshot()
    for action, target, params, code, field in cases:
        error = await as_admin.error(BULK, {"i": {"action": action, "target": target, "params": params}})
        assert error["extensions"]["code"] == code, (action, target, params, error)
        if field is not None:
            assert error["extensions"].get("field") == field, (action, target, params, error)
    assert await snapshot() == before
    assert await BackgroundJob.all().count() == 0
    # Another account's job is NOT_FOUND, to read and to cancel.
    job = await bulk(as_admin, "ARCHIVE", one)
    for query, variables in ((JOB, {"id": job["id"]}), (CANCEL, {"i": {"id": job["id"]}})):
        error = await as_admin.error(query, variables, key=globex.admin_key)
        assert error["extensions"]["code"] == "NOT_FOUND"


async def test_ten_thousand_ids_at_most(as_admin: Api, acme: Tenant) -> None:
    error = await as_admin.error(
        BULK, {"i": {"action": "ARCHIVE", "target": {"ids": [gid(i) for i in range(1, 10_002)]}}}
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "ids"} and "10000" in error["message"]


# --------------------------------------------------------------------------------------
# Resumable, cancellable
# --------------------------------------------------------------------------------------


async def test_a_step_delivered_again_after_a_crash_changes_nothing_twice(
    as_admin: Api, acme: Tenant
) -> None:
    ids = await people(acme, *({} for _ in range(5)))
    await as_admin.runtime.dispatcher.drain()
    job = await bulk(as_admin, "ADD_TAG", {"ids": [gid(i) for i in ids]}, {"tag": "vip"})
    # A worker runs the first step, commits... and dies before marking its outbox row delivered.
    [delivery] = [d for d in await outbox.claim_due(10, 0) if d.plugin == jobs.JOB_PLUGIN]
    assert await jobs.run_step(delivery.payload)
    assert not await jobs.run_step(delivery.payload)  # the same step again does nothing
    row = await BackgroundJob.get(id=delivery.payload["job_id"])
    assert (row.status, row.done, row.cursor) == ("RUNNING", 2, {"after_id": ids[1]})
    job = await finished(as_admin, job)
    assert (job["status"], job["done"]) == ("DONE", 5)
    entries = await journal(ids, "TAG_ADDED")
    assert sorted(entries) == ids and all(len(e) == 1 for e in entries.values())


async def test_cancel_stops_before_the_next_batch(as_admin: Api, acme: Tenant) -> None:
    ids = await people(acme, *({} for _ in range(6)))
    job = await bulk(as_admin, "ARCHIVE", {"ids": [gid(i) for i in ids]})
    [delivery] = [d for d in await outbox.claim_due(10, 0) if d.plugin == jobs.JOB_PLUGIN]
    await jobs.run_step(delivery.payload)
    error = await as_admin.error(CANCEL, {"i": {"id": job["id"]}}, key=acme.rep_key)
    assert error["extensions"]["code"] == "FORBIDDEN"
    cancelled = (await as_admin.data(CANCEL, {"i": {"id": job["id"]}}))["cancelJob"]
    assert (cancelled["__typename"], cancelled["status"]) == ("BulkJob", "CANCELLED")
    job = await finished(as_admin, job)
    assert (job["status"], job["done"], job["total"]) == ("CANCELLED", 2, 6)
    assert await Contact.filter(id__in=ids, archived_at__isnull=False).count() == 2


# --------------------------------------------------------------------------------------
# The job infrastructure: errors, node(id:), either id type
# --------------------------------------------------------------------------------------


async def test_errors_page_and_either_id_names_the_job(as_admin: Api, acme: Tenant) -> None:
    ids = await people(acme, {}, {})
    job = await finished(as_admin, await bulk(as_admin, "ARCHIVE", {"ids": [gid(i) for i in ids]}))
    row = await BackgroundJob.get(kind="bulk.ARCHIVE")
    await JobError.bulk_create(
        [JobError(job_id=row.id, contact_id=ids[0], code="INVALID", message=f"problem {n}") for n in range(3)]
    )
    page = """query($id: ID!, $after: String) { job(id: $id) { ... on BulkJob {
      errors(first: 2, after: $after) {
        pageInfo { hasNextPage endCursor } nodes { code message contact { id } } }
    } } }"""
    first = (await as_admin.data(page, {"id": job["id"]}))["job"]["errors"]
    assert [n["message"] for n in first["nodes"]] == ["problem 0", "problem 1"]
    assert first["nodes"][0]["contact"] == {"id": gid(ids[0])} and first["pageInfo"]["hasNextPage"]
    rest = (await as_admin.data(page, {"id": job["id"], "after": first["pageInfo"]["endCursor"]}))["job"][
        "errors"
    ]
    assert [n["message"] for n in rest["nodes"]] == ["problem 2"] and not rest["pageInfo"]["hasNextPage"]

    node = "query($id: ID!) { node(id: $id) { __typename id } }"
    assert (await as_admin.data(node, {"id": job["id"]}))["node"] == {
        "__typename": "BulkJob",
        "id": job["id"],
    }
    # The same row under the other job type's id is no such object.
    error = await as_admin.error(node, {"id": global_id_text("BackgroundJob", row.id)})
    assert error["extensions"]["code"] == "NOT_FOUND"
    # job(id:) and cancelJob take either type's id; another type's id is bad input.
    assert (await as_admin.data(JOB, {"id": global_id_text("BackgroundJob", row.id)}))["job"]["id"] == job[
        "id"
    ]
    error = await as_admin.error(JOB, {"id": gid(ids[0])})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}


# --------------------------------------------------------------------------------------
# Consent-aware SMS, through the SMS plugin and a fake Twilio
# --------------------------------------------------------------------------------------


async def test_bulk_sms_reaches_only_contacts_a_single_send_sms_would_text(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with twilio_app(running_app, twilio, disabled_plugins=()) as api:
        acme = await make_tenant("Smsco")
        ids = await people(
            acme,
            {"phone": "+14155550101"},
            {"phone": "+14155550102", "ok_to_sms": False, "sms_blocked_reason": "Replied STOP"},
            {"phone": "+14155550103", "phone_line_type": "landline", "ok_to_sms": False},
            {"phone": None},
            {"phone": "+14155550105", "archived_at": utcnow()},
            {"phone": "+14155550106"},
        )
        target = {"ids": [gid(i) for i in ids]}
        dry = await bulk(api, "SEND_SMS", target, {"body": "Spring sale!"}, dry_run=True, key=acme.admin_key)
        job = await bulk(api, "SEND_SMS", target, {"body": "Spring sale!"}, key=acme.admin_key)
        job = await finished(api.as_(acme.admin_key), job)
        expected = {"NO_SMS_CONSENT": 1, "LANDLINE": 1, "NO_PHONE": 1, "ARCHIVED": 1}
        assert (dry["done"], reasons(dry)) == (job["done"], reasons(job)) == (2, expected)
        # Only the two who agreed got a text; nobody got one twice.
        assert sorted(request.form["To"] for request in twilio.sends) == ["+14155550101", "+14155550106"]
        for contact_id in ids:
            refusal = messages.sms_refusal(await Contact.get(id=contact_id))
            sent = await Message.filter(contact_id=contact_id, channel="SMS").count()
            assert sent == (1 if refusal is None and contact_id != ids[4] else 0)
        entries = await journal(ids, "SMS_QUEUED")
        assert sorted(entries) == [ids[0], ids[5]]
        assert entries[ids[0]][0].endswith(f"(bulk action, job {db_job(job)})")


def db_job(job: dict[str, Any]) -> int:
    return int(relay.GlobalID.from_id(job["id"]).node_id)


# --------------------------------------------------------------------------------------
# A real `dossier worker` SIGKILLed mid-job; another one finishes it
# --------------------------------------------------------------------------------------

KILL_CONTACTS = 100


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("postgres_only")  # skips on SQLite: several workers need PostgreSQL
async def test_a_worker_killed_mid_job_is_resumed_by_another_changing_no_contact_twice(
    database_url: str, running_app: AppFactory, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")},
        "DOSSIER_DATABASE_URL": database_url,
        "DOSSIER_DISABLED_PLUGINS": ",".join(builtin_names()),
        "DOSSIER_JOB_BATCH_SIZE": "1",  # one contact per step: many steps to be killed among
        "DOSSIER_OUTBOX_LEASE_SECONDS": "0.5",
        "DOSSIER_OUTBOX_POLL_INTERVAL": "0.1",
        "DOSSIER_OUTBOX_BACKOFF_BASE": "0.1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    spawner = Spawner(tmp_path, env)
    try:
        async with running_app(disabled_plugins=builtin_names()) as api:
            acme = await make_tenant("Killco")
            ids = await people(acme, *({} for _ in range(KILL_CONTACTS)))
            job = await bulk(api, "ADD_TAG", {"filter": {}}, {"tag": "Survivor"}, key=acme.admin_key)
            row_id = db_job(job)

            async def progressed() -> bool:
                return (await BackgroundJob.get(id=row_id)).done >= 10

            first = spawner.start()
            await wait_until(progressed, "the first worker to run some batches", check=spawner.check_alive)
            spawner.kill(first)
            killed_at = await BackgroundJob.get(id=row_id)
            assert killed_at.status == "RUNNING" and killed_at.done < KILL_CONTACTS, "killed too late"

            async def done() -> bool:
                return (await BackgroundJob.get(id=row_id)).status == "DONE"

            spawner.start()
            await wait_until(done, "another worker to finish the job", timeout=120, check=spawner.check_alive)
            shown = (await api.data(JOB, {"id": job["id"]}, key=acme.admin_key))["job"]
            assert (shown["total"], shown["done"], shown["failed"]) == (KILL_CONTACTS, KILL_CONTACTS, 0)
            # Every contact tagged once, journaled once: none skipped, none twice.
            tag = await Tag.get(key="survivor")
            assert sorted(await ContactTag.filter(tag_id=tag.id).values_list("contact_id", flat=True)) == ids
            entries = await journal(ids, "TAG_ADDED")
            assert sorted(entries) == ids and all(len(e) == 1 for e in entries.values())
    finally:
        spawner.stop()


async def test_a_jobs_file_downloads_through_its_own_signed_link(as_admin: Api, acme: Tenant) -> None:
    from tortoise.transactions import in_transaction

    from crm import file_links, storage

    ids = await people(acme, {})
    job = await bulk(as_admin, "ARCHIVE", {"ids": [gid(ids[0])]}, dry_run=True)
    row = await BackgroundJob.get(id=db_job(job))

    async def body() -> Any:
        yield b"name,email\nPat,pat@example.com\n"

    key = f"{row.account_id}/jobs/test.csv"  # type: ignore[attr-defined]
    stored = await storage.current().put(key, body())
    async with in_transaction() as conn:
        await jobs.set_file(conn, row, key, "contacts.csv", "text/csv", stored.size)
    query = """query($id: ID!) { job(id: $id) { ... on BulkJob {
      file { name contentType size downloadUrl(expiresIn: 60) } } } }"""
    file = (await as_admin.data(query, {"id": job["id"]}))["job"]["file"]
    assert (file["name"], file["contentType"], file["size"]) == ("contacts.csv", "text/csv", stored.size)
    assert file["downloadUrl"].startswith("http://dossier.test/job-files/")
    response = await as_admin.client.get(file["downloadUrl"])
    assert response.status_code == 200 and response.content == b"name,email\nPat,pat@example.com\n"
    assert response.headers["content-disposition"].startswith('attachment; filename="contacts.csv"')
    # The token is for this job's file only: as an attachment's link it names nothing.
    token = file["downloadUrl"].rsplit("/", 1)[1]
    assert (await as_admin.client.get(f"/files/{token}")).status_code == 404
    forged = file_links.make_token(row.id, row.account_id, 60)  # type: ignore[attr-defined]
    assert (await as_admin.client.get(f"/job-files/{forged}")).status_code == 404
    error = await as_admin.error(
        "query($id: ID!) { job(id: $id) { ... on BulkJob { file { downloadUrl(expiresIn: 0) } } } }",
        {"id": job["id"]},
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "expiresIn"}


async def test_the_readme_example_works(as_admin: Api, acme: Tenant) -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Bulk actions\n", 1)[1]
    example = re.search(r"```graphql\n(mutation \{\n  preview: bulkAction.*?)```", section, re.S)
    assert example is not None, "the README lost its bulk actions example"
    ids = await people(acme, {}, {"status": "customer"}, {"ok_to_sms": False})
    data = await as_admin.data(example.group(1))
    assert (data["preview"]["total"], data["preview"]["done"]) == (0, 0)  # nobody is tagged yet
    assert (data["tagging"]["status"], data["tagging"]["total"], data["tagging"]["action"]) == (
        "QUEUED", 2, "ADD_TAG",
    )  # fmt: skip
    await as_admin.runtime.dispatcher.drain()
    again = await as_admin.data(example.group(1))
    assert again["preview"]["done"] == 1 and reasons(again["preview"]) == {"NO_SMS_CONSENT": 1}
    assert sorted(await journal(ids, "TAG_ADDED")) == [ids[0], ids[2]]


NODE = "query($id: ID!) { node(id: $id) { id ... on BulkJob { status action skippedByReason { reason } } } }"


async def test_both_executors_answer_the_same(as_admin: Api, acme: Tenant) -> None:
    from tests.test_fast_execution import both_over_http

    ids = await people(acme, {}, {"archived_at": utcnow()})
    job = await finished(as_admin, await bulk(as_admin, "ARCHIVE", {"ids": [gid(i) for i in ids]}))
    dry = await bulk(as_admin, "SEND_EMAIL", {"filter": {}}, {"subject": "Hi", "body": "Yo"}, dry_run=True)
    row = await BackgroundJob.get(kind="bulk.ARCHIVE")
    await JobError.create(job_id=row.id, contact_id=ids[0], code="INVALID", message="a problem")
    queries = [
        (JOB, {"id": job["id"]}),
        (JOB, {"id": dry["id"]}),
        (JOB, {"id": global_id_text("BackgroundJob", row.id)}),
        (NODE, {"id": job["id"]}),
        (JOB, {"id": gid(ids[0])}),  # another type's id
        (JOB, {"id": global_id_text("BulkJob", 4242)}),  # no such job
    ]
    for query, variables in queries:
        slow, fast = await both_over_http(as_admin, query, variables)
        assert slow == fast, (query, slow, fast)


async def test_export_is_the_export_services_job(as_admin: Api, acme: Tenant) -> None:
    ids = await people(acme, {}, {}, {"archived_at": utcnow()})
    target = {"ids": [gid(i) for i in ids[:2]]}
    dry = await bulk(as_admin, "EXPORT", target, {"columns": ["firstName", "email"]}, dry_run=True)
    assert (dry["kind"], dry["action"], dry["dryRun"], dry["total"], dry["done"]) == (
        "bulk.EXPORT", "EXPORT", True, 2, 2,
    )  # fmt: skip
    job = await bulk(as_admin, "EXPORT", target, {"columns": ["firstName", "email"], "format": "CSV"})
    # exportContacts' own job: an export.contacts BulkJob, no bulk action of its own.
    assert (job["kind"], job["action"], job["total"]) == ("export.contacts", None, 2)
    await as_admin.runtime.dispatcher.drain()
    shown = await as_admin.data(
        "query($id: ID!) { job(id: $id) { status ... on BulkJob { file { name size } } } }", {"id": job["id"]}
    )
    assert shown["job"]["status"] == "DONE" and shown["job"]["file"]["size"] > 0
    error = await as_admin.error(
        BULK, {"i": {"action": "EXPORT", "target": target, "params": {"columns": ["nope"]}}}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await as_admin.error(BULK, {"i": {"action": "EXPORT", "target": target}}, key=acme.rep_key)
    assert error["extensions"]["code"] == "FORBIDDEN"
