"""The outbox and its dispatcher: side effects never block a mutation and are never lost."""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from crm import outbox
from crm.clock import utcnow
from crm.events import CardEvent
from crm.models import Contact, JourneyEvent, OutboxRow
from dossier import Settings
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, make_tenant

CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id displayName } }"
FAILURES = """
query($id: ID!) {
  contact(id: $id) {
    journey(first: 50, kinds: [PLUGIN_DELIVERY_FAILED], order: OLDEST_FIRST) {
      nodes { kind summary actor { kind name } }
    }
  }
}
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests count outbox rows and hook calls: only their own plugins may subscribe."""
    return replace(settings, disabled_plugins=builtin_names())


class Counting:
    """Receives contact_created; fails its first `failures` calls with a plugin's own error."""

    def __init__(self, name: str, failures: int = 0) -> None:
        self.name = name
        self.failures = failures
        self.events: list[CardEvent] = []

    @hookimpl
    async def contact_created(self, event: CardEvent) -> None:
        self.events.append(event)
        if len(self.events) <= self.failures:
            raise RuntimeError("CRM mirror is down")


ALWAYS = 10**6


async def started_tenant(app: Api) -> Api:
    acme = await make_tenant("Acme")
    return app.as_(acme.admin_key)


async def create_contact(api: Api, first_name: str = "Ada") -> str:
    data = await api.data(CREATE, {"input": {"firstName": first_name, "lastName": "Lovelace"}})
    assert data["createContact"]["displayName"] == f"{first_name} Lovelace"
    return data["createContact"]["id"]


async def failure_entries(api: Api, contact_id: str) -> list[dict[str, Any]]:
    data = await api.data(FAILURES, {"id": contact_id})
    return data["contact"]["journey"]["nodes"]


# --------------------------------------------------------------------------------------
# Failures: isolated, retried, journaled, dead-lettered
# --------------------------------------------------------------------------------------


async def test_a_failing_plugin_neither_fails_the_mutation_nor_blocks_another(
    running_app: AppFactory,
) -> None:
    broken, good = Counting("broken", failures=ALWAYS), Counting("good")
    async with running_app(plugins=(broken, good)) as app:
        api = await started_tenant(app)
        contact_id = await create_contact(api)  # returns data although a plugin will fail

        await api.runtime.dispatcher.drain()

        assert len(good.events) == 1
        assert len(broken.events) == 3  # max_attempts in tests, all within one drain (no backoff)
        assert {e.id for e in broken.events} == {good.events[0].id}  # the same event each time
        dead = await OutboxRow.get(plugin="broken")
        assert dead.status == outbox.DEAD
        assert dead.attempts == 3
        assert dead.last_error == "RuntimeError: CRM mirror is down"
        delivered = await OutboxRow.get(plugin="good")
        assert (delivered.status, delivered.attempts) == (outbox.DELIVERED, 1)
        assert delivered.delivered_at is not None

        entries = await failure_entries(api, contact_id)
        assert len(entries) == 3
        for attempt, entry in enumerate(entries, start=1):
            assert entry["kind"] == "PLUGIN_DELIVERY_FAILED"
            assert entry["actor"] == {"kind": "PLUGIN", "name": "broken"}
            assert f"plugin broken failed on contact_created (attempt {attempt} of 3)" in entry["summary"]
            assert "CRM mirror is down" in entry["summary"]
        assert "retrying" in entries[0]["summary"] and "retrying" in entries[1]["summary"]
        assert "dead-lettered" in entries[2]["summary"]
        assert "dead-lettered" not in entries[0]["summary"]

        # A dead row stays dead: nothing is delivered again.
        assert await api.runtime.dispatcher.drain() == 0
        assert len(broken.events) == 3


async def test_a_plugin_failing_once_is_delivered_on_the_retry(running_app: AppFactory) -> None:
    flaky = Counting("flaky", failures=1)
    async with running_app(plugins=(flaky,)) as app:
        api = await started_tenant(app)
        contact_id = await create_contact(api)
        await api.runtime.dispatcher.drain()

        assert len(flaky.events) == 2
        row = await OutboxRow.get(plugin="flaky")
        assert (row.status, row.attempts) == (outbox.DELIVERED, 2)
        assert row.last_error == "RuntimeError: CRM mirror is down"  # kept for the operator
        entries = await failure_entries(api, contact_id)
        assert len(entries) == 1
        assert "attempt 1 of 3" in entries[0]["summary"] and "retrying" in entries[0]["summary"]


async def test_one_row_per_event_and_subscribed_plugin(running_app: AppFactory) -> None:
    class NotesOnly:
        name = "notes-only"

        @hookimpl
        def note_added(self, event: CardEvent) -> None:
            pass

    first, second = Counting("first"), Counting("second")
    async with running_app(plugins=(first, second, NotesOnly())) as app:
        api = await started_tenant(app)
        await create_contact(api)
        rows = await OutboxRow.all()
        assert sorted(r.plugin for r in rows) == ["first", "second"]  # not the one without the hook
        assert {r.hook for r in rows} == {"contact_created"}
        assert {r.status for r in rows} == {outbox.PENDING}
        assert len({r.payload["id"] for r in rows}) == 1  # one event, fanned out per plugin

        await create_contact(api, "Grace")
        assert await OutboxRow.all().count() == 4
        assert await api.runtime.dispatcher.drain() == 4
        assert [e.contact.first_name for e in first.events] == ["Ada", "Grace"]


# --------------------------------------------------------------------------------------
# Rows are written in the mutation's transaction
# --------------------------------------------------------------------------------------


async def test_a_mutation_that_fails_validation_writes_no_row(running_app: AppFactory) -> None:
    plugin = Counting("partner")
    async with running_app(plugins=(plugin,)) as app:
        api = await started_tenant(app)
        error = await api.error(CREATE, {"input": {"firstName": "Ada", "email": "ada@@example"}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "email" in error["message"]
        assert await OutboxRow.all().count() == 0
        assert await Contact.all().count() == 0
        assert await api.runtime.dispatcher.drain() == 0
        assert plugin.events == []


async def test_rows_roll_back_with_the_mutation(
    running_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the rows were written leaves neither the change nor its rows behind."""
    plugin = Counting("partner")
    real_bulk_create = OutboxRow.bulk_create

    async def write_then_crash(*args: Any, **kwargs: Any) -> Any:
        await real_bulk_create(*args, **kwargs)
        raise RuntimeError("disk full")

    async with running_app(plugins=(plugin,)) as app:
        api = await started_tenant(app)
        monkeypatch.setattr(OutboxRow, "bulk_create", write_then_crash)
        error = await api.error(CREATE, {"input": {"firstName": "Ada"}})
        monkeypatch.undo()
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert await OutboxRow.all().count() == 0
        assert await Contact.all().count() == 0
        assert await JourneyEvent.all().count() == 0
        assert await api.runtime.dispatcher.drain() == 0
        assert plugin.events == []


# --------------------------------------------------------------------------------------
# Backoff
# --------------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_respects_the_cap() -> None:
    rng = random.Random(20240501)
    base, cap = 2.0, 3600.0
    previous_max = 0.0
    for attempt in range(1, 12):
        ceiling = min(cap, base * 2 ** (attempt - 1))
        waits = [outbox.backoff(attempt, base, cap, rng) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), (attempt, waits)
        assert len(set(waits)) > 1  # jittered, so retries of many rows do not stampede
        assert min(waits) >= previous_max  # every wait after attempt n+1 is at least any after n
        previous_max = max(waits)
    assert base * 2 ** (12 - 1) > cap  # from attempt 12 on the cap applies
    for attempt in (12, 30, 200):
        assert all(cap / 2 <= outbox.backoff(attempt, base, cap, rng) <= cap for _ in range(50))
    # Seeded, it is reproducible.
    first = [outbox.backoff(3, base, cap, random.Random(7)) for _ in range(3)]
    assert first == [outbox.backoff(3, base, cap, random.Random(7)) for _ in range(3)]
    assert outbox.backoff(5, 0.0, cap, rng) == 0.0


async def test_a_failed_row_waits_for_its_backoff(running_app: AppFactory) -> None:
    broken = Counting("broken", failures=ALWAYS)
    async with running_app(plugins=(broken,), outbox_backoff_base=60.0) as app:
        api = await started_tenant(app)
        contact_id = await create_contact(api)
        before = utcnow()
        assert await api.runtime.dispatcher.drain() == 1
        after = utcnow()

        assert len(broken.events) == 1  # not due again within the same drain
        row = await OutboxRow.get(plugin="broken")
        assert (row.status, row.attempts) == (outbox.PENDING, 1)
        assert before + timedelta(seconds=30) <= row.next_attempt_at <= after + timedelta(seconds=60)
        assert row.locked_until is None
        entries = await failure_entries(api, contact_id)
        assert len(entries) == 1 and "retrying in" in entries[0]["summary"]

        # Once the wait is over the row is due again.
        await OutboxRow.filter(id=row.id).update(next_attempt_at=utcnow() - timedelta(seconds=1))
        assert await api.runtime.dispatcher.drain() == 1
        assert len(broken.events) == 2


# --------------------------------------------------------------------------------------
# Never lost: restarts and dead workers
# --------------------------------------------------------------------------------------


async def test_an_undelivered_row_survives_a_restart(running_app: AppFactory) -> None:
    before_restart = Counting("partner")
    async with running_app(plugins=(before_restart,)) as app:
        api = await started_tenant(app)
        await create_contact(api)
    # The first process stopped before delivering anything.
    assert before_restart.events == []

    after_restart = Counting("partner")
    async with running_app(plugins=(after_restart,)) as app:
        assert await app.runtime.dispatcher.drain() == 1
        assert await app.runtime.dispatcher.drain() == 0
        assert len(after_restart.events) == 1
        assert after_restart.events[0].contact.display_name == "Ada Lovelace"
        assert (await OutboxRow.get(plugin="partner")).status == outbox.DELIVERED
        assert before_restart.events == []


async def test_a_stale_lease_is_claimed_again(running_app: AppFactory) -> None:
    plugin = Counting("partner")
    async with running_app(plugins=(plugin,)) as app:
        api = await started_tenant(app)
        await create_contact(api)
        # A worker claims the row and dies before delivering it.
        claimed = await outbox.claim_due(10, lease_seconds=300)
        assert [d.plugin for d in claimed] == ["partner"]
        assert await api.runtime.dispatcher.drain() == 0  # leased: nobody else takes it
        assert plugin.events == []

        await OutboxRow.filter(id=claimed[0].id).update(locked_until=utcnow() - timedelta(seconds=1))
        assert await api.runtime.dispatcher.drain() == 1
        assert len(plugin.events) == 1
        assert (await OutboxRow.get(id=claimed[0].id)).status == outbox.DELIVERED


# --------------------------------------------------------------------------------------
# Hooks never block a mutation; how they run
# --------------------------------------------------------------------------------------


async def test_a_slow_plugin_does_not_hold_up_the_mutation(running_app: AppFactory) -> None:
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    class Slow:
        name = "slow"

        @hookimpl
        async def contact_created(self, event: CardEvent) -> None:
            started.set()
            await release.wait()
            finished.set()

    async with running_app(plugins=(Slow(),), run_dispatcher=True) as app:
        api = await started_tenant(app)
        # If the mutation waited for the hook, it would never return: the hook waits for us.
        await asyncio.wait_for(create_contact(api), 10)
        await asyncio.wait_for(started.wait(), 10)  # the hook is running now, the mutation is done
        assert not finished.is_set()
        release.set()
        await asyncio.wait_for(finished.wait(), 10)


async def test_the_background_dispatcher_delivers_without_drain(running_app: AppFactory) -> None:
    delivered = asyncio.Event()
    seen: list[str] = []

    class Partner:
        name = "partner"

        @hookimpl
        async def contact_created(self, event: CardEvent) -> None:
            seen.append(event.contact.display_name)
            delivered.set()

    async with running_app(plugins=(Partner(),), run_dispatcher=True) as app:
        api = await started_tenant(app)
        await create_contact(api)
        await asyncio.wait_for(delivered.wait(), 10)
        assert seen == ["Ada Lovelace"]


async def test_a_sync_hook_runs_in_a_worker_thread(running_app: AppFactory) -> None:
    threads: list[int] = []

    class Blocking:
        name = "blocking"

        @hookimpl
        def contact_created(self, event: CardEvent) -> None:
            threads.append(threading.get_ident())

    async with running_app(plugins=(Blocking(),)) as app:
        api = await started_tenant(app)
        await create_contact(api)
        await api.runtime.dispatcher.drain()
        assert len(threads) == 1
        assert threads[0] != threading.get_ident()  # not the event loop's thread


async def test_rows_of_a_plugin_no_longer_loaded_are_parked_once_and_can_be_requeued(
    running_app: AppFactory,
) -> None:
    mirror = Counting("mirror")
    async with running_app(plugins=(mirror,)) as app:
        api = await started_tenant(app)
        contact_id = await create_contact(api)  # the row is written; nobody drains it
    async with running_app() as app:  # restarted without the plugin
        await app.runtime.dispatcher.drain()
        (row,) = await OutboxRow.all()
        assert (row.status, row.attempts) == (outbox.DEAD, 1)
        assert "not loaded" in (row.last_error or "")
        (entry,) = await failure_entries(app.as_(api.key or ""), contact_id)
        assert "dead-lettered" in entry["summary"]
        assert await outbox.requeue_dead([row.id]) == 1
    async with running_app(plugins=(mirror,)) as app:  # the plugin is back
        await app.runtime.dispatcher.drain()
        assert [e.contact.first_name for e in mirror.events] == ["Ada"]
        assert (await OutboxRow.get(id=row.id)).status == "DELIVERED"


async def test_a_slow_plugin_holds_only_its_own_delivery(running_app: AppFactory) -> None:
    """The background dispatcher keeps other deliveries flowing while one hook is stuck."""
    release, fast_seen = asyncio.Event(), asyncio.Event()
    fast_names: list[str] = []

    class Stuck:
        name = "stuck"

        @hookimpl
        async def contact_created(self, event: CardEvent) -> None:
            await release.wait()

    class Fast:
        name = "fast"

        @hookimpl
        async def contact_created(self, event: CardEvent) -> None:
            fast_names.append(event.contact.first_name or "")
            if len(fast_names) == 2:
                fast_seen.set()

    async with running_app(plugins=(Stuck(), Fast()), run_dispatcher=True) as app:
        api = await started_tenant(app)
        await create_contact(api, "Ada")
        await create_contact(api, "Grace")
        # Both events reach the fast plugin although the stuck one has not finished either.
        await asyncio.wait_for(fast_seen.wait(), 10)
        assert sorted(fast_names) == ["Ada", "Grace"]
        assert await OutboxRow.filter(plugin="stuck", status=outbox.DELIVERED).count() == 0
        release.set()
        await app.runtime.dispatcher.drain()
        assert await OutboxRow.filter(plugin="stuck", status=outbox.DELIVERED).count() == 2
