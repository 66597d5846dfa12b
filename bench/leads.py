"""What does matching and the duplicate check cost? `submitLead` beside `createContact`, in one run.

    python bench/leads.py [--backend sqlite|postgres|both] [--seconds S] [--warmup S] [--connections C]
                          [--contacts N]

For each backend: a fresh database (a SQLite file, or the PostgreSQL database
`dossier_bench_leads`) seeded with one account, its admin's key, an intake form and `--contacts`
contacts with an email and a phone (bulk inserts: set-up), then one Dossier server (a uvicorn
subprocess; built-in plugins off, so no outbox rows on either side; intake limits out of the
way). Each scenario sends requests from `--connections` concurrent httpx clients for
`--seconds` after `--warmup` seconds, every request carrying 3 answers and a UTM set:

- createContact: a new contact each time (no lookup at all);
- submitLead new: an email and phone nobody has -- two indexed lookups miss, then the same
  writes as createContact plus the lead and its LEAD_SUBMITTED entry;
- submitLead match: the email of one of the seeded contacts (in turn), new answers: a lookup
  hits, empty fields are filled, the duplicate check runs and misses;
- submitLead dup: the same email and answers every time: stored as DUPLICATE;
- intake: POST /forms/{key} (JSON, no API key) of new people, through the rate limiter.

Reported: requests/s and p50/p99 latency per scenario, and each one's throughput relative to
createContact. Not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/leads.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.load import percentile  # noqa: E402
from bench.server import ServerProcess, fresh_database, pg_admin, serve  # noqa: E402
from crm.actor import Actor  # noqa: E402
from crm.db import close_database, open_database  # noqa: E402
from crm.models import Contact  # noqa: E402
from crm.services import accounts, leads  # noqa: E402
from dossier import Settings, create_app  # noqa: E402
from plugins.manager import builtin_names  # noqa: E402

PG_DATABASE = "dossier_bench_leads"
CREATE = "mutation($input: CreateContactInput!) { createContact(input: $input) { id } }"
SUBMIT = "mutation($input: SubmitLeadInput!) { submitLead(input: $input) { lead { id status matchReason } } }"
SCENARIOS = ("createContact", "submitLead new", "submitLead match", "submitLead dup", "intake")
UTM = {"source": "google", "medium": "cpc", "campaign": "bench"}


def answers(n: int) -> list[dict[str, str]]:
    return [
        {"question": "Seats?", "answer": str(n % 50)},
        {"question": "When?", "answer": f"week {n}"},
        {"question": "Budget?", "answer": "10k"},
    ]


def bench_app(url: str) -> Any:
    settings = Settings(
        database_url=url,
        load_entry_points=False,
        graphiql=False,
        disabled_plugins=builtin_names(),
        intake_limit_per_key=10**9,
        intake_limit_per_address=10**9,
    )
    return create_app(replace(settings, run_dispatcher=False))


@dataclass
class Seeded:
    api_key: str
    form_key: str
    emails: list[str]


async def seed(url: str, contacts: int) -> Seeded:
    await open_database(url)
    try:
        issued = await accounts.create_account("Bench", "admin@bench.example.com", "Bench Admin")
        account_id = issued.user.account_id  # type: ignore[attr-defined]
        actor = Actor.user(account_id, issued.user.id, "Bench Admin", "admin")
        form = await leads.create_form(actor, "Bench form")
        emails = [f"known{i}@example.com" for i in range(contacts)]
        await Contact.bulk_create(
            [
                Contact(account_id=account_id, first_name=f"Known{i}", email=email,
                        phone=f"+1415{5000000 + i:07}", status="lead")
                for i, email in enumerate(emails)
            ],
            batch_size=1000,
        )  # fmt: skip
    finally:
        await close_database()
    return Seeded(issued.key, form.key, emails)


Request = Callable[[int], tuple[str, dict[str, Any], dict[str, str]]]


def requests_for(seeded: Seeded, run: int) -> dict[str, Request]:
    auth = {"Authorization": f"Bearer {seeded.api_key}"}

    def graphql(query: str, input_of: Callable[[int], dict[str, Any]]) -> Request:
        return lambda n: ("/graphql", {"query": query, "variables": {"input": input_of(n)}}, auth)

    def new_person(n: int) -> dict[str, Any]:
        return {"firstName": f"New{n}", "email": f"new{run}-{n}@example.com",
                "phone": f"+1212{2_000_000 + (run * 1_000_000 + n) % 8_000_000:07}"}  # fmt: skip

    known = seeded.emails
    return {
        "createContact": graphql(CREATE, lambda n: {**new_person(n), "utm": UTM, "formAnswers": answers(n)}),
        "submitLead new": graphql(
            SUBMIT, lambda n: {"formName": "Bench", **new_person(n), "utm": UTM, "answers": answers(n)}
        ),
        "submitLead match": graphql(
            SUBMIT,
            lambda n: {
                "formName": "Bench",
                "email": known[n % len(known)],
                "lastName": "Filled",
                "utm": UTM,
                "answers": answers(n + run * 7919),
            },
        ),
        "submitLead dup": graphql(
            SUBMIT, lambda n: {"formName": "Bench", "email": known[0], "utm": UTM, "answers": answers(0)}
        ),
        "intake": lambda n: (
            f"/forms/{seeded.form_key}",
            {**new_person(n), "utm_source": "google", "utm_medium": "cpc", "Seats?": str(n % 50)},
            {},
        ),
    }


@dataclass
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


async def load(base_url: str, request: Request, connections: int, seconds: float) -> Result:
    counter = itertools.count()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            path, body, headers = request(next(counter))
            start = time.perf_counter()
            response = await client.post(path, json=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status_code not in (200, 201) or b'"errors"' in response.content:
                errors += 1
                if errors == 1:
                    print(f"  first error: {response.status_code} {response.text[:300]}", file=sys.stderr)

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return Result(
        len(latencies) / elapsed,
        percentile(latencies, 0.5) * 1000,
        percentile(latencies, 0.99) * 1000,
        errors,
    )


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Result] | None:
    url = await fresh_database(backend, PG_DATABASE, workdir / "leads.db")
    if url is None:
        return None
    server: ServerProcess | None = None
    try:
        seeded = await seed(url, args.contacts)
        server = ServerProcess(__file__, "--database-url", url, quiet=True)
        await server.ready()
        results = {}
        for run, name in enumerate(SCENARIOS, start=1):
            requests = requests_for(seeded, run)
            await load(server.base_url, requests[name], args.connections, args.warmup)
            results[name] = await load(server.base_url, requests[name], args.connections, args.seconds)
            await server.wait_idle()
        return results
    finally:
        if server is not None:
            server.stop()
        if backend == "postgres":
            await pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


def report(results: dict[str, dict[str, Result]], args: argparse.Namespace) -> None:
    print()
    print(
        f"{args.connections} connections, {args.seconds:g} s per scenario after {args.warmup:g} s warm-up,"
        f" {args.contacts:,} seeded contacts"
    )
    header = (
        f"{'backend':<9} {'scenario':<17} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
        f" {'vs create':>10}"
    )
    print(header)
    print("-" * len(header))
    for backend, by_scenario in results.items():
        base = by_scenario["createContact"].requests_per_s
        for name, r in by_scenario.items():
            print(
                f"{backend:<9} {name:<17} {r.requests_per_s:>8.1f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f}"
                f" {r.errors:>7} {r.requests_per_s / base:>9.2f}x"
            )
    print()


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = {}
    with tempfile.TemporaryDirectory(prefix="dossier-bench-leads-") as tmp:
        for backend in backends:
            found = await run_backend(backend, args, Path(tmp))
            if found is not None:
                results[backend] = found
    report(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--serve-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fd is not None:
        serve(args.serve_fd, bench_app(args.database_url), lifespan="auto")
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
