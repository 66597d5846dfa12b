"""Bulk actions on many contacts (D9): `bulkAction`, run as `bulk.<ACTION>` jobs (crm/jobs.py).

A bulk action names an action, a target (crm/services/targets.py: ids, a filter or a segment) and
the action's params. Each contact is changed through the same steps the single mutations use
(crm/services/contacts.py `apply_status`, tags.py `tag_contact`, lifecycle.py `archive_in`,
messages.py `queue_sms_in`...), inside a unit of work over the job step's own transaction, so each
contact gets its usual journey entry and hook; the entry's summary ends with "(bulk action, job N)".

Skipping follows the single mutations' rules, in a fixed order per action (SKIP_ORDER): a
contact the single mutation would refuse is skipped with a reason, never changed:

- sends (SEND_SMS, SEND_EMAIL) and MARKETING_EXPORT skip archived contacts (ARCHIVED); SMS
  then applies `sms_refusal_code` (NO_PHONE, LANDLINE, NO_SMS_CONSENT), email needs an address
  (NO_EMAIL) and, for marketing email (the default for bulk email) and marketing exports, the
  communication opt-in (NO_MARKETING_CONSENT);
- ARCHIVE skips archived ones (ARCHIVED), RESTORE and DELETE live ones (NOT_ARCHIVED);
- SET_STATUS, ASSIGN_OWNER, ADD_TAG, REMOVE_TAG and ADD_TO_SEGMENT skip contacts already as
  the action would leave them (ALREADY_SET);
- contacts deleted or merged away after the job was queued (ids targets) are GONE.

Permissions are the single mutations': ASSIGN_OWNER and DELETE are for admins and managers
(assignOwners, deleteContacts), as are EXPORT and MARKETING_EXPORT (personal data leaving in
bulk). A rep's dry run of one counts every contact as NO_PERMISSION; the action itself is
FORBIDDEN (nothing would change).

`dryRun` answers at once, by SQL counts over the target (no contact is read into Python, so it
holds at a million contacts): how many contacts would change and how many would be skipped by
reason. It changes nothing and is kept as a DONE BulkJob with `dryRun` true, so it has an id.

The job walks the target by contact id (the cursor is the last id done), a batch of BATCH_SIZE
per step in one transaction: a killed worker resumes after the last committed batch and no
contact is changed twice. The contacts are those the target matches up to the highest id when
queued (the total is counted then). When the job is DONE, `bulk_action_finished` fires once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from crm import jobs
from crm.account_events import queue_account_event
from crm.actor import Actor, ActorKind, Role
from crm.clock import utcnow
from crm.errors import BadInput, DomainError, Forbidden, NotFound
from crm.exports.columns import resolve as export_columns
from crm.exports.formats import file_format
from crm.models import Account, BackgroundJob, Contact, ContactTag, Segment, SegmentMember, Tag, User
from crm.models.segments import STATIC
from crm.services import contacts as contact_service
from crm.services import lifecycle, messages, segments, tags
from crm.services.attachments import discard_objects
from crm.services.billing import api_id
from crm.services.exports import start_export
from crm.services.optins import marketing_refusal
from crm.services.targets import Target, contacts_of, target_contacts
from crm.uow import UnitOfWork, display_name, unit_of_work
from crm.wiring import wiring

KIND_PREFIX = "bulk."
FINISHED_HOOK = "bulk_action_finished"
MARKETING_HOOK = "marketing_export"
# Contacts per step: each costs a few statements (lock, change, journal, outbox), so a batch
# stays a transaction of well under a second.
BATCH_SIZE = 200


class BulkAction(StrEnum):
    ARCHIVE = "ARCHIVE"
    RESTORE = "RESTORE"
    SET_STATUS = "SET_STATUS"
    ASSIGN_OWNER = "ASSIGN_OWNER"
    ADD_TAG = "ADD_TAG"
    REMOVE_TAG = "REMOVE_TAG"
    ADD_TO_SEGMENT = "ADD_TO_SEGMENT"
    SEND_SMS = "SEND_SMS"
    SEND_EMAIL = "SEND_EMAIL"
    EXPORT = "EXPORT"
    DELETE = "DELETE"
    MARKETING_EXPORT = "MARKETING_EXPORT"


class SkipReason(StrEnum):
    """Why a targeted contact was left as it was (BulkJob.skippedByReason; dry runs count them)."""

    NO_PERMISSION = "NO_PERMISSION"
    ARCHIVED = "ARCHIVED"
    NOT_ARCHIVED = "NOT_ARCHIVED"
    ALREADY_SET = "ALREADY_SET"
    NO_PHONE = "NO_PHONE"
    LANDLINE = "LANDLINE"
    NO_SMS_CONSENT = "NO_SMS_CONSENT"
    NO_EMAIL = "NO_EMAIL"
    NO_MARKETING_CONSENT = "NO_MARKETING_CONSENT"
    GONE = "GONE"
    # Imports: a row left out (the job's errors say why).
    INVALID = "INVALID"
    DUPLICATE = "DUPLICATE"


A, R = BulkAction, SkipReason
# For admins and managers only, as the single mutations (or, for exports, the export service).
MANAGERS_ONLY = frozenset({A.ASSIGN_OWNER, A.DELETE, A.EXPORT, A.MARKETING_EXPORT})
# Filter and segment targets take archived contacts for these, live ones for the others.
ARCHIVED_SCOPE = frozenset({A.RESTORE, A.DELETE})
OWNER_ROLES = {"SETTER": "setter_owner_id", "CLOSER": "closer_owner_id", "ASSIGNED": "assigned_to_id"}
# Each action's params (API names): those it needs and those it may take. Others are refused.
PARAMS: dict[BulkAction, tuple[frozenset[str], frozenset[str]]] = {
    A.ARCHIVE: (frozenset(), frozenset()),
    A.RESTORE: (frozenset(), frozenset()),
    A.DELETE: (frozenset(), frozenset()),
    A.SET_STATUS: (frozenset({"status"}), frozenset({"subStatus"})),
    A.ASSIGN_OWNER: (frozenset({"ownerRole"}), frozenset({"userId"})),
    A.ADD_TAG: (frozenset({"tag"}), frozenset()),
    A.REMOVE_TAG: (frozenset({"tag"}), frozenset()),
    A.ADD_TO_SEGMENT: (frozenset({"segmentId"}), frozenset()),
    A.SEND_SMS: (frozenset({"body"}), frozenset()),
    A.SEND_EMAIL: (frozenset({"subject", "body"}), frozenset({"marketing"})),
    A.EXPORT: (frozenset(), frozenset({"columns", "format"})),
    A.MARKETING_EXPORT: (frozenset(), frozenset({"options"})),
}
# The order in which skip reasons are tried (the first that applies is the one counted).
SKIP_ORDER: dict[BulkAction, tuple[SkipReason, ...]] = {
    A.ARCHIVE: (R.NO_PERMISSION, R.ARCHIVED),
    A.RESTORE: (R.NO_PERMISSION, R.NOT_ARCHIVED),
    A.DELETE: (R.NO_PERMISSION, R.NOT_ARCHIVED),
    A.SET_STATUS: (R.NO_PERMISSION, R.ALREADY_SET),
    A.ASSIGN_OWNER: (R.NO_PERMISSION, R.ALREADY_SET),
    A.ADD_TAG: (R.NO_PERMISSION, R.ALREADY_SET),
    A.REMOVE_TAG: (R.NO_PERMISSION, R.ALREADY_SET),
    A.ADD_TO_SEGMENT: (R.NO_PERMISSION, R.ALREADY_SET),
    A.SEND_SMS: (R.NO_PERMISSION, R.ARCHIVED, R.NO_PHONE, R.LANDLINE, R.NO_SMS_CONSENT),
    A.SEND_EMAIL: (R.NO_PERMISSION, R.ARCHIVED, R.NO_EMAIL, R.NO_MARKETING_CONSENT),
    A.EXPORT: (R.NO_PERMISSION,),
    A.MARKETING_EXPORT: (R.NO_PERMISSION, R.ARCHIVED, R.NO_EMAIL, R.NO_MARKETING_CONSENT),
}
MAX_OPTIONS_BYTES = 10_000


def kind_of(action: BulkAction) -> str:
    return KIND_PREFIX + action.value


def action_of(kind: str) -> BulkAction | None:
    """The action of a `bulk.<ACTION>` job kind; None for imports and exports."""
    if kind.startswith(KIND_PREFIX):
        try:
            return BulkAction(kind.removeprefix(KIND_PREFIX))
        except ValueError:
            return None
    return None


def archived_scope(action: BulkAction) -> bool:
    """Whether a filter or segment target means archived contacts by default for this action."""
    return action in ARCHIVED_SCOPE


def may_act(actor: Actor, action: BulkAction) -> bool:
    return action not in MANAGERS_ONLY or actor.is_manager


# --------------------------------------------------------------------------------------
# Params
# --------------------------------------------------------------------------------------


async def clean_params(
    actor: Actor, action: BulkAction, given: Mapping[str, Any], *, dry_run: bool = False
) -> dict[str, Any]:
    """The action's params checked and in the form its job keeps (JSON): BAD_USER_INPUT for a
    missing or foreign param, NOT_FOUND for another account's user or segment. Sends need their
    provider (NOT_CONFIGURED), except in a dry run: counting who would get one sends nothing."""
    needed, optional = PARAMS[action]
    provided = {name for name, value in given.items() if value is not None or name == "userId"}
    extra = sorted(provided - needed - optional)
    if extra:
        takes = ", ".join(sorted(needed | optional)) or "no params"
        raise BadInput(
            f"{action.value} does not take {', '.join(extra)} (it takes {takes})", field=f"params.{extra[0]}"
        )
    missing = sorted(needed - provided)
    if missing:
        raise BadInput(f"{action.value} needs params.{missing[0]}", field=f"params.{missing[0]}")
    if action is A.SET_STATUS:
        account = await Account.get(id=actor.account_id)
        entry, sub = contact_service.status_choice(account, given["status"], given.get("subStatus"))
        return {"status": entry["name"], "subStatus": sub}
    if action is A.ASSIGN_OWNER:
        role = str(given["ownerRole"])
        if role not in OWNER_ROLES:
            raise BadInput(f"ownerRole must be one of {', '.join(OWNER_ROLES)}", field="params.ownerRole")
        user_id = given.get("userId")
        if user_id is not None and not await User.filter(id=user_id, account_id=actor.account_id).exists():
            raise NotFound(f"no user with id {user_id} in this account", field="params.userId")
        return {"ownerField": OWNER_ROLES[role], "userId": user_id}
    if action in (A.ADD_TAG, A.REMOVE_TAG):
        return {"tag": tags.clean_tag_name(given["tag"])}
    if action is A.ADD_TO_SEGMENT:
        segment = await Segment.filter(id=given["segmentId"], account_id=actor.account_id).first()
        if segment is None:
            raise NotFound(
                f"no segment with id {given['segmentId']} in this account", field="params.segmentId"
            )
        if segment.kind != STATIC:
            raise BadInput(
                f"segment {segment.name!r} is dynamic: its filter decides who is in it; add contacts to a "
                "static segment",
                field="params.segmentId",
            )
        return {"segmentId": segment.id}
    if action is A.SEND_SMS:
        if not dry_run:
            messages.require_sms()
        return {"body": messages.clean_sms_body(given["body"])}
    if action is A.SEND_EMAIL:
        if not dry_run:
            messages.require_email()
        subject, body = messages.clean_email(given["subject"], given["body"])
        # A message to many contacts at once is marketing unless the caller says otherwise.
        marketing = given.get("marketing")
        return {"subject": subject, "body": body, "marketing": True if marketing is None else bool(marketing)}
    if action is A.MARKETING_EXPORT:
        if not wiring.subscribers(MARKETING_HOOK):
            raise BadInput(
                "no plugin provides the marketing export: install one that implements the "
                f"{MARKETING_HOOK} hook (docs/plugins.md)",
                field="action",
            )
        options = given.get("options") or {}
        if not isinstance(options, dict) or len(str(options)) > MAX_OPTIONS_BYTES:
            raise BadInput(
                f"options must be a JSON object of at most {MAX_OPTIONS_BYTES} characters",
                field="params.options",
            )
        return {"options": options}
    if action is A.EXPORT:  # checked as exportContacts checks them (a dry run too)
        fmt = file_format(given.get("format") or "CSV")
        await export_columns(actor.account_id, given.get("columns"))
        return {"columns": given.get("columns"), "format": fmt.value}
    return {}


# --------------------------------------------------------------------------------------
# Skip rules as SQL (dry runs)
# --------------------------------------------------------------------------------------

_NO = Q(id__lt=0)  # matches nobody (ids are positive)


def _members(segment_id: int) -> Q:
    return Q(id__in=Subquery(SegmentMember.filter(segment_id=segment_id).values("contact_id")))


async def skip_conditions(
    actor: Actor, action: BulkAction, params: Mapping[str, Any], allowed: bool
) -> list[tuple[SkipReason, Q | None]]:
    """Each skip reason of the action, in order, as a condition on contacts (None: every
    contact). The same rules the job applies contact by contact."""
    rules: list[tuple[SkipReason, Q | None]] = []
    for reason in SKIP_ORDER[action]:
        condition: Q | None
        if reason is R.NO_PERMISSION:
            condition = None if not allowed else _NO
        elif reason is R.ARCHIVED:
            condition = Q(archived_at__isnull=False)
        elif reason is R.NOT_ARCHIVED:
            condition = Q(archived_at__isnull=True)
        elif reason is R.NO_PHONE:
            condition = Q(phone__isnull=True) | Q(phone="")
        elif reason is R.LANDLINE:
            condition = Q(phone_line_type__in=sorted(messages.NON_TEXTABLE_LINES))
        elif reason is R.NO_SMS_CONSENT:
            condition = Q(ok_to_sms=False)
        elif reason is R.NO_EMAIL:
            condition = Q(email__isnull=True) | Q(email="")
        elif reason is R.NO_MARKETING_CONSENT:
            condition = Q(communication_opt_in=False) if params.get("marketing", True) else _NO
        else:  # ALREADY_SET
            condition = await _already_set(actor, action, params)
        rules.append((reason, condition))
    return rules


async def _already_set(actor: Actor, action: BulkAction, params: Mapping[str, Any]) -> Q | None:
    if action is A.SET_STATUS:
        sub = params["subStatus"]
        return Q(status=params["status"]) & (
            Q(sub_status=sub) if sub is not None else Q(sub_status__isnull=True)
        )
    if action is A.ASSIGN_OWNER:
        column, user_id = params["ownerField"], params["userId"]
        return Q(**{column: user_id}) if user_id is not None else Q(**{f"{column}__isnull": True})
    if action is A.ADD_TO_SEGMENT:
        return _members(params["segmentId"])
    tag = await Tag.filter(account_id=actor.account_id, key=tags.tag_key(params["tag"])).first()
    if tag is None:  # nobody has it yet: ADD_TAG adds it to all, REMOVE_TAG has nothing to remove
        return _NO if action is A.ADD_TAG else None
    tagged = Q(id__in=Subquery(ContactTag.filter(tag_id=tag.id).values("contact_id")))
    return tagged if action is A.ADD_TAG else ~tagged


async def count_skips(
    contacts: QuerySet[Contact], rules: Sequence[tuple[SkipReason, Q | None]]
) -> tuple[int, dict[str, int]]:
    """(total, skipped by reason) in one statement, one pass over the target: for each k, the
    contacts matching any of the first k rules (`COUNT(CASE WHEN ... )`), differenced. Unions
    only, never negations, so a NULL column cannot hide a contact from a count."""
    counts: dict[str, Count] = {"total": Count("id")}
    union: Q | None = None
    steps: list[tuple[SkipReason, str | None]] = []
    for n, (reason, condition) in enumerate(rules):
        if condition is _NO:
            continue
        if condition is None:  # every contact left is skipped for this reason
            steps.append((reason, None))
            break
        union = condition if union is None else union | condition
        counts[f"upto_{n}"] = Count("id", _filter=union)
        steps.append((reason, f"upto_{n}"))
    row = (await contacts.annotate(**counts).values(*counts))[0]
    total = int(row["total"])
    skipped: dict[str, int] = {}
    before = 0
    for reason, name in steps:
        counted = total if name is None else int(row[name])
        if counted > before:
            skipped[reason.value] = counted - before
        before = counted
    return total, skipped


# --------------------------------------------------------------------------------------
# Queueing
# --------------------------------------------------------------------------------------


async def refuse_foreign_ids(actor: Actor, target: Target, params: Mapping[str, Any]) -> None:
    """NOT_FOUND for any id that is not the account's, before anything else is looked at: another
    account's objects are answered as missing ones, whatever else is wrong with the request."""
    if target.ids:
        await target_contacts(actor, Target(ids=target.ids))
    segment_ids = {i for i in (target.segment_id, params.get("segmentId")) if i is not None}
    found = set(
        await Segment.filter(id__in=segment_ids, account_id=actor.account_id).values_list("id", flat=True)
    )
    for segment_id, field_name in (
        (target.segment_id, "segmentId"),
        (params.get("segmentId"), "params.segmentId"),
    ):
        if segment_id is not None and segment_id not in found:
            raise NotFound(f"no segment with id {segment_id} in this account", field=field_name)
    user_id = params.get("userId")
    if user_id is not None and not await User.filter(id=user_id, account_id=actor.account_id).exists():
        raise NotFound(f"no user with id {user_id} in this account", field="params.userId")


def actor_json(actor: Actor) -> dict[str, Any]:
    return {"kind": actor.kind.value, "name": actor.name, "user_id": actor.user_id,
            "role": actor.role.value if actor.role else None}  # fmt: skip


def actor_of(job: BackgroundJob) -> Actor:
    who = job.params["actor"]
    role = Role(who["role"]) if who.get("role") else None
    return Actor(job.account_id, ActorKind(who["kind"]), who["name"], who["user_id"], role)  # type: ignore[attr-defined]


async def bulk_action(
    actor: Actor, action: BulkAction, target: Target, params: Mapping[str, Any], *, dry_run: bool = False
) -> BackgroundJob:
    """Queue the action as a job, or (dry_run) count what it would do and keep that as a DONE job.
    EXPORT is the export service's own job (crm/services/exports.py)."""
    action = BulkAction(action)
    await refuse_foreign_ids(actor, target, params)
    allowed = may_act(actor, action)
    if not allowed and not dry_run:
        raise Forbidden(
            f"only admins and managers can {action.value.lower().replace('_', ' ')} contacts in bulk "
            "(a dry run shows what it would do)"
        )
    cleaned = await clean_params(actor, action, params, dry_run=dry_run)
    if action is A.EXPORT and not dry_run:  # the export's own job (export.contacts)
        return await start_export(actor, target, cleaned["columns"], cleaned["format"])
    contacts = await target_contacts(actor, target)
    if dry_run:
        rules = await skip_conditions(actor, action, cleaned, allowed)
        total, skipped = await count_skips(contacts, rules)
        async with unit_of_work(actor) as uow:  # only the job's row: nothing to journal
            return await keep_dry_run(actor, action, target, cleaned, total, skipped, uow.conn)
    # Queued in one transaction with its total and first step; each contact is journaled by the
    # step that changes it.
    async with unit_of_work(actor) as uow:
        conn = uow.conn
        scoped = contacts.using_db(conn)
        top = next(iter(await scoped.order_by("-id").limit(1).values_list("id", flat=True)), 0)
        total = await scoped.count()
        job_params = {
            "action": action.value,
            "target": target.to_json(),
            "params": cleaned,
            "upto_id": top,
            "actor": actor_json(actor),
        }
        job = await jobs.enqueue(
            conn, actor, kind_of(action), job_params, total=total, cursor={"after_id": 0}
        )
    jobs.queued()
    return job


async def keep_dry_run(
    actor: Actor,
    action: BulkAction,
    target: Target,
    params: dict[str, Any],
    total: int,
    skipped: dict[str, int],
    conn: BaseDBAsyncClient | None = None,
) -> BackgroundJob:
    """A dry run's answer as a DONE job (dryRun true), so it has an id like any job."""
    now = utcnow()
    left = sum(skipped.values())
    return await BackgroundJob.create(
        account_id=actor.account_id,
        kind=kind_of(action),
        status=jobs.DONE,
        params={
            "action": action.value,
            "target": target.to_json(),
            "params": params,
            "actor": actor_json(actor),
        },
        total=total,
        done=total - left,
        skipped=left,
        result={"skipped": skipped},
        dry_run=True,
        started_by_id=actor.user_id,
        started_at=now,
        finished_at=now,
        using_db=conn,
    )


# --------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------


@dataclass
class Batch:
    """What one step did: counts, skipped contacts by reason, errors contact by contact."""

    job_id: int
    done: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[jobs.JobErrorRow] = field(default_factory=list)

    def count(self, changed: bool) -> None:
        """A contact the action changed, or left because it already was as the action leaves it."""
        if changed:
            self.done += 1
        else:
            self.skipped[R.ALREADY_SET.value] += 1

    async def each(self, contacts: Sequence[Contact], change: Callable[[Contact], Awaitable[bool]]) -> None:
        """`change` each contact; one the single mutation's rules refuse (a DomainError, raised before
        it writes anything) is an error of that contact, and the batch goes on."""
        for contact in contacts:
            try:
                self.count(await change(contact))
            except DomainError as exc:
                self.failed += 1
                self.errors.append(
                    jobs.JobErrorRow(code=exc.code, message=exc.message, contact_id=contact.id)
                )


async def _batch_contacts(job: BackgroundJob, conn: BaseDBAsyncClient, size: int) -> tuple[list[int], bool]:
    """The next batch's contact ids (ascending, after the cursor) and whether it is the last."""
    params, after = job.params, int(job.cursor.get("after_id", 0))
    target = Target.from_json(params["target"])
    if target.ids is not None:
        ahead = sorted(i for i in set(target.ids) if i > after)
        return ahead[:size], len(ahead) <= size
    contacts = await contacts_of(job.account_id, target)  # type: ignore[attr-defined]
    ids = (
        await contacts.filter(id__gt=after, id__lte=params["upto_id"])
        .using_db(conn)
        .order_by("id")
        .limit(size)
        .values_list("id", flat=True)
    )
    return list(ids), len(ids) < size


async def _step(job: BackgroundJob, conn: BaseDBAsyncClient, size: int) -> jobs.StepOutcome:
    action = BulkAction(job.params["action"])
    ids, last = await _batch_contacts(job, conn, size)
    if not ids:
        return jobs.StepOutcome(cursor=job.cursor, finished=True)
    uow = UnitOfWork(actor_of(job), conn, origin=f" (bulk action, job {job.id})")
    # Locked in id order: two jobs over overlapping contacts wait for each other, never deadlock
    # (single mutations lock one contact at a time).
    locked = (
        await Contact.filter(id__in=ids, account_id=job.account_id)  # type: ignore[attr-defined]
        .using_db(conn)
        .order_by("id")
        .select_for_update()
    )
    batch = Batch(job.id)
    batch.skipped[R.GONE.value] += len(ids) - len(locked)
    try:
        files = await APPLY[action](uow, job.params["params"], list(locked), batch)
    except DomainError as exc:  # the action itself cannot go on (its segment or status is gone)
        raise jobs.JobFailed(f"{action.value}: {exc.message}; the job stopped") from exc
    jobs.add_counts(job, "skipped", dict(batch.skipped))
    await jobs.record_errors(conn, job, batch.errors)

    async def after_commit() -> None:
        await uow.after_commit()
        if files:
            await discard_objects(files)

    return jobs.StepOutcome(
        cursor={"after_id": ids[-1]},
        done=batch.done,
        skipped=sum(batch.skipped.values()),
        failed=batch.failed,
        finished=last,
        after_commit=after_commit,
    )


async def _finished(job: BackgroundJob, conn: BaseDBAsyncClient) -> None:
    actor = actor_of(job)
    action = job.params["action"]
    skipped = (job.result or {}).get("skipped") or {}
    await queue_account_event(
        conn,
        actor,
        FINISHED_HOOK,
        f"{actor.name}'s bulk action {action} is done: {job.done} changed, {job.skipped} skipped, "
        f"{job.failed} failed",
        subject_type="BulkJob",
        subject_id=job.id,
        subject={
            "jobId": api_id("BulkJob", job.id),
            "action": action,
            "total": job.total,
            "done": job.done,
            "skipped": job.skipped,
            "failed": job.failed,
            "skippedByReason": skipped,
        },
    )


# -- one applier per action: (uow, params, locked contacts, batch) -> storage keys to discard ---


async def _archive(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    changed = await lifecycle.archive_in(uow, contacts)
    batch.done += len(changed)
    batch.skipped[R.ARCHIVED.value] += len(contacts) - len(changed)
    return []


async def _restore(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    changed = await lifecycle.restore_in(uow, contacts)
    batch.done += len(changed)
    batch.skipped[R.NOT_ARCHIVED.value] += len(contacts) - len(changed)
    return []


async def _delete(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    archived = [c for c in contacts if c.archived_at is not None]
    batch.skipped[R.NOT_ARCHIVED.value] += len(contacts) - len(archived)
    files = await lifecycle.delete_in(uow, archived)
    batch.done += len(archived)
    return files


async def _set_status(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    account = await Account.get(id=uow.actor.account_id).using_db(uow.conn)
    entry, sub = contact_service.status_choice(account, params["status"], params["subStatus"])
    await batch.each(contacts, lambda contact: contact_service.apply_status(uow, contact, entry, sub))
    return []


async def _assign_owner(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    column, user_id = params["ownerField"], params["userId"]
    users = await contact_service.owner_users(uow, [user_id, *(getattr(c, column) for c in contacts)])
    if user_id is not None and user_id not in users:
        raise NotFound(f"the user {user_id} no longer exists")
    await batch.each(
        contacts, lambda contact: contact_service.apply_owners(uow, contact, {column: user_id}, users)
    )
    return []


async def _add_tag(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    tag = await tags.account_tag(uow, params["tag"])
    await batch.each(contacts, lambda contact: tags.tag_contact(uow, contact, tag))
    return []


async def _remove_tag(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    tag = (
        await Tag.filter(account_id=uow.actor.account_id, key=tags.tag_key(params["tag"]))
        .using_db(uow.conn)
        .first()
    )
    if tag is None:  # nobody has it
        batch.skipped[R.ALREADY_SET.value] += len(contacts)
        return []
    await batch.each(contacts, lambda contact: tags.untag_contact(uow, contact, tag))
    return []


async def _add_to_segment(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    segment = (
        await Segment.filter(id=params["segmentId"], account_id=uow.actor.account_id)
        .using_db(uow.conn)
        .first()
    )
    if segment is None:
        raise NotFound("the segment was deleted")
    added = await segments.add_members(uow, segment, [c.id for c in contacts])
    batch.done += len(added)
    batch.skipped[R.ALREADY_SET.value] += len(contacts) - len(added)
    return []


async def _send_sms(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    sender = await messages.sender_number(uow)
    for contact in contacts:
        if contact.archived_at is not None:
            batch.skipped[R.ARCHIVED.value] += 1
        elif refusal := messages.sms_refusal_code(contact):  # the rule sendSms applies
            batch.skipped[refusal[0]] += 1
        else:
            await messages.queue_sms_in(uow, contact, params["body"], sender)
            batch.done += 1
    return []


def _email_skip(contact: Contact, marketing: bool) -> SkipReason | None:
    """What queue_email (marketing or not) would refuse, as a reason."""
    if contact.archived_at is not None:
        return R.ARCHIVED
    if not contact.email:
        return R.NO_EMAIL
    if marketing and marketing_refusal(contact):
        return R.NO_MARKETING_CONSENT
    return None


async def _send_email(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    for contact in contacts:
        reason = _email_skip(contact, params["marketing"])
        if reason is not None:
            batch.skipped[reason.value] += 1
        else:
            await messages.queue_email_in(uow, contact, params["subject"], params["body"])
            batch.done += 1
    return []


async def _marketing_export(
    uow: UnitOfWork, params: dict[str, Any], contacts: list[Contact], batch: Batch
) -> list[str]:
    """One `marketing_export` event per batch for the plugins that provide it: the contacts who
    opted in to communication, as the partner's email-marketing tool needs them."""
    chosen = []
    for contact in contacts:
        reason = _email_skip(contact, True)
        if reason is not None:
            batch.skipped[reason.value] += 1
        else:
            chosen.append(_marketing_row(contact))
    if chosen:
        job_id = batch.job_id
        written = await queue_account_event(
            uow.conn,
            uow.actor,
            MARKETING_HOOK,
            f"{uow.actor.name} exported {len(chosen)} contacts for email marketing",
            subject_type="BulkJob",
            subject_id=job_id,
            subject={"jobId": api_id("BulkJob", job_id), "contacts": chosen, "options": params["options"]},
        )
        uow.outbox_written(written)
        batch.done += len(chosen)
    return []


def _marketing_row(contact: Contact) -> dict[str, Any]:
    return {
        "id": api_id("Contact", contact.id),
        "displayName": display_name(
            contact.first_name, contact.last_name, contact.business_name, contact.email
        ),
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "businessName": contact.business_name,
        "email": contact.email,
        "phone": contact.phone,
        "status": contact.status,
        "communicationOptInAt": contact.communication_opt_in_at.isoformat()
        if contact.communication_opt_in_at
        else None,
    }


APPLY = {
    A.ARCHIVE: _archive,
    A.RESTORE: _restore,
    A.DELETE: _delete,
    A.SET_STATUS: _set_status,
    A.ASSIGN_OWNER: _assign_owner,
    A.ADD_TAG: _add_tag,
    A.REMOVE_TAG: _remove_tag,
    A.ADD_TO_SEGMENT: _add_to_segment,
    A.SEND_SMS: _send_sms,
    A.SEND_EMAIL: _send_email,
    A.MARKETING_EXPORT: _marketing_export,
}

for _action in APPLY:
    jobs.register(kind_of(_action), _step, _finished, batch_size=BATCH_SIZE)
