"""The filter corpus (bench/filters.py) side by side: another checkout's code next to this one's.

    git worktree add /tmp/before <commit>
    python bench/filters_ab.py /tmp/before [--database dossier_scale] [--only 6,8] [--requests 15]

One server from each checkout on the same seeded database (bench/filters.py seeds it; this
script only reuses it, run after `python bench/filters.py --requests 0` once), and each filter's
requests alternate between the two, one at a time, the order swapped every round, so whatever
else the machine does weighs on both alike. Prints each side's p50 and their ratio. On a noisy
machine (bench/README.md: the same filter's p50 moved 20-40 % between runs minutes apart) this
is the figure a change can be judged by. Not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/filters_ab.py` puts bench/, not the project, on the path
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.filters import corpus_arguments, filter_probes, load_refs, parse_corpus_arguments  # noqa: E402
from bench.load import percentile  # noqa: E402
from bench.seed_scale import _existing_marker, seed_database  # noqa: E402
from bench.server import ServerProcess  # noqa: E402


async def main_async(args: argparse.Namespace) -> int:
    if args.requests < 1:
        print("--requests must be at least 1: each side's p50 is taken over them", file=sys.stderr)
        return 2
    before = Path(args.before).resolve()
    if not (before / "bench" / "seed_scale.py").is_file():
        print(f"{before} is not a Dossier checkout (no bench/seed_scale.py)", file=sys.stderr)
        return 2
    # Only a finished seed is used (never a new one): its marker says its sizes.
    marker = await _existing_marker(args.database) or ""
    sizes = dict(part.split("=", 1) for part in marker.partition(": ")[2].split() if "=" in part)
    if not marker.startswith("seed_scale complete") or set(sizes) != {"contacts", "events"}:
        print(f"{args.database} has no finished seed: run bench/filters.py first", file=sys.stderr)
        return 2
    db = await seed_database(args.database, int(sizes["contacts"]), int(sizes["events"]), reuse=True)
    refs = await load_refs(db)
    only = {int(n) for n in args.only.split(",")} if args.only else None
    probes = filter_probes(refs, only)
    roots = (before, ROOT)
    servers = [
        ServerProcess(str(root / "bench" / "seed_scale.py"), "--database-url", db.url) for root in roots
    ]
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Authorization": f"Bearer {db.api_key}"}
    try:
        clients = [httpx.AsyncClient(base_url=s.base_url, limits=limits, timeout=120) for s in servers]
        for server in servers:
            await server.ready()
        print(f"{'filter':56} {'before p50':>10} {'after p50':>10} {'after/before':>13}")
        for probe in probes:
            samples: list[list[float]] = [[], []]
            for round_ in range(args.warmup + args.requests):
                for side in (0, 1) if round_ % 2 else (1, 0):
                    start = time.perf_counter()
                    response = await clients[side].post("/graphql", json=probe.payload, headers=headers)
                    elapsed = time.perf_counter() - start
                    body = response.json()
                    if response.status_code != 200 or body.get("errors"):
                        raise RuntimeError(f"{probe.label} ({roots[side]}): {str(body)[:300]}")
                    if round_ >= args.warmup:
                        samples[side].append(elapsed * 1000)
            old, new = (percentile(s, 0.5) for s in samples)
            print(f"{probe.label[:56]:56} {old:10.1f} {new:10.1f} {new / old:12.2f}x", flush=True)
        for client in clients:
            await client.aclose()
    finally:
        for server in servers:
            server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="the other checkout (a git worktree of the code to compare with)")
    corpus_arguments(parser, requests=15)
    return asyncio.run(main_async(parse_corpus_arguments(parser, argv)))


if __name__ == "__main__":
    raise SystemExit(main())
