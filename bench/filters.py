"""The contacts table's filter corpus at 10k and 1M contacts (issue 14, D6): 20 realistic filters.

    python bench/filters.py [--database dossier_scale] [--events 4000000] [--requests 30] [--warmup 3]
                            [--explain bench/filters_explain.txt] [--only 1,5,12] [--reuse]

Seeds (or, with --reuse, keeps) `<database>` (1,000,000 contacts) and `<database>_10k` with
bench/seed_scale.py, which also fills what the filters hit (custom field values of every type,
tasks, leads from forms with UTMs, tags, segments). Each filter is a table request:
`contacts(filter:, orderBy:, first: 50) { totalCount pageInfo edges { node { ... } } }`, sent
over HTTP one request at a time, alternating between the two databases (one uvicorn process
each, as seed_scale.py --measure does). Prints p50/p95 per filter and size; `--explain FILE`
writes EXPLAIN (ANALYZE, BUFFERS) of every SQL statement each filter runs on the 1M database.
Not a test: it asserts nothing about time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/filters.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from strawberry.relay import to_base64  # noqa: E402

from bench.seed_scale import (  # noqa: E402
    PG_SERVER,
    Probe,
    ScaleDB,
    Timing,
    explain,
    measure,
    pg_admin,
    report_seed,
    seed_database,
)

FILTER_QUERY = """
query Table($filter: ContactFilter, $orderBy: [ContactOrder!], $first: Int!) {
  contacts(filter: $filter, orderBy: $orderBy, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id displayName email phone status subStatus createdAt } }
  }
}
"""


@dataclass(frozen=True)
class Refs:
    """The database ids a filter names, as global IDs: a rep, the forms, the segments."""

    rep: str  # a user who owns many cards
    other_rep: str
    forms: dict[str, str]  # form name -> global ID
    segments: dict[str, str]  # segment name -> global ID


async def load_refs(db: ScaleDB) -> Refs:
    conn = await asyncpg.connect(db.url)
    try:
        # Users by how many cards they set: the busiest and the next.
        users = await conn.fetch(
            "SELECT setter_owner_id AS id FROM contact WHERE setter_owner_id IS NOT NULL"
            " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 2"
        )
        forms = await conn.fetch("SELECT id, name FROM lead_form ORDER BY id")
        segments = await conn.fetch("SELECT id, name FROM segment ORDER BY id")
    finally:
        await conn.close()
    return Refs(
        rep=to_base64("User", users[0]["id"]),
        other_rep=to_base64("User", users[1]["id"]),
        forms={r["name"]: to_base64("Form", r["id"]) for r in forms},
        segments={r["name"]: to_base64("Segment", r["id"]) for r in segments},
    )


def corpus(refs: Refs) -> list[tuple[str, dict[str, Any], list[dict[str, Any]] | None]]:
    """(label, filter, orderBy): what people ask the table for, in the ContactFilter input's shape."""
    f = refs
    return [
        ("text: last name starts with 'Oka', by last name", {"lastName": {"startsWith": "Oka"}},
         [{"field": "LAST_NAME"}, {"field": "FIRST_NAME"}]),
        ("text: email contains 'smith'", {"email": {"contains": "smith"}}, None),
        ("phone contains '415 55' and city in two", {"phone": {"contains": "(415) 55"},
                                                    "city": {"in": ["San Francisco", "Oakland"]}}, None),
        ("created LAST_30_DAYS (New York)", {"createdAt": {"within": "LAST_30_DAYS",
                                                          "timeZone": "America/New_York"}}, None),
        ("customers converted THIS_YEAR", {"status": {"in": ["customer"]},
                                           "convertedAt": {"within": "THIS_YEAR"}}, None),
        ("status lead/contacted, owner = a rep", {"status": {"in": ["lead", "contacted"]},
                                                  "owner": {"in": [f.rep]}}, None),
        ("no owner at all, by updated", {"owner": {"isNull": True}},
         [{"field": "UPDATED_AT", "direction": "DESC"}]),
        ("tags any [VIP, Hot lead]", {"tags": {"any": ["VIP", "Hot lead"]}}, None),
        ("tags all [VIP, Enterprise]", {"tags": {"all": ["VIP", "Enterprise"]}}, None),
        ("tags none [Newsletter], lead source Website", {"tags": {"none": ["Newsletter"]},
                                                         "leadSource": {"in": ["Website"]}}, None),
        ("custom: tier = gold and roof_area >= 300", {"customFields": [
            {"key": "tier", "eq": "gold"}, {"key": "roof_area", "gte": 300}]}, None),
        ("custom: budget 10k-50k USD, by budget desc", {"customFields": [
            {"key": "budget", "gte": "10000", "lte": "50000", "currency": "USD"}]},
         [{"field": "CUSTOM_FIELD", "customField": "budget", "direction": "DESC"}]),
        ("custom: interests any solar, inspection NEXT_30_DAYS", {"customFields": [
            {"key": "interests", "any": ["solar"]}, {"key": "next_inspection", "within": "NEXT_30_DAYS"}]},
         None),
        ("upcoming calls, by next inspection", {"calls": {"upcoming": True}},
         [{"field": "CUSTOM_FIELD", "customField": "next_inspection"}]),
        ("calls NO_SHOW in LAST_90_DAYS", {"calls": {"outcome": {"in": ["NO_SHOW"]},
                                                     "scheduledAt": {"within": "LAST_90_DAYS"}}}, None),
        ("open deals 5k-50k, by deal total", {"deals": {"status": {"in": ["OPEN"]},
                                                        "amount": {"gte": "5000", "lte": "50000"}}},
         [{"field": "DEAL_TOTAL", "direction": "DESC"}]),
        ("leads: utm source google, one form", {"leads": {
            "utmSource": {"eq": "google"}, "form": {"in": [f.forms["Discovery call booking"]]}}}, None),
        ("overdue tasks, assigned to a rep", {"tasks": {"overdue": True},
                                              "assignedTo": {"in": [f.other_rep]}}, None),
        ("last interaction LAST_7_DAYS, by it", {"lastInteraction": {"within": "LAST_7_DAYS"}},
         [{"field": "LAST_INTERACTION", "direction": "DESC"}]),
        ("segments (static + dynamic), or/not", {
            "segment": {"in": [f.segments["Spring mailing list"], f.segments["Hot qualified leads"]]},
            "or": [{"okToSms": {"eq": True}}, {"tags": {"any": ["VIP"]}}],
            "not": {"leadSource": {"in": ["Other"]}}}, None),
    ]  # fmt: skip


def filter_probes(refs: Refs, only: set[int] | None = None) -> list[Probe]:
    found = []
    for number, (label, spec, order) in enumerate(corpus(refs), start=1):
        if only and number not in only:
            continue
        variables: dict[str, Any] = {"filter": spec, "first": 50}
        if order:
            variables["orderBy"] = order
        found.append(Probe(f"{number:2}. {label}", {"query": FILTER_QUERY, "variables": variables}))
    return found


def sql_times(path: Path) -> dict[str, float]:
    """Per filter label: the sum of its statements' `Execution Time` in the EXPLAIN file (ms)."""
    times: dict[str, float] = {}
    label = None
    for line in path.read_text().splitlines():
        if line.endswith(" statements") and ": " in line:
            label = line.rsplit(": ", 1)[0]
            times[label] = 0.0
        elif line.startswith("Execution Time:") and label is not None:
            times[label] += float(line.split()[2])
    return times


def report(results: list[tuple[str, Timing, Timing]], requests: int, sql: dict[str, float]) -> None:
    print(
        f"\nOver HTTP, one request at a time, {requests} requests per figure (nearest-rank percentiles),"
        f"\nalternating between the two databases; {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.1f} at the end.\n"
    )
    header = (
        f"{'filter (first: 50 with totalCount)':56} {'10k p50':>8} {'10k p95':>8} {'1M p50':>8}"
        f" {'1M p95':>8} {'1M SQL':>7} {'matches 10k/1M':>17}"
    )
    print(header)
    print("-" * len(header))
    for label, a, b in results:
        print(
            f"{label[:56]:56} {a.p50_ms:8.1f} {a.p95_ms:8.1f} {b.p50_ms:8.1f} {b.p95_ms:8.1f}"
            f" {sql.get(label, float('nan')):7.1f} {f'{a.rows}/{b.rows}':>17}"
        )
    over = [label for label, _, b in results if b.p50_ms > 50]
    print(
        "\nms over HTTP, the whole request; 1M SQL: the sum of the request's statements' Execution"
        " Time in EXPLAIN ANALYZE (--explain; nan without it)."
        f"\n1M p50 above 50 ms: {', '.join(label.split('.')[0].strip() for label in over) or 'none'}."
    )


async def main_async(args: argparse.Namespace) -> int:
    try:
        await pg_admin("SELECT 1")
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL is not reachable at {PG_SERVER}: {exc}", file=sys.stderr)
        return 1
    large = await seed_database(args.database, args.contacts, args.events, reuse=args.reuse)
    small = await seed_database(f"{args.database}_10k", 10_000, 100_000, reuse=args.reuse)
    for db in (large, small):
        if db.seed_seconds is not None:
            await report_seed(db)
    only = {int(n) for n in args.only.split(",")} if args.only else None
    refs = {db.name: await load_refs(db) for db in (small, large)}

    def make(db: ScaleDB) -> list[Probe]:
        return filter_probes(refs[db.name], only)

    sql: dict[str, float] = {}
    if args.explain:
        await explain(large, Path(args.explain), make)
        sql = sql_times(Path(args.explain))
    if args.requests:
        results = await measure(small, large, args.requests, args.warmup, make)
        report(results, args.requests, sql)
    return 0


def corpus_arguments(parser: argparse.ArgumentParser, *, requests: int) -> None:
    """The options this script and filters_ab.py share: which database, filters and how many requests."""
    parser.add_argument("--database", default="dossier_scale", help="database name (default dossier_scale)")
    parser.add_argument("--only", help="filter numbers to run, e.g. 1,5,12")
    parser.add_argument(
        "--requests", type=int, default=requests, help=f"requests per figure (default {requests}; 0: none)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="warm-up requests per figure (default 3)")


def parse_corpus_arguments(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if not args.database.isidentifier():
        parser.error("--database must be a plain identifier")
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpus_arguments(parser, requests=30)
    parser.add_argument("--contacts", type=int, default=1_000_000, help="contacts (default 1,000,000)")
    parser.add_argument("--events", type=int, default=4_000_000, help="journey entries (default 4,000,000)")
    parser.add_argument("--reuse", action="store_true", help="keep databases already seeded with these sizes")
    parser.add_argument("--explain", metavar="FILE", help="write EXPLAIN (ANALYZE, BUFFERS) at 1M")
    return asyncio.run(main_async(parse_corpus_arguments(parser, argv)))


if __name__ == "__main__":
    sys.exit(main())
