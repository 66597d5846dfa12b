"""The demo's bulk actions (D9): a finished bulk tagging and a dry run of a bulk SMS.

Called by `dossier.demo` last (its journey entries are the newest), in the seed's transaction.
A manager tagged the 25 oldest live cards "Spring fair 2027" in one bulkAction: the job is DONE, each card
got its TAG_ADDED entry through the same step the job runs (`crm.services.bulk.APPLY`, in a unit
of work over the seed's transaction, "(bulk action, job N)" in the summary), and a card tagged
already counts as ALREADY_SET. Then an admin asked what texting every live card would do: a DONE
dry run whose skippedByReason shows who a bulk SMS would leave out (no consent, landlines, no
phone), counted by the same SQL as `bulkAction(dryRun: true)`. Both are in `job(id:)` and
`node(id:)`; GraphiQL shows bulkAction with them. No outbox rows: no plugin subscribes to a new
account's events before it has webhooks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from crm import jobs
from crm.actor import Actor
from crm.models import BackgroundJob, Contact, Merge, User
from crm.services import bulk
from crm.services.targets import Target
from crm.uow import UnitOfWork

TAG = "Spring fair 2027"
TAGGED = 25
SMS_BODY = "Spring fair this Saturday, 10am-4pm at the Civic Center: show this text for a free gift."


async def seed_bulk(conn: BaseDBAsyncClient, account_id: int, now: datetime) -> None:
    users = (
        await User.filter(account_id=account_id).using_db(conn).order_by("id").values("id", "name", "role")
    )
    manager = next((u for u in users if u["role"] == "manager"), users[0])
    admin = next((u for u in users if u["role"] == "admin"), users[0])
    # The oldest live cards, not a merge's primary: the newest are the rich ones and the merged
    # pair, whose journeys end as their own demos tell.
    merged = Merge.filter(account_id=account_id).using_db(conn).values_list("primary_id", flat=True)
    oldest = (
        await Contact.filter(account_id=account_id, archived_at__isnull=True)
        .exclude(id__in=list(await merged))
        .using_db(conn)
        .order_by("id")
        .limit(TAGGED)
    )
    if not oldest:
        return
    tagger = Actor.user(account_id, manager["id"], manager["name"], manager["role"])
    await _tagging(conn, account_id, tagger, list(oldest), now)
    asker = Actor.user(account_id, admin["id"], admin["name"], admin["role"])
    await _sms_dry_run(conn, account_id, asker, now)


async def _tagging(
    conn: BaseDBAsyncClient, account_id: int, actor: Actor, contacts: list[Contact], now: datetime
) -> None:
    ids = [c.id for c in contacts]
    target = Target(ids=ids)
    started = now - timedelta(minutes=20)
    job = await BackgroundJob.create(
        account_id=account_id,
        kind=bulk.kind_of(bulk.BulkAction.ADD_TAG),
        status=jobs.RUNNING,
        params={
            "action": "ADD_TAG",
            "target": target.to_json(),
            "params": {"tag": TAG},
            "upto_id": ids[-1],
            "actor": bulk.actor_json(actor),
        },
        cursor={"after_id": 0},
        total=len(ids),
        started_by_id=actor.user_id,
        started_at=started,
        using_db=conn,
    )
    uow = UnitOfWork(actor, conn, origin=f" (bulk action, job {job.id})")
    batch = bulk.Batch(job.id)
    await bulk.APPLY[bulk.BulkAction.ADD_TAG](uow, {"tag": TAG}, contacts, batch)
    jobs.add_counts(job, "skipped", dict(batch.skipped))
    job.status, job.done, job.skipped, job.finished_at = (
        jobs.DONE,
        batch.done,
        sum(batch.skipped.values()),
        now,
    )
    job.cursor, job.step = {"after_id": ids[-1]}, 1
    await job.save(using_db=conn)


async def _sms_dry_run(conn: BaseDBAsyncClient, account_id: int, actor: Actor, now: datetime) -> None:
    target = Target(filter={})
    contacts = Contact.filter(account_id=account_id, archived_at__isnull=True).using_db(conn)
    params = {"body": SMS_BODY}
    rules = await bulk.skip_conditions(actor, bulk.BulkAction.SEND_SMS, params, True)
    total, skipped = await bulk.count_skips(contacts, rules)
    await bulk.keep_dry_run(actor, bulk.BulkAction.SEND_SMS, target, params, total, skipped, conn)
