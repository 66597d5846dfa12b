"""Does a slow SMS provider slow `sendSms` down? Latency with plugins vs no plugins, in one run.

    python bench/sms.py [--backend sqlite|postgres|both] [--requests N] [--warmup W] [--delay S]

For each backend, two Dossier servers (uvicorn subprocesses, each on its own fresh database
seeded with one account, an API key and one contact whose mobile number was verified):

- baseline: no plugins at all (every built-in disabled, no entry points), plus one in-process
  stub that only reports the "sms" capability, so `sendSms` is accepted and runs the same
  mutation path (validation, consent check, message row, journey row, commit). No plugin
  subscribes to `sms_queued`: no outbox row is written and the dispatcher has nothing to do.
- plugins: every built-in plugin (sms, twilio, email, smtp, maps, webhooks) with Twilio
  configured against the fake Twilio API (tests/fakes/twilio_api.py, its own subprocess), which
  answers every request after `--delay` seconds (1 s). The in-process dispatcher runs: each
  `sendSms` also writes outbox rows, and the dispatcher sends the text through the twilio SDK
  while the next requests are being measured.

Each server gets `--warmup` requests, then `--requests` `sendSms` mutations one at a time over
HTTP (httpx, loopback); baseline is measured first, then plugins (the baseline server is idle
meanwhile). p50/p99 are nearest-rank. Afterwards the script waits until every text the plugins
server queued has been marked SENT (so the slow provider really was on the path) and says how long
that took. Not a test: it asserts nothing about time. Target: plugins p50 within 1.2x of baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/sms.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from strawberry.relay import to_base64  # noqa: E402

from bench.load import percentile  # noqa: E402
from bench.server import PG_SERVER, ServerProcess, pg_admin, serve  # noqa: E402
from crm.actor import Actor  # noqa: E402
from crm.db import close_database, open_database  # noqa: E402
from crm.models import Message  # noqa: E402
from crm.services import accounts, contacts, messages  # noqa: E402
from dossier import Settings, create_app  # noqa: E402
from plugins import hookimpl  # noqa: E402
from plugins.manager import builtin_names  # noqa: E402

PHONE = "+14155550123"
PUBLIC_URL = "http://127.0.0.1:9"  # status callbacks are signed over it; nothing calls back here
SEND = "mutation($input: SendSmsInput!) { sendSms(input: $input) { id status } }"
SCENARIOS = ("baseline", "plugins", "worker")
PLUGGED = ("plugins", "worker")  # the scenarios that really send through the fake
# `dossier worker` is for PostgreSQL (one SQLite file cannot take several processes' writes).
SCENARIOS_FOR = {"sqlite": ("baseline", "plugins"), "postgres": SCENARIOS}


# --------------------------------------------------------------------------------------
# The apps and servers (subprocesses of this script)
# --------------------------------------------------------------------------------------


class SmsCapability:
    """The baseline's only plugin: says SMS is available, so sendSms runs its full path."""

    name = "bench-sms-capability"

    @hookimpl
    def capabilities(self) -> list[str]:
        return ["sms"]


def twilio_env(url: str, twilio_url: str) -> dict[str, str]:
    return {
        "DOSSIER_DATABASE_URL": url,
        "DOSSIER_PUBLIC_URL": PUBLIC_URL,
        "DOSSIER_TWILIO_ACCOUNT_SID": FAKE_SID,
        "DOSSIER_TWILIO_AUTH_TOKEN": FAKE_TOKEN,
        "DOSSIER_TWILIO_FROM": "+14155550000",
        "DOSSIER_TWILIO_BASE_URL": twilio_url,
    }


def bench_app(scenario: str, url: str, twilio_url: str) -> Any:
    base = Settings(database_url=url, load_entry_points=False, graphiql=False, run_dispatcher=True)
    if scenario == "baseline":
        return create_app(replace(base, disabled_plugins=builtin_names()), plugins=[SmsCapability()])
    # "worker": the API only queues; a `dossier worker` process (started next to it) delivers.
    return create_app(
        replace(
            base, env=twilio_env(url, twilio_url), public_url=PUBLIC_URL, run_dispatcher=scenario == "plugins"
        )
    )


def start_worker(url: str, twilio_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **twilio_env(url, twilio_url), "DOSSIER_OUTBOX_POLL_INTERVAL": "0.2"}
    return subprocess.Popen([sys.executable, "-m", "dossier.cli", "worker"], env=env, cwd=ROOT)


def fake_twilio_app(delay: float) -> Any:
    from tests.fakes.twilio_api import FakeTwilio

    return FakeTwilio(delay=delay).app()


# --------------------------------------------------------------------------------------
# Seeding and measuring
# --------------------------------------------------------------------------------------


FAKE_SID = "AC" + "f" * 32
FAKE_TOKEN = "fake-twilio-auth-token"


@dataclass
class Seeded:
    api_key: str
    contact_id: str


async def seed(url: str) -> Seeded:
    """One account, its admin's key, one contact whose mobile number is verified (okToSms on)."""
    await open_database(url)
    try:
        issued = await accounts.create_account("Bench", "admin@bench.example.com", "Bench Admin")
        actor = Actor.user(issued.user.account_id, issued.user.id, "Bench Admin", "admin")  # type: ignore[attr-defined]
        contact = await contacts.create_contact(actor, {"first_name": "Ada", "phone": PHONE})
        await messages.record_phone_check(
            Actor.plugin(actor.account_id, "bench"), contact.id, PHONE, "mobile"
        )
    finally:
        await close_database()
    return Seeded(issued.key, to_base64("Contact", contact.id))


async def count_sent(url: str) -> int:
    await open_database(url, run_migrations=False)
    try:
        return await Message.filter(status="SENT").count()
    finally:
        await close_database()


@dataclass
class Timing:
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float


async def send_sms(client: httpx.AsyncClient, seeded: Seeded, n: int) -> float:
    payload = {"query": SEND, "variables": {"input": {"contactId": seeded.contact_id, "body": f"Text {n}"}}}
    headers = {"Authorization": f"Bearer {seeded.api_key}"}
    start = time.perf_counter()
    response = await client.post("/graphql", json=payload, headers=headers)
    elapsed = time.perf_counter() - start
    body = response.json()
    if response.status_code != 200 or body.get("errors") or body["data"]["sendSms"]["status"] != "QUEUED":
        raise RuntimeError(f"sendSms failed: {response.status_code} {response.text[:300]}")
    return elapsed


def timing(latencies: list[float]) -> Timing:
    return Timing(
        percentile(latencies, 0.50) * 1000,
        percentile(latencies, 0.99) * 1000,
        sum(latencies) / len(latencies) * 1000,
        max(latencies) * 1000,
    )


async def measure(client: httpx.AsyncClient, seeded: Seeded, count: int, first: int) -> list[float]:
    return [await send_sms(client, seeded, first + n) for n in range(count)]


async def all_sent(url: str, queued: int) -> tuple[int, float]:
    """Wait until the plugins server has marked `queued` texts SENT; (how many, seconds waited)."""
    started, sent = time.perf_counter(), 0
    while time.perf_counter() - started < 120:
        sent = await count_sent(url)
        if sent >= queued:
            break
        await asyncio.sleep(0.1)  # watching another process work, not a test
    return sent, time.perf_counter() - started


# --------------------------------------------------------------------------------------
# One backend, start to finish
# --------------------------------------------------------------------------------------


@dataclass
class BackendResult:
    backend: str
    timings: dict[str, Timing]
    queued: int
    sent: int
    all_sent_after_s: float


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> BackendResult | None:
    scenarios = SCENARIOS_FOR[backend]
    plugged = [s for s in PLUGGED if s in scenarios]
    urls: dict[str, str] = {}
    if backend == "postgres":
        try:
            for scenario in scenarios:
                await pg_admin(f"DROP DATABASE IF EXISTS dossier_bench_sms_{scenario} WITH (FORCE)")
                await pg_admin(f"CREATE DATABASE dossier_bench_sms_{scenario}")
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"postgres: skipped, {PG_SERVER} is not reachable ({exc})", file=sys.stderr)
            return None
        urls = {s: f"{PG_SERVER}/dossier_bench_sms_{s}" for s in scenarios}
    else:
        urls = {s: f"sqlite://{workdir / f'{s}.db'}" for s in scenarios}
    servers: list[ServerProcess] = []
    try:
        seeded = {s: await seed(urls[s]) for s in scenarios}
        fake = ServerProcess(__file__, "--fake-twilio", "--delay", str(args.delay))
        servers.append(fake)
        await fake.ready("/v2/PhoneNumbers/+14155550123", ok=(401,))  # up: it asks for credentials
        dossier = {
            s: ServerProcess(
                __file__, "--scenario", s, "--database-url", urls[s], "--twilio-url", fake.base_url
            )
            for s in scenarios
        }
        servers.extend(dossier.values())
        for server in dossier.values():
            await server.ready()
        worker = start_worker(urls["worker"], fake.base_url) if "worker" in scenarios else None

        # A B B A: each app measured twice, in mirrored order, so a drift of the machine's speed
        # weighs on both alike; after each plugins phase the dispatcher's backlog (texts waiting
        # on the slow fake) is let finish, so it never runs while the baseline is measured.
        clients = {s: httpx.AsyncClient(base_url=dossier[s].base_url, timeout=60) for s in scenarios}
        latencies: dict[str, list[float]] = {s: [] for s in scenarios}
        backlog_s = 0.0
        queued: dict[str, int] = {}
        sent_by: dict[str, int] = {}
        try:
            for s in scenarios:
                await measure(clients[s], seeded[s], args.warmup, 0)
            queued = {s: args.warmup for s in plugged}
            for s in plugged:
                await all_sent(urls[s], queued[s])
            half = args.requests // 2
            order = (*scenarios, *reversed(scenarios))
            for phase, s in enumerate(order):
                count = half if phase < len(scenarios) else args.requests - half
                latencies[s] += await measure(clients[s], seeded[s], count, 1000 * (phase + 1))
                if s in plugged:
                    queued[s] += count
                    sent_by[s], waited = await all_sent(urls[s], queued[s])
                    backlog_s = max(backlog_s, waited)
        finally:
            for client in clients.values():
                await client.aclose()
        timings = {s: timing(latencies[s]) for s in scenarios}
        all_sent_after = backlog_s
    finally:
        if locals().get("worker") is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
        for server in servers:
            server.stop()
        if backend == "postgres":
            for scenario in scenarios:
                await pg_admin(f"DROP DATABASE IF EXISTS dossier_bench_sms_{scenario} WITH (FORCE)")
    return BackendResult(backend, timings, queued["plugins"], min(sent_by.values()), all_sent_after)


def report(results: list[BackendResult], args: argparse.Namespace) -> None:
    print()
    print(f"sendSms latency, {args.requests} requests one at a time after {args.warmup} warm-up requests")
    print(
        f"(all built-ins, Twilio fake answering after {args.delay:g} s; plugins: the dispatcher runs in"
        " the API process; worker: the API only queues, a `dossier worker` process delivers)"
    )
    print()
    header = f"{'backend':<9} {'app':<9} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        for s in r.timings:
            t = r.timings[s]
            print(
                f"{r.backend:<9} {s:<9} {t.p50_ms:>8.2f} {t.p99_ms:>8.2f} {t.mean_ms:>8.2f} {t.max_ms:>8.2f}"
            )
        base = r.timings["baseline"]
        for s in [p for p in PLUGGED if p in r.timings]:
            plug = r.timings[s]
            ratios = (plug.p50_ms / base.p50_ms, plug.p99_ms / base.p99_ms, plug.mean_ms / base.mean_ms)
            ratios += (plug.max_ms / base.max_ms,)
            print(f"{r.backend:<9} {s + '/base':<9} " + " ".join(f"{x:>7.2f}x" for x in ratios))
            verdict = "within" if plug.p50_ms / base.p50_ms <= 1.2 else "NOT within"
            print(f"{'':<9} {s}: p50 ratio {verdict} the 1.2x target")
        print(
            f"{'':<9} texts queued per plugged server: {r.queued}; marked SENT through the fake: {r.sent};"
            f" a phase's texts were all SENT at most {r.all_sent_after_s:.1f} s after its last sendSms"
        )
        print()


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    with tempfile.TemporaryDirectory(prefix="dossier-bench-sms-") as tmp:
        for backend in backends:
            result = await run_backend(backend, args, Path(tmp))
            if result is not None:
                results.append(result)
    report(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds the fake Twilio takes to answer")
    # Internal: run one of the servers (this script starts them as subprocesses).
    parser.add_argument("--serve-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--twilio-url", help=argparse.SUPPRESS)
    parser.add_argument("--fake-twilio", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fd is not None:
        if args.fake_twilio:
            serve(args.serve_fd, fake_twilio_app(args.delay), lifespan="auto")
        else:
            serve(
                args.serve_fd, bench_app(args.scenario, args.database_url, args.twilio_url), lifespan="auto"
            )
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
