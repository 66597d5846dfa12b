"""contactByPhone at scale: the incoming caller's card looked up by phone among a million contacts.

    python bench/contact_by_phone.py [--contacts 1000000] [--events 1000000] [--database dossier_phone]
                                     [--requests 200] [--reuse] [--drop]

Seeds a PostgreSQL database with bench/seed_scale.py's generator (its contacts have a primary
phone nine times in ten and a secondary one in ten; the journey size does not matter to this
lookup, so the default is two entries per contact), then serves it in a uvicorn process of its
own and asks `contactByPhone` one request at a time, alternating between phones of existing
contacts written the ways a caller id or a user types them (+1 (415) 555-0123, 415.555.0123,
E.164, 1-415-..., 011 1 ...), secondary phones, and numbers nobody has. It prints p50/p99 per kind
and the EXPLAIN (ANALYZE, BUFFERS) of the lookup's statement: each side of its OR must stay an
index lookup (`phone`'s own index, (account_id, secondary_phone)), not the search's trigram
indexes and not a scan of contact. Not a test: it asserts only that plan. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from bench.load import percentile  # noqa: E402
from bench.seed_scale import ScaleDB, StatementLog, report_seed, seed_database  # noqa: E402
from bench.server import PG_SERVER, ServerProcess, pg_admin, serve  # noqa: E402
from dossier import Settings, create_app  # noqa: E402

QUERY = """
query Caller($phone: String!) {
  contactByPhone(phone: $phone) { id displayName phone secondaryPhone archivedAt tags { name } }
}
"""


def spellings(e164: str) -> dict[str, str]:
    """A US E.164 number as callers' ids and users write it."""
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return {
        "+1 (415) 555-0123": f"+1 ({area}) {exchange}-{line}",
        "415.555.0123": f"{area}.{exchange}.{line}",
        "E.164": e164,
        "1-415-555-0123": f"1-{area}-{exchange}-{line}",
        "011 1 415 555 0123": f"011 1 {area} {exchange} {line}",
    }


async def sample_phones(url: str, count: int) -> tuple[list[str], list[str]]:
    """Random primary and secondary phones of the seeded contacts (US numbers)."""
    conn = await asyncpg.connect(url)
    try:
        top = await conn.fetchval("SELECT MAX(id) FROM contact")
        rng = random.Random(7)
        ids = rng.sample(range(1, top + 1), min(top, count * 20))
        rows = await conn.fetch("SELECT phone, secondary_phone FROM contact WHERE id = ANY($1::int[])", ids)
    finally:
        await conn.close()
    primary = [r["phone"] for r in rows if r["phone"] and r["phone"].startswith("+1")][:count]
    secondary = [
        r["secondary_phone"] for r in rows if r["secondary_phone"] and r["secondary_phone"].startswith("+1")
    ]
    return primary, secondary[:count]


def probes(primary: list[str], secondary: list[str]) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {label: [] for label in spellings("+14155550123")}
    for phone in primary:
        for label, text in spellings(phone).items():
            kinds[label].append(text)
    kinds["secondary phone, (415) 555-0123"] = [spellings(p)["+1 (415) 555-0123"][3:] for p in secondary]
    # 555-01XX numbers are fictional: nobody has them.
    kinds["nobody's number"] = [f"(212) 555-01{n % 100:02d}" for n in range(len(primary))]
    return kinds


async def measure(
    db: ScaleDB, kinds: dict[str, list[str]], rounds: int
) -> dict[str, tuple[float, float, int]]:
    server = ServerProcess(__file__, "--database-url", db.url)
    results: dict[str, tuple[float, float, int]] = {}
    try:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:
            await server.ready()
            headers = {"Authorization": f"Bearer {db.api_key}"}
            samples: dict[str, list[float]] = {label: [] for label in kinds}
            found: dict[str, int] = dict.fromkeys(kinds, 0)
            for i in range(rounds):  # the kinds interleaved: the machine's load weighs on all alike
                for label, phones in kinds.items():
                    if not phones:
                        continue
                    payload = {"query": QUERY, "variables": {"phone": phones[i % len(phones)]}}
                    start = time.perf_counter()
                    response = await client.post("/graphql", json=payload, headers=headers)
                    elapsed = time.perf_counter() - start
                    body = response.json()
                    if response.status_code != 200 or body.get("errors"):
                        raise RuntimeError(f"{label}: {response.status_code} {str(body)[:300]}")
                    if i >= 10:  # warm-up
                        samples[label].append(elapsed)
                        found[label] += body["data"]["contactByPhone"] is not None
            for label, times in samples.items():
                if times:
                    results[label] = (
                        percentile(times, 0.5) * 1000,
                        percentile(times, 0.99) * 1000,
                        found[label],
                    )
    finally:
        server.stop()
    return results


async def explain(db: ScaleDB, phone: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the lookup statement the API runs for `phone`."""
    app = create_app(
        Settings(database_url=db.url, run_dispatcher=False, load_entry_points=False, graphiql=False)
    )
    logger = logging.getLogger("tortoise.db_client")
    log = StatementLog()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"Authorization": f"Bearer {db.api_key}"}
            payload = {"query": QUERY, "variables": {"phone": phone}}
            await client.post("/graphql", json=payload, headers=headers)
            old_level = logger.level
            logger.addHandler(log)
            logger.setLevel(logging.DEBUG)
            try:
                await client.post("/graphql", json=payload, headers=headers)
            finally:
                logger.removeHandler(log)
                logger.setLevel(old_level)
    lookups = [
        (sql, values) for sql, values in log.statements if '"secondary_phone"=' in sql.replace(" ", "")
    ]
    if not lookups:
        raise RuntimeError(f"no lookup statement among {[s for s, _ in log.statements]}")
    sql, values = lookups[0]
    conn = await asyncpg.connect(db.url)
    try:
        plan = [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *values)]
        indexes = {
            r["indexdef"].split("(", 1)[1].rstrip(")"): r["indexname"]
            for r in await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'contact'"
            )
        }
    finally:
        await conn.close()
    text = "\n".join(plan)
    # Each side of the OR must come off an index (the primary phone's may be the older
    # single-column one on phone, which the planner sometimes prefers); never a scan of contact.
    conds = [line for line in plan if "Index Cond" in line]
    for column in ("(phone)", "(secondary_phone)"):
        if not any(column in line for line in conds):
            raise RuntimeError(f"the lookup does not find {column} by an index:\n{text}")
    if "Seq Scan on contact" in text:
        raise RuntimeError(f"the lookup scans the contact table:\n{text}")
    names = ", ".join(
        f"{name} = ({columns})" for columns, name in sorted(indexes.items()) if "phone" in columns
    )
    return f"-- {sql}\n-- parameters: {values!r}\n-- the contact table's phone indexes: {names}\n{text}"


async def main_async(args: argparse.Namespace) -> int:
    try:
        await pg_admin("SELECT 1")
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL is not reachable at {PG_SERVER}: {exc}", file=sys.stderr)
        return 1
    db = await seed_database(args.database, args.contacts, args.events, reuse=args.reuse)
    await report_seed(db)
    primary, secondary = await sample_phones(db.url, args.requests)
    kinds = probes(primary, secondary)
    print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the lookup, {db.contacts:,} contacts:\n")
    print(await explain(db, spellings(primary[0])["415.555.0123"]))
    results = await measure(db, kinds, args.requests + 10)
    print(
        f"\ncontactByPhone over HTTP, one request at a time, {args.requests} requests per figure"
        f" (nearest-rank percentiles); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}.\n"
    )
    header = f"{'phone as typed':36} {'p50 ms':>8} {'p99 ms':>8} {'found':>7}"
    print(header)
    print("-" * len(header))
    for label, (p50, p99, hits) in results.items():
        print(f"{label:36} {p50:8.2f} {p99:8.2f} {hits:7}")
    if args.drop:
        await pg_admin(f"DROP DATABASE IF EXISTS {db.name} WITH (FORCE)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000, help="contacts (default 1,000,000)")
    parser.add_argument("--events", type=int, default=2_000_000, help="journey entries (default 2,000,000)")
    parser.add_argument("--database", default="dossier_phone", help="database name (default dossier_phone)")
    parser.add_argument("--requests", type=int, default=200, help="requests per figure (default 200)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep a database already seeded with these sizes"
    )
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--serve-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fd is not None:
        settings = Settings(
            database_url=args.database_url,
            run_dispatcher=False,
            load_entry_points=False,
            graphiql=False,
            gc_tuning=True,
        )
        serve(args.serve_fd, create_app(settings))
        return 0
    if not args.database.isidentifier():
        parser.error("--database must be a plain identifier")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
