"""The outbox dispatcher: delivers each (event, plugin) row to that plugin's hook.

It runs as a background task of the API process (or in `dossier worker` processes),
claims due rows in batches, calls the hook implementations concurrently (async ones
awaited, sync ones in a thread so a blocking plugin cannot stall the event loop), and on
failure records the attempt in the journey and retries with exponential backoff and
jitter until the last attempt dead-letters the row.

Claims are short leases (`lease_seconds`, DOSSIER_OUTBOX_LEASE_SECONDS) that a heartbeat
renews every third of a lease while the hooks run, so a slow hook that is alive keeps its
row and the rows of a worker that died come back within one lease. Every claim counts as an
attempt: a row claimed for an attempt past the last one (its last attempt's worker never
reported back) is dead-lettered without running the hook again.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from dataclasses import dataclass

import pluggy

from crm import jobs, outbox
from crm.clock import utcnow
from crm.events import event_from_json
from crm.services import reminders
from crm.services.deliveries import record_delivery_failure
from plugins.calls import await_result
from plugins.manager import implementation

log = logging.getLogger("dossier.dispatcher")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_base: float = 2.0  # seconds before the first retry (before jitter)
    backoff_cap: float = 3600.0
    timeout: float = 30.0  # one hook call


class PluginNotLoaded(LookupError):
    """The row's plugin is disabled or uninstalled: retrying cannot help, so it is dead-lettered
    at once (an operator can requeue it with `crm.outbox.requeue_dead` after re-enabling it)."""


class Dispatcher:
    def __init__(
        self,
        pm: pluggy.PluginManager,
        policy: RetryPolicy | None = None,
        *,
        batch_size: int = 50,
        concurrency: int = 16,
        lease_seconds: float = 30.0,
        poll_interval: float = 5.0,
    ) -> None:
        self.pm = pm
        self.policy = policy or RetryPolicy()
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        # Three renewals per lease: one late or failed renewal does not lose the row.
        self.heartbeat_interval = max(lease_seconds / 3, 0.05)
        self._leases: dict[int, int] = {}  # rows being delivered here: id -> attempt (the claim)
        self._no_leases = asyncio.Event()
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.poll_interval = poll_interval
        self.concurrency = concurrency
        self._semaphore = asyncio.Semaphore(concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._batch_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- running in the background ---------------------------------------------------

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: deliver now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="dossier-dispatcher")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; give deliveries under way `grace` seconds to finish. A delivery cut
        short keeps its lease and is retried by whoever claims it after the lease runs out."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            # Let the loop see the flag rather than cancelling it: a task cancelled inside a
            # SQLite transaction's set-up can leave tortoise's connection lock held for good.
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._heartbeat_task is not None:
            self._no_leases.set()
            await asyncio.wait({self._heartbeat_task}, timeout=grace)

    async def _loop(self) -> None:
        """Keep up to `concurrency` deliveries going: a slow hook holds its own slot, not a batch."""
        while not self._stopping:
            self._wake.clear()
            free = self.concurrency - len(self._in_flight)
            claimed: list[outbox.Delivery] = []
            if free > 0:
                # Claimed and started under the lock drain() takes, so a drain never misses
                # rows this loop has claimed but not started yet.
                async with self._batch_lock:
                    try:
                        claimed = await outbox.claim_due(min(free, self.batch_size), self.lease_seconds)
                    except Exception:
                        log.exception("dispatcher could not claim rows; trying again shortly")
                    self._hold(claimed)
                    for delivery in claimed:
                        task = asyncio.create_task(
                            self._deliver(delivery), name=f"dossier-delivery-{delivery.id}"
                        )
                        self._in_flight.add(task)
                        task.add_done_callback(self._in_flight.discard)
            if claimed and len(self._in_flight) < self.concurrency:
                continue  # there may be more due right now
            if self._stopping:
                break
            waker = asyncio.create_task(self._wake.wait())
            try:
                await asyncio.wait(
                    {waker, *self._in_flight},
                    timeout=await self._idle_seconds(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waker.cancel()

    async def _idle_seconds(self) -> float:
        try:
            due = await outbox.next_due_at()
        except Exception:
            return self.poll_interval
        if due is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, (due - utcnow()).total_seconds()))

    # -- delivering ------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch of due rows and deliver it; returns how many rows were handled."""
        async with self._batch_lock:
            deliveries = await outbox.claim_due(self.batch_size, self.lease_seconds)
            self._hold(deliveries)
            await asyncio.gather(*(self._deliver(d) for d in deliveries))
            return len(deliveries)

    async def drain(self) -> int:
        """Deliver until nothing is due (retries that are due now included) and nothing the
        background loop started is still running; for tests and shutdown."""
        total = 0
        while True:
            async with self._batch_lock:
                in_flight = set(self._in_flight)
            if in_flight:
                await asyncio.wait(in_flight)
                continue
            handled = await self.run_once()
            total += handled
            if not handled and not self._in_flight:
                return total

    # -- leases -----------------------------------------------------------------------

    def _hold(self, deliveries: list[outbox.Delivery]) -> None:
        """Keep the leases of claimed rows renewed until their delivery ends."""
        for delivery in deliveries:
            self._leases[delivery.id] = delivery.attempt
        if self._leases and (self._heartbeat_task is None or self._heartbeat_task.done()):
            self._heartbeat_task = asyncio.create_task(self._heartbeat(), name="dossier-outbox-heartbeat")

    def _release(self, delivery: outbox.Delivery) -> None:
        self._leases.pop(delivery.id, None)
        if not self._leases:
            self._no_leases.set()

    async def _heartbeat(self) -> None:
        """Renew the leases of every row in flight, every third of a lease, while there are any.
        It waits on an event rather than being cancelled: a task cancelled inside a SQLite
        statement can leave tortoise's connection lock held."""
        while True:
            self._no_leases.clear()
            if not self._leases:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_leases.wait(), self.heartbeat_interval)
            if not self._leases:
                return
            leases = dict(self._leases)
            try:
                renewed = await outbox.renew_leases(leases, self.lease_seconds)
            except Exception:
                log.exception("could not renew the leases of %s outbox rows", len(leases))
                continue
            if renewed < len(leases):
                # Finished meanwhile, or (after a long stall) claimed again by another worker.
                log.info("renewed %s of %s outbox leases", renewed, len(leases))

    # -- delivering ------------------------------------------------------------------

    async def _deliver(self, delivery: outbox.Delivery) -> None:
        try:
            async with self._semaphore:
                if delivery.attempt > self.policy.max_attempts:
                    await self._abandon(delivery)
                    return
                try:
                    await self._call(delivery)
                except Exception as exc:
                    await self._failed(delivery, exc)
                else:
                    if not await outbox.mark_delivered(delivery):
                        log.warning(
                            "outbox row %s was claimed again before its delivery was recorded", delivery.id
                        )
        finally:
            self._release(delivery)

    async def _abandon(self, delivery: outbox.Delivery) -> None:
        """The last attempt was claimed but never reported back: its worker died (or lost its
        lease) each time. Dead-letter the row without running the hook once more."""
        made = delivery.attempt - 1
        error = f"WorkerLost: the worker running attempt {made} stopped before it finished"
        log.warning(
            "plugin %s on %s (outbox row %s): gave up after %s attempts: %s",
            delivery.plugin, delivery.hook, delivery.id, made, error,
        )  # fmt: skip
        if await outbox.mark_failed(delivery, error, None, attempts=made):
            await self._dead_lettered(delivery, error, made)

    async def _call(self, delivery: outbox.Delivery) -> None:
        if delivery.plugin == jobs.JOB_PLUGIN:  # a background job's step, not a partner hook
            await jobs.run_step(delivery.payload)
            return
        if delivery.plugin == reminders.REMINDER_PLUGIN:  # a due task or call: notify (C9)
            await reminders.deliver(delivery.payload)
            return
        function = implementation(self.pm, delivery.hook, delivery.plugin)
        if function is None:
            raise PluginNotLoaded(f"plugin {delivery.plugin!r} is not loaded or no longer implements it")
        event = event_from_json(delivery.payload)
        if inspect.iscoroutinefunction(function):
            await asyncio.wait_for(function(event=event), self.policy.timeout)
            return
        result = await asyncio.wait_for(asyncio.to_thread(function, event=event), self.policy.timeout)
        if inspect.isawaitable(result):
            await asyncio.wait_for(result, self.policy.timeout)

    async def _tell_dead_lettered(self, delivery: outbox.Delivery, error: str) -> None:
        """Let the plugin clean up after its last failure (e.g. mark a queued SMS failed)."""
        function = implementation(self.pm, "event_dead_lettered", delivery.plugin)
        if function is None:
            return
        try:
            event = event_from_json(delivery.payload)
            await await_result(function(event=event, hook=delivery.hook, error=error))
        except Exception:
            log.exception("plugin %s failed in event_dead_lettered", delivery.plugin)

    async def _failed(self, delivery: outbox.Delivery, exc: BaseException) -> None:
        attempt = delivery.attempt
        policy = self.policy
        retry_in = (
            outbox.backoff(attempt, policy.backoff_base, policy.backoff_cap)
            if attempt < policy.max_attempts and not isinstance(exc, PluginNotLoaded)
            else None
        )
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.warning(
            "plugin %s failed on %s (outbox row %s, attempt %s/%s): %s",
            delivery.plugin,
            delivery.hook,
            delivery.id,
            attempt,
            policy.max_attempts,
            error,
        )
        if not await outbox.mark_failed(delivery, error, retry_in):
            log.warning("outbox row %s was claimed again before its failure was recorded", delivery.id)
            return
        if retry_in is None:
            await self._dead_lettered(delivery, error, attempt)
        else:
            await self._journal_failure(delivery, error, attempt, retry_in)

    async def _dead_lettered(self, delivery: outbox.Delivery, error: str, attempt: int) -> None:
        if delivery.plugin == jobs.JOB_PLUGIN:  # the job's step gave up: the job has FAILED
            await jobs.fail(delivery.payload, error)
            return
        # The journey first says the plugin gave up, then shows whatever its clean-up wrote
        # (a note, a message marked failed): the order in which it happened, as the guide says.
        await self._journal_failure(delivery, error, attempt, None)
        await self._tell_dead_lettered(delivery, error)

    async def _journal_failure(
        self, delivery: outbox.Delivery, error: str, attempt: int, retry_in: float | None
    ) -> None:
        if delivery.contact_id is None:
            return
        try:
            await record_delivery_failure(
                delivery.account_id,
                delivery.contact_id,
                plugin=delivery.plugin,
                hook=delivery.hook,
                attempt=attempt,
                max_attempts=self.policy.max_attempts,
                error=error,
                retry_in=retry_in,
            )
        except Exception:
            log.exception("could not journal the failure of outbox row %s", delivery.id)
