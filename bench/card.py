"""How much does one GraphQL card cost next to a hand-written endpoint returning the same JSON?

    python bench/card.py [--backend sqlite|postgres|both] [--requests N] [--concurrency C]

For each backend: seed a fresh database with one large card (bench/seed.py), check in-process
that Dossier's response and the floor's are the same JSON and count the SQL statements of
each, then serve both from ONE uvicorn process (a subprocess, so server and client do not
share a core) and measure them over HTTP on loopback with httpx:

- dossier: POST /graphql with the full-card query (bench/card.py CARD_QUERY);
- floor:   GET /floor/card?id=…, a tiny Starlette route on the same app: the API-key lookup,
           then plain SQL on the same driver (aiosqlite / asyncpg), one query per section,
           rows turned into the same JSON by hand and encoded with json.dumps.

Latency (p50, p99) is measured one request at a time, throughput with C requests in flight.
Not a test: it asserts nothing about time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/card.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402
from strawberry.relay import to_base64  # noqa: E402

from bench.seed import Seeded, seed  # noqa: E402
from bench.server import ServerProcess, serve  # noqa: E402
from crm.db import close_database, open_database  # noqa: E402
from crm.richtext import visible_text  # noqa: E402
from crm.services.accounts import hash_key  # noqa: E402
from crm.uow import display_name  # noqa: E402
from dossier import Settings, create_app  # noqa: E402
from graph.ids import encode_cursor  # noqa: E402
from graph.view import bearer  # noqa: E402

PG_SERVER = os.environ.get("DOSSIER_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = "dossier_bench"
JOURNEY_PAGE = 100  # the API's largest page; the card asks for the newest and the oldest page

CARD_QUERY = """
query Card($id: ID!) {
  contact(id: $id) {
    id displayName firstName lastName businessName title contactType
    email secondaryEmail phone secondaryPhone ipAddress status subStatus convertedAt createdAt updatedAt
    address { street city state zip country }
    setterOwner { id name } closerOwner { id name } assignedTo { id name }
    tags { id name }
    utms { source medium campaign term content capturedAt }
    formAnswers { question answer form answeredAt }
    lastBookedEvent
    journey(first: 100) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ...Entry } }
    }
    earliest: journey(first: 100, order: OLDEST_FIRST) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ...Entry } }
    }
    upcoming: calls(when: UPCOMING) { ...CallCard }
    past: calls(when: PAST) { ...CallCard }
    deals {
      id productName amount currency paymentType status recurring closedAt createdAt createdBy { name }
    }
    notes { id body text createdAt author { name } }
  }
}
fragment Entry on JourneyEvent {
  kind occurredAt summary subjectId
  actor { kind name user { name } }
  changes { field before after }
}
fragment CallCard on Call {
  id eventName scheduledAt endsAt durationMinutes status outcome recordingUrl rescheduleCount badges
  bookedBy { name }
}
"""


# --------------------------------------------------------------------------------------
# The floor: the same card by hand, plain driver, one query per section
# --------------------------------------------------------------------------------------


class FloorDB:
    """Plain aiosqlite (one connection, like tortoise's) or asyncpg (a pool of 1..5, likewise)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgres://", "postgresql://"))
        self.statements = 0
        self._conn: Any = None

    async def open(self) -> FloorDB:
        if self.postgres:
            self._conn = await asyncpg.create_pool(self.url, min_size=1, max_size=5)
        else:
            import aiosqlite

            self._conn = await aiosqlite.connect(self.url.removeprefix("sqlite://"), isolation_level=None)
            self._conn.row_factory = aiosqlite.Row
        return self

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    def in_list(self, start: int, count: int) -> str:
        """Placeholders for an IN list of `count` values starting at parameter `start`."""
        return ", ".join(f"${i}" for i in range(start, start + count))

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """`sql` numbers its parameters $1, $2, … in the order they appear (SQLite reads them as ?)."""
        self.statements += 1
        if self.postgres:
            return [dict(r) for r in await self._conn.fetch(sql, *params)]
        async with self._conn.execute(re.sub(r"\$\d+", "?", sql), params) as cursor:
            return [dict(r) for r in await cursor.fetchall()]


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)  # SQLite keeps timestamps as ISO text


def _iso(value: Any) -> str | None:
    parsed = _dt(value)
    return parsed.isoformat() if parsed is not None else None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _badges(call: dict[str, Any], upcoming: bool) -> list[str]:
    badges = []
    if call["status"] == "CANCELLED":
        badges.append("CANCELLED")
    if call["reschedule_count"]:
        badges.append("RESCHEDULED")
    if call["status"] == "SCHEDULED" and call["outcome"] is None and not upcoming:
        badges.append("NEEDS_OUTCOME")
    if call["recording_url"]:
        badges.append("RECORDED")
    return badges


async def floor_card(db: FloorDB, api_key: str, contact_id: int) -> dict[str, Any] | None:
    """The card as a hand-written endpoint would build it; None when the key or contact is unknown."""
    auth = await db.fetch(
        "SELECT u.account_id FROM api_key k JOIN app_user u ON u.id = k.user_id"
        " WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        hash_key(api_key),
    )
    if not auth:
        return None
    account_id = auth[0]["account_id"]
    found = await db.fetch("SELECT * FROM contact WHERE id = $1 AND account_id = $2", contact_id, account_id)
    if not found:
        return None
    c = found[0]
    tags = await db.fetch(
        "SELECT t.id, t.name FROM contact_tag ct JOIN tag t ON t.id = ct.tag_id"
        " WHERE ct.contact_id = $1 AND t.account_id = $2 ORDER BY t.name",
        contact_id,
        account_id,
    )
    utms = await db.fetch("SELECT * FROM utm WHERE contact_id = $1 ORDER BY captured_at, id", contact_id)
    answers = await db.fetch(
        "SELECT * FROM form_answer WHERE contact_id = $1 ORDER BY answered_at, id", contact_id
    )
    calls = await db.fetch("SELECT * FROM call WHERE contact_id = $1 ORDER BY scheduled_at, id", contact_id)
    deals = await db.fetch("SELECT * FROM deal WHERE contact_id = $1 ORDER BY created_at, id", contact_id)
    notes = await db.fetch(
        "SELECT * FROM note WHERE contact_id = $1 ORDER BY created_at DESC, id DESC", contact_id
    )
    journey_sql = (
        "SELECT * FROM journey_event WHERE contact_id = $1 AND account_id = $2 ORDER BY id {} LIMIT $3"
    )
    newest = await db.fetch(journey_sql.format("DESC"), contact_id, account_id, JOURNEY_PAGE + 1)
    oldest = await db.fetch(journey_sql.format("ASC"), contact_id, account_id, JOURNEY_PAGE + 1)
    (total,) = await db.fetch(
        "SELECT COUNT(*) AS n FROM journey_event WHERE contact_id = $1 AND account_id = $2",
        contact_id,
        account_id,
    )
    user_ids = sorted(
        (
            {c["setter_owner_id"], c["closer_owner_id"], c["assigned_to_id"]}
            | {r["booked_by_id"] for r in calls}
            | {r["created_by_id"] for r in deals}
            | {r["author_id"] for r in notes}
            | {r["actor_user_id"] for r in newest + oldest}
        )
        - {None}
    )
    users = {
        u["id"]: u["name"]
        for u in await db.fetch(
            f"SELECT id, name FROM app_user WHERE account_id = $1 AND id IN ({db.in_list(2, len(user_ids))})",
            account_id,
            *user_ids,
        )
    }

    def owner(user_id: int | None) -> dict[str, Any] | None:
        return {"id": to_base64("User", user_id), "name": users[user_id]} if user_id in users else None

    def named(user_id: int | None) -> dict[str, str] | None:
        return {"name": users[user_id]} if user_id in users else None

    def journey_page(rows: list[dict[str, Any]]) -> dict[str, Any]:
        edges = [
            {
                "cursor": encode_cursor("journey", r["id"]),
                "node": {
                    "kind": r["kind"],
                    "occurredAt": _iso(r["occurred_at"]),
                    "summary": r["summary"],
                    "subjectId": to_base64(r["subject_type"], r["subject_id"])
                    if r["subject_type"] and r["subject_id"] is not None
                    else None,
                    "actor": {
                        "kind": r["actor_kind"],
                        "name": r["actor_name"],
                        "user": named(r["actor_user_id"]),
                    },
                    "changes": [
                        {"field": k, "before": pair[0], "after": pair[1]}
                        for k, pair in (_json(r["changes"]) or {}).items()
                    ],
                },
            }
            for r in rows[:JOURNEY_PAGE]
        ]
        return {
            "pageInfo": {
                "hasNextPage": len(rows) > JOURNEY_PAGE,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
            "edges": edges,
        }

    now = datetime.now(UTC)

    def call(r: dict[str, Any]) -> dict[str, Any]:
        scheduled = _dt(r["scheduled_at"])
        assert scheduled is not None
        return {
            "id": to_base64("Call", r["id"]),
            "eventName": r["event_name"],
            "scheduledAt": scheduled.isoformat(),
            "endsAt": (scheduled + timedelta(minutes=r["duration_minutes"])).isoformat(),
            "durationMinutes": r["duration_minutes"],
            "status": r["status"],
            "outcome": r["outcome"],
            "recordingUrl": r["recording_url"],
            "rescheduleCount": r["reschedule_count"],
            "badges": _badges(r, scheduled > now),
            "bookedBy": named(r["booked_by_id"]),
        }

    address = {k: c[k] for k in ("street", "city", "state", "zip", "country")}
    last_booked = max(calls, key=lambda r: (_dt(r["created_at"]), r["id"]))["event_name"] if calls else None
    return {
        "id": to_base64("Contact", c["id"]),
        "displayName": display_name(c["first_name"], c["last_name"], c["business_name"], c["email"]),
        "firstName": c["first_name"],
        "lastName": c["last_name"],
        "businessName": c["business_name"],
        "title": c["title"],
        "contactType": c["contact_type"],
        "email": c["email"],
        "secondaryEmail": c["secondary_email"],
        "phone": c["phone"],
        "secondaryPhone": c["secondary_phone"],
        "ipAddress": c["ip_address"],
        "status": c["status"],
        "subStatus": c["sub_status"],
        "convertedAt": _iso(c["converted_at"]),
        "createdAt": _iso(c["created_at"]),
        "updatedAt": _iso(c["updated_at"]),
        "address": address if any(address.values()) else None,
        "setterOwner": owner(c["setter_owner_id"]),
        "closerOwner": owner(c["closer_owner_id"]),
        "assignedTo": owner(c["assigned_to_id"]),
        "tags": [{"id": to_base64("Tag", t["id"]), "name": t["name"]} for t in tags],
        "utms": [
            {k: u[k] for k in ("source", "medium", "campaign", "term", "content")}
            | {"capturedAt": _iso(u["captured_at"])}
            for u in utms
        ],
        "formAnswers": [
            {
                "question": a["question"],
                "answer": a["answer"],
                "form": a["form"],
                "answeredAt": _iso(a["answered_at"]),
            }
            for a in answers
        ],
        "lastBookedEvent": last_booked,
        "journey": {"totalCount": total["n"], **journey_page(newest)},
        "earliest": journey_page(oldest),
        "upcoming": [call(r) for r in calls if _dt(r["scheduled_at"]) > now],  # type: ignore[operator]
        "past": [call(r) for r in reversed(calls) if _dt(r["scheduled_at"]) <= now],  # type: ignore[operator]
        "deals": [
            {
                "id": to_base64("Deal", d["id"]),
                "productName": d["product_name"],
                "amount": format(Decimal(d["amount"]).normalize(), "f"),  # "1720", not "1.72E+3"
                "currency": d["currency"],
                "paymentType": d["payment_type"],
                "status": d["status"],
                "recurring": bool(d["recurring"]),
                "closedAt": _iso(d["closed_at"]),
                "createdAt": _iso(d["created_at"]),
                "createdBy": named(d["created_by_id"]),
            }
            for d in deals
        ],
        "notes": [
            {
                "id": to_base64("Note", n["id"]),
                "body": n["body"],
                "text": visible_text(n["body"]),
                "createdAt": _iso(n["created_at"]),
                "author": named(n["author_id"]),
            }
            for n in notes
        ],
    }


class FloorEndpoint:
    """GET /floor/card?id=<contact id>, Authorization: Bearer <key>."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._db: FloorDB | None = None
        self._lock = asyncio.Lock()

    async def db(self) -> FloorDB:
        async with self._lock:
            if self._db is None:
                self._db = await FloorDB(self._url).open()
        return self._db

    async def handle(self, request: Request) -> Response:
        token = bearer(request.headers.get("authorization"))
        if token is None:
            return JSONResponse({"error": "send an API key"}, status_code=401)
        card = await floor_card(await self.db(), token, int(request.query_params["id"]))
        if card is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(json.dumps({"data": {"contact": card}}), media_type="application/json")


def bench_app(url: str) -> Any:
    app = create_app(
        Settings(database_url=url, run_dispatcher=False, load_entry_points=False, graphiql=False)
    )
    app.router.routes.append(Route("/floor/card", FloorEndpoint(url).handle, methods=["GET"]))
    return app


# --------------------------------------------------------------------------------------
# The server (a subprocess of this script)
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------


class StatementCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.args[0] if isinstance(record.args, tuple) and record.args else record.msg
        if isinstance(text, str) and text.lstrip().upper().startswith(
            ("SELECT", "INSERT", "UPDATE", "DELETE")
        ):
            self.count += 1


@dataclass
class Timing:
    p50_ms: float
    p99_ms: float
    rps: float


@dataclass
class Side:
    timing: Timing
    statements: int


@dataclass
class BackendResult:
    backend: str
    leaves: int
    dossier_bytes: int
    floor_bytes: int
    identical: str
    dossier: Side
    floor: Side


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least q of the samples at or below it."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def run_requests(
    send: Callable[[], Awaitable[None]], total: int, concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            await send()
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


async def measure(send: Callable[[], Awaitable[None]], args: argparse.Namespace) -> Timing:
    await run_requests(send, args.warmup, 1)
    latencies, _ = await run_requests(send, args.requests, 1)
    _, elapsed = await run_requests(send, args.requests, args.concurrency)
    return Timing(
        percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000, args.requests / elapsed
    )


def count_leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(count_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_leaves(v) for v in value)
    return 1


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = first_difference(a.get(key), b.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


async def in_process_checks(url: str, seeded: Seeded) -> tuple[int, int, dict[str, Any], dict[str, Any]]:
    """Statement counts of one Dossier request and one floor request, and both cards."""
    app = bench_app(url)
    logger = logging.getLogger("tortoise.db_client")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            variables = {"id": to_base64("Contact", seeded.contact_id)}
            headers = {"Authorization": f"Bearer {seeded.api_key}"}
            await client.post("/graphql", json={"query": CARD_QUERY, "variables": variables}, headers=headers)
            counter, old_level = StatementCounter(), logger.level
            logger.addHandler(counter)
            logger.setLevel(logging.DEBUG)
            try:
                response = await client.post(
                    "/graphql", json={"query": CARD_QUERY, "variables": variables}, headers=headers
                )
            finally:
                logger.removeHandler(counter)
                logger.setLevel(old_level)
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"the card query failed: {response.status_code} {body.get('errors')}")
        db = await FloorDB(url).open()
        try:
            floor = await floor_card(db, seeded.api_key, seeded.contact_id)
        finally:
            await db.close()
        assert floor is not None
    return counter.count, db.statements, body["data"]["contact"], floor


# --------------------------------------------------------------------------------------
# One backend, start to finish
# --------------------------------------------------------------------------------------


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> BackendResult | None:
    if backend == "postgres":
        try:
            await _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            await _pg_admin(f"CREATE DATABASE {PG_DATABASE}")
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"postgres: skipped, {PG_SERVER} is not reachable ({exc})", file=sys.stderr)
            return None
        url = f"{PG_SERVER}/{PG_DATABASE}"
    else:
        url = f"sqlite://{workdir / 'bench.db'}"
    try:
        await open_database(url)
        try:
            seeded = await seed()
        finally:
            await close_database()
        dossier_statements, floor_statements, card, floor = await in_process_checks(url, seeded)
        diff = first_difference(card, floor)
        identical = "yes" if diff is None else f"NO, first difference at {diff}"

        server = ServerProcess(__file__, "--database-url", url)
        try:
            limits = httpx.Limits(
                max_connections=args.concurrency, max_keepalive_connections=args.concurrency
            )
            async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:
                await server.ready()
                headers = {"Authorization": f"Bearer {seeded.api_key}"}
                payload = {"query": CARD_QUERY, "variables": {"id": to_base64("Contact", seeded.contact_id)}}
                sizes: dict[str, int] = {}

                async def dossier() -> None:
                    response = await client.post("/graphql", json=payload, headers=headers)
                    if response.status_code != 200 or b'"errors"' in response.content:
                        raise RuntimeError(f"dossier: {response.status_code} {response.text[:300]}")
                    sizes["dossier"] = len(response.content)

                async def floor_request() -> None:
                    response = await client.get(f"/floor/card?id={seeded.contact_id}", headers=headers)
                    if response.status_code != 200:
                        raise RuntimeError(f"floor: {response.status_code} {response.text[:300]}")
                    sizes["floor"] = len(response.content)

                dossier_timing = await measure(dossier, args)
                floor_timing = await measure(floor_request, args)
        finally:
            server.stop()
    finally:
        if backend == "postgres":
            await _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    return BackendResult(
        backend,
        count_leaves(card),
        sizes["dossier"],
        sizes["floor"],
        identical,
        Side(dossier_timing, dossier_statements),
        Side(floor_timing, floor_statements),
    )


def report(results: list[BackendResult], args: argparse.Namespace) -> None:
    print(
        f"\nDossier full-card benchmark: {args.requests} requests per measurement,"
        f" after {args.warmup} warm-up requests;"
        f" latency at concurrency 1, req/s at concurrency {args.concurrency}."
        "\nBoth endpoints over HTTP on loopback, served by the same uvicorn process (a subprocess);"
        " client: httpx in this process."
        f"\nMachine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}.\n"
    )
    header = f"{'backend':9} {'endpoint':9} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'statements':>10}"
    print(header)
    print("-" * len(header))
    for r in results:
        for name, side in (("dossier", r.dossier), ("floor", r.floor)):
            t = side.timing
            print(
                f"{r.backend:9} {name:9} {t.p50_ms:8.2f} {t.p99_ms:8.2f} {t.rps:8.1f} {side.statements:10d}"
            )
        d, f = r.dossier, r.floor
        p50, p99 = d.timing.p50_ms / f.timing.p50_ms, d.timing.p99_ms / f.timing.p99_ms
        rps, statements = d.timing.rps / f.timing.rps, d.statements / f.statements
        print(f"{r.backend:9} {'ratio':9} {p50:7.1f}x {p99:7.1f}x {rps:7.2f}x {statements:9.2f}x")
    print("\nratio = dossier / floor (for req/s, below 1 means Dossier serves fewer cards per second).")
    for r in results:
        print(
            f"{r.backend}: card of {r.leaves} leaf values; response {r.dossier_bytes} bytes (dossier),"
            f" {r.floor_bytes} bytes (floor); same JSON: {r.identical}"
        )


async def main_async(args: argparse.Namespace) -> int:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    with tempfile.TemporaryDirectory(prefix="dossier-bench-") as tmp:
        for backend in backends:
            started = time.perf_counter()
            print(f"{backend}: seeding and measuring ...", file=sys.stderr, flush=True)
            result = await run_backend(backend, args, Path(tmp))
            if result is None:
                if args.backend == "postgres":
                    return 1
                continue
            results.append(result)
            print(f"{backend}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if results:
        report(results, args)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement (default 200)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight for req/s (default 8)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests per endpoint (default 20)")
    parser.add_argument("--serve-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fd is not None:
        serve(args.serve_fd, bench_app(args.database_url))
        return 0
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--requests and --concurrency must be at least 1, --warmup at least 0")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
