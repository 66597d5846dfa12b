"""Crash-safe delivery: claims count as attempts, leases are short and renewed, a send that was
cut short is found at the provider instead of sent again, and every provider id is kept.

The proof at scale (PostgreSQL only) SIGKILLs `dossier worker` processes while they send texts
through the fake Twilio and checks that no text is lost and none reaches Twilio twice.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from strawberry import relay

from crm import outbox
from crm.actor import Actor
from crm.clock import utcnow
from crm.events import CardEvent
from crm.models import JourneyEvent, Message, MessageProviderId, OutboxRow, User
from crm.services import messages
from plugins import hookimpl
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, make_tenant
from tests.fakes.smtp import FakeSmtpServer
from tests.fakes.twilio_api import FROM_NUMBER, PUBLIC_URL, FakeTwilio, signed_headers

ROOT = Path(__file__).resolve().parent.parent
CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
SEND_SMS = "mutation($input: SendSmsInput!) { sendSms(input: $input) { id status } }"
SEND_EMAIL = "mutation($input: SendEmailInput!) { sendEmail(input: $input) { id status } }"
CARD = """
query($id: ID!) {
  contact(id: $id) {
    messages(first: 100) { nodes { id status body } }
    journey(first: 100, order: OLDEST_FIRST) { nodes { kind summary } }
  }
}
"""
STATUS_PATH = "/webhooks/twilio/status"
MOBILE = "+14155550123"
PROBE = "crash-probe"


def db_id(global_id: str) -> int:
    return int(relay.GlobalID.from_id(global_id).node_id)


@pytest.fixture
def postgres_only(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("`dossier worker` processes need PostgreSQL")
    return database_url


async def wait_until(condition: Any, what: str, *, timeout: float = 60.0, check: Any = None) -> None:
    """Poll an observable condition (a row, a file) until it holds; fail after a deadline."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if check is not None:
            check()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------------------
# A claim counts as an attempt; leases are renewed while a hook runs
# --------------------------------------------------------------------------------------


class Recording:
    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[CardEvent] = []
        self.dead: list[tuple[str, str]] = []

    @hookimpl
    async def contact_created(self, event: CardEvent) -> None:
        self.events.append(event)

    @hookimpl
    async def event_dead_lettered(self, event: CardEvent, hook: str, error: str) -> None:
        self.dead.append((hook, error))


async def one_row(running_api: Api) -> Api:
    acme = await make_tenant("Acme")
    api = running_api.as_(acme.admin_key)
    await api.data(CREATE, {"input": {"firstName": "Ada"}})
    return api


async def test_claims_count_as_attempts_and_a_row_whose_worker_always_dies_is_dead_lettered(
    running_app: AppFactory,
) -> None:
    plugin = Recording(PROBE)
    async with running_app(plugins=(plugin,), disabled_plugins=builtin_names()) as app:  # 3 attempts
        api = await one_row(app)
        (row,) = await OutboxRow.all()
        # Three workers claim the row in turn and each dies before reporting back.
        now = utcnow()
        for attempt in (1, 2, 3):
            (claimed,) = await outbox.claim_due(10, lease_seconds=1, now=now)
            assert claimed.attempt == attempt
            assert (await OutboxRow.get(id=row.id)).attempts == attempt  # counted at the claim
            now += timedelta(seconds=2)  # its lease runs out
        await OutboxRow.filter(id=row.id).update(locked_until=utcnow() - timedelta(seconds=1))

        assert await app.runtime.dispatcher.drain() == 1

        assert plugin.events == []  # the hook does not run a fourth time
        after = await OutboxRow.get(id=row.id)
        assert (after.status, after.attempts) == (outbox.DEAD, 3)
        assert after.last_error is not None and after.last_error.startswith("WorkerLost")
        assert [hook for hook, _ in plugin.dead] == ["contact_created"]
        contact_id = (await api.data("{ contacts(first: 1) { nodes { id } } }"))["contacts"]["nodes"][0]["id"]
        journey = (await api.data(CARD, {"id": contact_id}))["contact"]["journey"]["nodes"]
        [failure] = [e for e in journey if e["kind"] == "PLUGIN_DELIVERY_FAILED"]
        assert "attempt 3 of 3), gave up (dead-lettered): WorkerLost" in failure["summary"]


async def test_outcomes_do_not_count_an_attempt_twice(running_app: AppFactory) -> None:
    plugin = Recording(PROBE)
    async with running_app(plugins=(plugin,), disabled_plugins=builtin_names()) as app:
        await one_row(app)
        assert await app.runtime.dispatcher.drain() == 1
        row = await OutboxRow.get()
        assert (row.status, row.attempts, row.locked_until) == (outbox.DELIVERED, 1, None)


async def test_a_renewal_or_outcome_never_takes_back_a_row_claimed_again(running_app: AppFactory) -> None:
    async with running_app(plugins=(Recording(PROBE),), disabled_plugins=builtin_names()) as app:
        await one_row(app)
        (stale,) = await outbox.claim_due(10, lease_seconds=1)
        # The first worker stalled past its lease; another claimed the row (attempt 2).
        (fresh,) = await outbox.claim_due(10, lease_seconds=30, now=utcnow() + timedelta(seconds=2))
        assert (stale.attempt, fresh.attempt) == (1, 2)
        held_until = (await OutboxRow.get(id=fresh.id)).locked_until

        assert await outbox.renew_leases({stale.id: stale.attempt}, 300) == 0
        assert await outbox.mark_delivered(stale) is False
        assert await outbox.mark_failed(stale, "late", None) is False
        row = await OutboxRow.get(id=fresh.id)
        assert (row.status, row.attempts, row.locked_until) == (outbox.PENDING, 2, held_until)

        assert await outbox.renew_leases({fresh.id: fresh.attempt}, 300) == 1
        assert await outbox.mark_delivered(fresh) is True
        assert await outbox.renew_leases({fresh.id: fresh.attempt}, 300) == 0  # finished: left alone
        assert (await OutboxRow.get(id=fresh.id)).status == outbox.DELIVERED


class Slow(Recording):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.release = asyncio.Event()

    @hookimpl
    async def contact_created(self, event: CardEvent) -> None:
        await self.release.wait()
        self.events.append(event)


async def test_a_heartbeat_keeps_a_slow_hooks_lease(running_app: AppFactory) -> None:
    slow = Slow(PROBE)
    async with running_app(
        plugins=(slow,), disabled_plugins=builtin_names(), outbox_lease_seconds=0.3
    ) as app:
        await one_row(app)
        delivering = asyncio.create_task(app.runtime.dispatcher.drain())
        await wait_until(lambda: OutboxRow.filter(locked_until__isnull=False).exists(), "the claim")
        first_lease = (await OutboxRow.get()).locked_until

        async def renewed_twice() -> bool:
            return (await OutboxRow.get()).locked_until > first_lease + timedelta(seconds=0.15)

        await wait_until(renewed_twice, "the heartbeat to renew the lease", timeout=10)
        # Another worker looking after the first lease ran out finds nothing to take.
        assert await outbox.claim_due(10, 30, now=first_lease + timedelta(seconds=0.1)) == []

        slow.release.set()
        assert await delivering == 1
        row = await OutboxRow.get()
        assert (row.status, row.attempts) == (outbox.DELIVERED, 1)
        assert len(slow.events) == 1


def test_the_lease_is_a_setting() -> None:
    from dossier import Settings

    assert Settings.from_env({}).outbox_lease_seconds == 30.0
    assert Settings.from_env({"DOSSIER_OUTBOX_LEASE_SECONDS": "1.5"}).outbox_lease_seconds == 1.5


# --------------------------------------------------------------------------------------
# Texts: SENDING before the call, a resumed send asks Twilio first
# --------------------------------------------------------------------------------------


async def textable(api: Api) -> str:
    contact_id = (await api.data(CREATE, {"input": {"firstName": "Ada", "phone": MOBILE}}))["createContact"][
        "id"
    ]
    await api.runtime.dispatcher.drain()  # the line check (mobile) turns SMS on
    return contact_id


async def cut_short_after_twilio_took_it(api: Api, twilio: FakeTwilio, message_id: int, body: str) -> None:
    """What a worker killed mid-call leaves behind: the row claimed (attempt 1), the text
    SENDING, and Twilio holding the text, whose sid nobody recorded."""
    (claimed,) = await outbox.claim_due(10, lease_seconds=30)
    assert claimed.hook == "sms_queued"
    message = await Message.get(id=message_id).prefetch_related("contact")
    actor = Actor.plugin(message.contact.account_id, "sms")
    progress = await messages.start_send(actor, message_id)
    assert progress is not None and progress.attempt == 1
    async with httpx.AsyncClient(base_url=twilio.url, auth=(twilio.account_sid, twilio.auth_token)) as http:
        response = await http.post(
            f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json",
            data={"To": MOBILE, "From": FROM_NUMBER, "Body": body},
        )
    assert response.status_code == 201
    await OutboxRow.filter(id=claimed.id).update(locked_until=utcnow() - timedelta(seconds=1))  # it died


@pytest.mark.parametrize("queued_at_twilio", [False, True], ids=["sent-at-twilio", "still-queued-at-twilio"])
async def test_a_text_left_sending_is_found_at_twilio_instead_of_sent_again(
    running_app: AppFactory, twilio: FakeTwilio, queued_at_twilio: bool
) -> None:
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await textable(api)
        # Twilio already holds another text to the same number with the same body, sent before this
        # one started (an older message of the card): it must not be mistaken for this one.
        twilio.accepted.append(
            {"sid": "SM" + "1" * 32, "to": MOBILE, "from": FROM_NUMBER, "body": "See you at 3",
             "status": "delivered", "date_created": "Mon, 01 Jun 2026 10:00:00 +0000",
             "date_sent": "Mon, 01 Jun 2026 10:00:01 +0000", "_created": utcnow() - timedelta(days=180),
             "_sent": utcnow() - timedelta(days=180)}
        )  # fmt: skip
        twilio.sends_stay_queued = queued_at_twilio
        queued = (await api.data(SEND_SMS, {"input": {"contactId": contact_id, "body": "See you at 3"}}))[
            "sendSms"
        ]
        message_id = db_id(queued["id"])
        await cut_short_after_twilio_took_it(api, twilio, message_id, "See you at 3")
        [taken] = twilio.sids

        await app.runtime.dispatcher.drain()

        assert len(twilio.sends) == 1  # only the try that was cut short
        assert len(twilio.listings) == (2 if queued_at_twilio else 1)
        assert twilio.listings[0].query["DateSent>"] == (utcnow() - messages_skew()).strftime("%Y-%m-%d")
        message = await Message.get(id=message_id)
        assert (message.status, message.provider_id, message.send_attempts) == ("SENT", taken, 2)
        assert await messages.provider_ids(message_id) == [taken]
        journey = (await api.data(CARD, {"id": contact_id}))["contact"]["journey"]["nodes"]
        assert [e["kind"] for e in journey].count("SMS_SENT") == 1


async def test_a_failed_look_up_is_retried_never_taken_as_a_refusal(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:  # 3 attempts, no backoff
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await textable(api)
        queued = (await api.data(SEND_SMS, {"input": {"contactId": contact_id, "body": "ok?"}}))["sendSms"]
        message_id = db_id(queued["id"])
        await cut_short_after_twilio_took_it(api, twilio, message_id, "ok?")
        twilio.fail_lists(400, 20001, times=1)  # Twilio refuses the look-up once

        await app.runtime.dispatcher.drain()

        assert len(twilio.sends) == 1  # never sent blind after a failed look-up
        message = await Message.get(id=message_id)
        assert (message.status, message.provider_id, message.send_attempts) == ("SENT", twilio.sids[0], 3)


async def test_the_fake_lists_messages_as_twilio_does(twilio: FakeTwilio) -> None:
    """The Twilio SDK's own list path (filters, newest first, pages followed by next_page_uri)."""
    from twilio.rest import Client

    from plugins.sms.twilio import HttpxTwilioClient

    async with httpx.AsyncClient() as http:
        client = Client(
            twilio.account_sid, twilio.auth_token, http_client=HttpxTwilioClient(http, twilio.url)
        )
        for n in range(5):
            await client.messages.create_async(to=MOBILE, from_=FROM_NUMBER, body=f"m{n}")
        await client.messages.create_async(to="+14155550999", from_=FROM_NUMBER, body="someone else")
        today, tomorrow = utcnow().strftime("%Y-%m-%d"), (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")

        listed = await client.messages.list_async(
            to=MOBILE, from_=FROM_NUMBER, date_sent_after=today, page_size=2
        )
        assert [m.body for m in listed] == ["m4", "m3", "m2", "m1", "m0"]
        assert len(twilio.listings) == 3  # three pages of two
        assert await client.messages.list_async(to=MOBILE, date_sent_after=tomorrow) == []
        assert len(await client.messages.list_async(from_=FROM_NUMBER, date_sent=today)) == 6


def messages_skew() -> timedelta:
    from plugins.sms.twilio import CLOCK_SKEW

    return CLOCK_SKEW


async def test_a_text_already_sent_is_not_handed_to_twilio_again(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    """A worker killed after recording SENT but before the outbox row was marked delivered."""
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await textable(api)
        await api.data(SEND_SMS, {"input": {"contactId": contact_id, "body": "hello"}})
        await app.runtime.dispatcher.drain()
        assert len(twilio.sends) == 1
        await OutboxRow.filter(hook="sms_queued").update(status=outbox.PENDING, locked_until=None)

        await app.runtime.dispatcher.drain()

        assert len(twilio.sends) == 1 and twilio.listings == []


# --------------------------------------------------------------------------------------
# Every provider id is kept; late callbacks find their message by any of them
# --------------------------------------------------------------------------------------


async def test_a_late_callback_on_the_first_of_two_sids_still_finds_its_message(
    running_app: AppFactory, twilio: FakeTwilio
) -> None:
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        contact_id = await textable(api)
        queued = (await api.data(SEND_SMS, {"input": {"contactId": contact_id, "body": "twice"}}))["sendSms"]
        message_id = db_id(queued["id"])
        first, second = "SM" + "a" * 32, "SM" + "b" * 32
        # A second copy went out (a provider that could not be asked): both sids are the message's.
        actor = Actor.plugin(
            (await Message.get(id=message_id).prefetch_related("contact")).contact.account_id, "sms"
        )
        await messages.set_message_status(actor, message_id, messages.MessageStatus.SENT, provider_id=second)
        await messages.set_message_status(actor, message_id, messages.MessageStatus.SENT, provider_id=first)
        assert await messages.provider_ids(message_id) == [second, first]

        async def callback(sid: str, status: str) -> int:
            params = {"MessageSid": sid, "MessageStatus": status}  # no `message` in the URL
            response = await api.client.post(
                STATUS_PATH, data=params, headers=signed_headers(STATUS_PATH, params)
            )
            return response.status_code

        assert await callback(first, "delivered") == 200
        assert (await Message.get(id=message_id)).status == "DELIVERED"
        # Late callbacks never move it back: "sent", or the other copy's failure.
        assert await callback(first, "sent") == 200
        assert await callback(second, "undelivered") == 200
        assert (await Message.get(id=message_id)).status == "DELIVERED"
        journey = (await api.data(CARD, {"id": contact_id}))["contact"]["journey"]["nodes"]
        assert [e["kind"] for e in journey if e["kind"].startswith("SMS_")] == [
            "SMS_QUEUED",
            "SMS_SENT",
            "SMS_DELIVERED",
        ]
        assert await MessageProviderId.filter(message_id=message_id).count() == 2


# --------------------------------------------------------------------------------------
# Email: a retry after an unknown outcome keeps its Message-ID
# --------------------------------------------------------------------------------------


async def test_an_email_retry_after_an_unknown_outcome_keeps_its_message_id(running_app: AppFactory) -> None:
    with FakeSmtpServer() as smtp:
        smtp.handler.drop_after_data = 1  # takes the first copy, then hangs up before answering
        async with running_app(env=smtp.env()) as app:
            acme = await make_tenant("Acme")
            api = app.as_(acme.admin_key)
            contact_id = (
                await api.data(CREATE, {"input": {"firstName": "Ann", "email": "ann@example.com"}})
            )["createContact"]["id"]
            queued = (
                await api.data(
                    SEND_EMAIL, {"input": {"contactId": contact_id, "subject": "Quote", "body": "Hi"}}
                )
            )["sendEmail"]

            await app.runtime.dispatcher.drain()

            message = await Message.get(id=db_id(queued["id"]))
            ids = [r.message["Message-ID"] for r in smtp.received]
            assert len(ids) == 2  # SMTP cannot be asked: the second try is a second copy ...
            assert ids[0] == ids[1] == message.send_key == message.provider_id  # ... with the same Message-ID
            assert (message.status, message.send_attempts) == ("SENT", 2)
            assert await messages.provider_ids(message.id) == [ids[0]]


# --------------------------------------------------------------------------------------
# At scale: `dossier worker` processes SIGKILLed while they send
# --------------------------------------------------------------------------------------

# Starting a worker costs ~2 s of imports on this kind of machine, more than the time
# between kills. So a parent that has only imported Dossier forks each worker, which then
# runs `dossier worker` itself (`dossier.cli.main(["worker"])`): a real worker process in
# its own address space, with its own database connections, event loop and HTTP client.
SPAWNER = r"""
import os, signal, sys

import dossier.app, dossier.cli, plugins.sms.twilio, twilio.rest  # the slow part, once

signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the workers the test kills
logs = sys.argv[1]
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        out = os.open(os.path.join(logs, f"worker-{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os._exit(dossier.cli.main(["worker"]))
    print(pid, flush=True)
"""


class Spawner:
    """Starts `dossier worker` processes on demand and SIGKILLs them."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.logs = tmp_path / "workers"
        self.logs.mkdir()
        script = tmp_path / "spawner.py"
        script.write_text(SPAWNER)
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(self.logs)],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.alive: list[int] = []
        self.started: list[int] = []

    def start(self) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        pid = int(self.process.stdout.readline())
        self.alive.append(pid)
        self.started.append(pid)
        return pid

    def ready(self, pid: int) -> bool:
        log = self.logs / f"worker-{pid}.log"
        return log.exists() and "delivering outbox rows" in log.read_text()

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        self.alive.remove(pid)

    def check_alive(self) -> None:
        """Fail at once (with the logs) if a worker stopped without being killed."""
        for pid in self.alive:
            assert _running(pid), f"worker {pid} exited by itself:\n{self.log_tail()}"

    def count_in_logs(self, word: str) -> int:
        return sum(p.read_text().count(word) for p in self.logs.glob("*.log"))

    def log_tail(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in sorted(self.logs.glob("*.log"))[-3:])

    def stop(self) -> None:
        for pid in list(self.alive):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for pid in list(self.alive):
            while time.monotonic() < deadline and _running(pid):
                time.sleep(0.05)  # bounded wait for a clean stop at teardown
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        self.alive.clear()
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# A partner plugin, installed the way pip leaves one, whose hook kills the worker running it.
FATAL_PLUGIN = """
import os

from plugins import hookimpl


class Fatal:
    name = "crash-probe"

    @hookimpl
    def contact_created(self, event):
        with open(os.path.join(os.environ["DOSSIER_PROBE_DIR"], "ran"), "a") as out:
            out.write(f"{os.getpid()}\\n")
        os._exit(1)  # as a segfault or the OOM killer would: no exception, no clean-up

    @hookimpl
    def event_dead_lettered(self, event, hook, error):
        with open(os.path.join(os.environ["DOSSIER_PROBE_DIR"], "dead"), "a") as out:
            out.write(f"{hook} {error}\\n")
"""


class ApiSideProbe:
    """The probe as the API process knows it: the API only writes the outbox row."""

    name = PROBE

    @hookimpl
    def contact_created(self, event: CardEvent) -> None:
        raise AssertionError("only the workers deliver")


@pytest.mark.timeout(120)
async def test_a_hook_that_kills_its_worker_every_time_is_dead_lettered(
    postgres_only: str, running_app: AppFactory, tmp_path: Path
) -> None:
    site, probe = tmp_path / "site", tmp_path / "probe"
    site.mkdir()
    probe.mkdir()
    (site / "dossier_crash_probe.py").write_text(FATAL_PLUGIN)
    dist = site / "dossier_crash_probe-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dossier-crash-probe\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[dossier.plugins]\n{PROBE} = dossier_crash_probe:Fatal\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")},
        "DOSSIER_DATABASE_URL": postgres_only,
        "DOSSIER_DISABLED_PLUGINS": ",".join(builtin_names()),
        "DOSSIER_OUTBOX_LEASE_SECONDS": "0.5",
        "DOSSIER_OUTBOX_MAX_ATTEMPTS": "3",
        "DOSSIER_OUTBOX_POLL_INTERVAL": "0.1",
        "DOSSIER_PROBE_DIR": str(probe),
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    spawner = Spawner(tmp_path, env)
    try:
        async with running_app(plugins=(ApiSideProbe(),), disabled_plugins=builtin_names()) as app:
            api = await one_row(app)
            (row,) = await OutboxRow.all()
            workers = 0

            async def dead_lettered() -> bool:
                # Whenever the worker has died, start the next one, as a supervisor would.
                nonlocal workers
                if not any(_running(pid) for pid in spawner.alive):
                    spawner.alive.clear()
                    spawner.start()
                    workers += 1
                # Dead, and told: the final failure is journaled first, then event_dead_lettered runs.
                dead = (await OutboxRow.get(id=row.id)).status == outbox.DEAD
                told = probe / "dead"
                return dead and told.exists() and told.read_text().endswith("\n")  # written whole

            await wait_until(dead_lettered, "the row to be dead-lettered", timeout=90)

            ran = (probe / "ran").read_text().split()
            assert len(ran) == 3 and len(set(ran)) == 3  # three attempts, each killed its worker
            after = await OutboxRow.get(id=row.id)
            assert (after.attempts, after.last_error.split(":")[0]) == (3, "WorkerLost")  # type: ignore[union-attr]
            assert (probe / "dead").read_text().startswith("contact_created WorkerLost")
            contact_id = (await api.data("{ contacts(first: 1) { nodes { id } } }"))["contacts"]["nodes"][0][
                "id"
            ]
            journey = (await api.data(CARD, {"id": contact_id}))["contact"]["journey"]["nodes"]
            assert any("gave up (dead-lettered): WorkerLost" in e["summary"] for e in journey)
            assert workers == 4  # three killed by the hook, the fourth dead-lettered the row
    finally:
        spawner.stop()


TEXTS = 300
WORKERS = 3
CONTACTS = 20
KILLS_AT_LEAST = 50
LEASE = 2.0
TWILIO_ANSWERS_IN = 0.6
QUEUE_EVERY = 0.03


@pytest.fixture
def spawner(postgres_only: str, tmp_path: Path, twilio: FakeTwilio) -> Iterator[Spawner]:
    keep = ("sms", "twilio")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")},
        **twilio.env(),
        "DOSSIER_DATABASE_URL": postgres_only,
        "DOSSIER_PUBLIC_URL": PUBLIC_URL,
        "DOSSIER_DISABLED_PLUGINS": ",".join(n for n in builtin_names() if n not in keep),
        "DOSSIER_OUTBOX_LEASE_SECONDS": str(LEASE),
        "DOSSIER_OUTBOX_MAX_ATTEMPTS": "1000",  # every kill costs its rows an attempt: none may run out
        "DOSSIER_OUTBOX_BACKOFF_BASE": "0.1",
        "DOSSIER_OUTBOX_POLL_INTERVAL": "0.1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    started = Spawner(tmp_path, env)
    yield started
    started.stop()


@pytest.mark.timeout(240)
async def test_workers_killed_mid_send_lose_no_text_and_send_none_twice(
    running_app: AppFactory, twilio: FakeTwilio, spawner: Spawner
) -> None:
    keep = ("sms", "twilio")
    disabled = tuple(n for n in builtin_names() if n not in keep)
    async with running_app(env=twilio.env(), public_url=PUBLIC_URL, disabled_plugins=disabled) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        acme_account = (await User.get(id=acme.user_ids["admin"])).account_id  # type: ignore[attr-defined]
        contact_ids = []
        for n in range(CONTACTS):
            phone = f"+1415555{n:04d}"
            created = await api.data(CREATE, {"input": {"firstName": f"Ann{n}", "phone": phone}})
            contact_ids.append(created["createContact"]["id"])
        await app.runtime.dispatcher.drain()  # line checks in-process: every number is mobile
        twilio.reset()
        twilio.delay = TWILIO_ANSWERS_IN  # so kills land while Twilio is answering

        began = time.monotonic()
        for _ in range(WORKERS):
            spawner.start()
        kills: list[float] = []
        queued_all = asyncio.Event()

        # sendSms's own service (the GraphQL path is tested elsewhere): cheap enough to pace.
        user = Actor.user(acme_account, acme.user_ids["admin"], "Acme Admin", "admin")

        async def queue_texts() -> None:
            for n in range(TEXTS):
                await messages.queue_sms(user, db_id(contact_ids[n % CONTACTS]), f"text {n} for you")
                await asyncio.sleep(QUEUE_EVERY)  # paced like users, so sends go on throughout the kills
            queued_all.set()

        async def kill_workers() -> None:
            rng = random.Random(9)
            while not (queued_all.is_set() and len(kills) >= KILLS_AT_LEAST):
                await asyncio.sleep(rng.uniform(0.05, 0.2))
                spawner.check_alive()
                ready = [pid for pid in spawner.alive if spawner.ready(pid)]
                if not ready or twilio.in_flight == 0:
                    continue
                spawner.kill(ready[0])  # the longest running: the likeliest to be waiting on Twilio
                kills.append(time.monotonic())
                spawner.start()

        await asyncio.gather(queue_texts(), kill_workers())
        last_kill = kills[-1]

        async def all_sent() -> bool:
            return await Message.filter(status="SENT").count() == TEXTS

        await wait_until(all_sent, "every text to be sent", timeout=90)
        settled = time.monotonic()

        # No text lost, none twice at Twilio, each SENT once on its card with every sid it got.
        sent = await Message.all().order_by("id")
        assert len(sent) == TEXTS and {m.status for m in sent} == {"SENT"}
        bodies = collections.Counter(r.form["Body"] for r in twilio.sends)
        duplicates = twilio.duplicates()
        assert duplicates == 0, [b for b, n in bodies.items() if n > 1]
        assert sorted(bodies) == sorted(m.body for m in sent)
        kept = dict(await MessageProviderId.all().values_list("provider_id", "message_id"))
        assert set(kept) == set(twilio.sids) and len(twilio.sids) == TEXTS
        by_sid = {m["sid"]: m["body"] for m in twilio.accepted}
        assert all(by_sid[m.provider_id] == m.body for m in sent)
        journeys = collections.Counter(
            await JourneyEvent.filter(kind="SMS_SENT").values_list("subject_id", flat=True)
        )
        assert journeys == {m.id: 1 for m in sent}
        rows = await OutboxRow.filter(hook="sms_queued").values_list("status", flat=True)
        assert collections.Counter(rows) == {outbox.DELIVERED: TEXTS}

        interrupted = [m for m in sent if m.send_attempts > 1]
        assert len(kills) >= KILLS_AT_LEAST
        assert interrupted, "no kill landed during a send"
        adopted = spawner.count_in_logs("adopted")

        # Recovery: every worker killed while Twilio holds ten texts it has taken; a new worker
        # finds all ten at Twilio within about one lease and sends none again.
        twilio.hold()
        for n in range(10):
            body = f"held text {n}"
            await api.data(SEND_SMS, {"input": {"contactId": contact_ids[n], "body": body}})
        await asyncio.to_thread(twilio.wait_for_sends, TEXTS + 10, 30)
        for pid in list(spawner.alive):
            spawner.kill(pid)
        killed_at = time.monotonic()
        twilio.release()
        spawner.start()

        async def held_sent() -> bool:
            return await Message.filter(status="SENT").count() == TEXTS + 10

        await wait_until(held_sent, "the held texts to be recovered", timeout=30)
        recovery = time.monotonic() - killed_at
        assert len(twilio.sends) == TEXTS + 10 and twilio.duplicates() == 0
        assert spawner.count_in_logs("adopted") == adopted + 10
        print(
            f"\ncrash-safe delivery: {len(kills)} SIGKILLs over {TEXTS} texts in {last_kill - began:.1f} s"
            f" (lease {LEASE} s, Twilio answering in {TWILIO_ANSWERS_IN} s); {len(interrupted)} texts had"
            f" a try cut short ({adopted} adoptions of a text found at Twilio), {len(twilio.listings)} list"
            f" lookups, {TEXTS} sends, duplicates at Twilio: {duplicates}; all sent"
            f" {settled - last_kill:.1f} s after the last kill. Every worker killed with 10 texts in"
            f" Twilio's hands: all 10 recovered (adopted, none re-sent) {recovery:.1f} s after the kill"
        )
