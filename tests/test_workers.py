"""Outbox workers at scale (PostgreSQL only): several dispatchers, in one process or as
`dossier worker` processes, share one outbox and deliver every row exactly once.

On SQLite there is one writer and no `FOR UPDATE SKIP LOCKED`; these tests are skipped there.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crm import outbox
from crm.events import CardEvent
from crm.models import OutboxRow
from plugins import hookimpl
from plugins.dispatcher import Dispatcher, RetryPolicy
from plugins.manager import builtin_names
from tests.conftest import Api, AppFactory, make_tenant

ROOT = Path(__file__).resolve().parent.parent
CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
PROBE = "worker-probe"


@pytest.fixture
def postgres_only(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("several workers need PostgreSQL (FOR UPDATE SKIP LOCKED)")
    return database_url


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, *, check: Callable[[], None]
) -> None:
    """Poll `condition` until it holds; fail after a deadline (or at once if `check` fails)."""
    deadline = time.monotonic() + 60
    while not await condition():
        check()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------------------
# Several dispatchers in one process, racing for the same rows
# --------------------------------------------------------------------------------------


class Counter:
    name = PROBE

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    async def contact_created(self, event: CardEvent) -> None:
        self.seen.append(event.id)
        await asyncio.sleep(0)  # let the other dispatchers run meanwhile


async def test_three_dispatchers_deliver_200_rows_exactly_once(
    postgres_only: str, running_app: AppFactory, count_statements: Any
) -> None:
    counter = Counter()
    async with running_app(plugins=(counter,), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        await app.data(CREATE, {"input": {"firstName": "Ada"}}, key=acme.admin_key)
        (template,) = await OutboxRow.all()
        assert template.plugin == PROBE
        copies = []
        for _ in range(199):
            payload = {**template.payload, "id": uuid.uuid4().hex}
            copies.append(
                OutboxRow(
                    account_id=template.account_id,
                    contact_id=template.contact_id,
                    hook=template.hook,
                    plugin=template.plugin,
                    payload=payload,
                    next_attempt_at=template.next_attempt_at,
                )
            )
        await OutboxRow.bulk_create(copies)
        rows = await OutboxRow.all().values_list("payload", flat=True)
        expected = sorted(p["id"] for p in rows)
        assert len(expected) == len(set(expected)) == 200

        policy = RetryPolicy(max_attempts=3, backoff_base=0.0)
        dispatchers = [Dispatcher(app.runtime.plugins, policy, batch_size=10) for _ in range(3)]

        async def run(dispatcher: Dispatcher) -> int:
            handled = 0
            while batch := await dispatcher.run_once():
                handled += batch
            return handled

        handled = await asyncio.gather(*(run(d) for d in dispatchers))

        assert sorted(counter.seen) == expected  # every event once, none twice
        assert sum(handled) == 200
        assert all(handled), f"a dispatcher got no rows at all: {handled}"
        statuses = await OutboxRow.all().values_list("status", "attempts")
        assert collections.Counter(tuple(s) for s in statuses) == {("DELIVERED", 1): 200}

        with count_statements() as sql:
            assert await outbox.claim_due(10, 60) == []
        assert any("FOR UPDATE SKIP LOCKED" in s.upper() for s in sql.statements), sql.statements


# --------------------------------------------------------------------------------------
# `dossier worker` processes
# --------------------------------------------------------------------------------------

# A partner package, "installed" the way pip leaves one: a module and its .dist-info (with the
# entry point) on the worker's PYTHONPATH. Each worker process appends the ids of the events it
# handled to its own file, so the test sees who delivered what.
PROBE_MODULE = """
import os

from plugins import hookimpl


class Probe:
    name = "worker-probe"

    @hookimpl
    def startup(self, host):
        label = host.setting("PROBE_LABEL")
        path = os.path.join(os.environ["DOSSIER_PROBE_DIR"], f"{os.getpid()}.startup")
        with open(path, "a") as out:
            out.write(f"{label}\\n")

    @hookimpl
    def contact_created(self, event):
        path = os.path.join(os.environ["DOSSIER_PROBE_DIR"], f"{os.getpid()}.log")
        with open(path, "a") as out:
            out.write(event.id + "\\n")
"""


class ApiSideProbe:
    """The probe as the API app knows it: the app only writes its outbox rows."""

    name = PROBE

    @hookimpl
    def contact_created(self, event: CardEvent) -> None:
        raise AssertionError("the API's own dispatcher is off; only workers deliver")


def install_probe(site: Path) -> None:
    site.mkdir()
    (site / "dossier_worker_probe.py").write_text(PROBE_MODULE)
    dist = site / "dossier_worker_probe-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dossier-worker-probe\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[dossier.plugins]\n{PROBE} = dossier_worker_probe:Probe\n")


class Workers:
    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.site = tmp_path / "site"
        self.out = tmp_path / "probe"
        self.out.mkdir()
        install_probe(self.site)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")},
            "DOSSIER_DATABASE_URL": database_url,
            "DOSSIER_DISABLED_PLUGINS": ",".join(builtin_names()),
            "DOSSIER_PROBE_DIR": str(self.out),
            "DOSSIER_PROBE_LABEL": "from-the-environment",
            "PYTHONPATH": os.pathsep.join([str(self.site), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self) -> None:
        log = self.out.parent / f"worker-{len(self.processes)}.out"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "dossier.cli", "worker"],
                env=self.env,
                cwd=self.out.parent,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.processes.append((process, log))

    def check_alive(self) -> None:
        for process, log in self.processes:
            assert process.poll() is None, f"a worker exited early:\n{log.read_text()}"

    def delivered(self) -> collections.Counter[str]:
        return collections.Counter(line for f in self.out.glob("*.log") for line in f.read_text().split())

    def started_with(self) -> list[str]:
        return [line for f in self.out.glob("*.startup") for line in f.read_text().split()]

    def stop(self) -> list[int | None]:
        codes = []
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.processes:
            try:
                codes.append(process.wait(timeout=20))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                codes.append(None)
        self.processes.clear()
        return codes


@pytest.fixture
def workers(postgres_only: str, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path, postgres_only)
    yield started
    started.stop()  # whatever the test did, leave no process behind


async def probe_rows() -> list[dict[str, Any]]:
    return await OutboxRow.filter(plugin=PROBE).order_by("id").values("status", "attempts", "payload")


async def create_contacts(api: Api, count: int, prefix: str) -> None:
    for n in range(count):
        await api.data(CREATE, {"input": {"firstName": f"{prefix}{n}", "email": f"{prefix}{n}@example.com"}})


async def test_dossier_workers_deliver_what_the_api_wrote_exactly_once(
    running_app: AppFactory, workers: Workers
) -> None:
    async with running_app(plugins=(ApiSideProbe(),), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        api = app.as_(acme.admin_key)
        await create_contacts(api, 30, "before")
        assert [r["status"] for r in await probe_rows()] == ["PENDING"] * 30

        workers.start()
        workers.start()

        async def all_delivered() -> bool:
            return all(r["status"] == "DELIVERED" for r in await probe_rows())

        await wait_until(all_delivered, "the workers to deliver 30 rows", check=workers.check_alive)
        # Rows written while the workers run are picked up too (they poll; nobody wakes them).
        await create_contacts(api, 5, "during")
        await wait_until(all_delivered, "the workers to deliver 5 more rows", check=workers.check_alive)

        rows = await probe_rows()
        assert len(rows) == 35
        assert all(r["attempts"] == 1 for r in rows)
        assert workers.delivered() == collections.Counter(r["payload"]["id"] for r in rows)
        assert workers.stop() == [0, 0]  # SIGTERM: a clean stop


async def test_a_worker_gives_plugins_their_settings_at_start_up(
    running_app: AppFactory, workers: Workers
) -> None:
    async with running_app(plugins=(ApiSideProbe(),), disabled_plugins=builtin_names()) as app:
        acme = await make_tenant("Acme")
        await create_contacts(app.as_(acme.admin_key), 1, "one")
        workers.start()

        async def delivered() -> bool:
            return [r["status"] for r in await probe_rows()] == ["DELIVERED"]

        await wait_until(delivered, "the worker to deliver", check=workers.check_alive)
        assert workers.started_with() == ["from-the-environment"]
