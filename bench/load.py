"""Load generators for the benchmarks: wrk when it is installed, httpx otherwise.

The client shares the machine's cores with the server, so the lightest honest client wins:
wrk (C, one thread, epoll) costs the server far less CPU than an asyncio client in Python.
Either way every response is checked: wrk runs a Lua script that counts any response whose
status is not 200 or whose body carries GraphQL `"errors"`, and a run with one is an error.

Runs last a fixed time (`seconds`), not a fixed number of requests, so a slow endpoint and a
fast one take the same wall-clock time and the whole benchmark has a predictable length.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ERRORS_MARK = '"errors":'  # a GraphQL response with errors; the floor never writes it


@dataclass(frozen=True)
class Target:
    """One HTTP request to send again and again."""

    url: str
    method: str = "GET"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """What timed requests measured: every request's latency (ms), as the client saw it."""

    connections: int
    seconds: float
    latencies_ms: list[float]  # one per completed request

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 0.99)

    @property
    def mean_ms(self) -> float:
        return sum(self.latencies_ms) / len(self.latencies_ms)

    @property
    def rps(self) -> float:
        """Requests per second by Little's law: connections / mean latency.

        Each connection sends its next request as soon as the last one is answered, so the
        run is a closed system with no think time and throughput = connections / mean latency.
        Counting completions instead (requests / seconds) is quantised when requests are slow:
        a server interleaving 8 slow requests finishes them in bursts of 8, and a 4 s run of
        a 1 s-per-burst endpoint counts 24 or 32. Both agree on fast endpoints (`counted_rps`).
        """
        return self.connections / (self.mean_ms / 1000)

    @property
    def counted_rps(self) -> float:
        return self.requests / self.seconds


def merged(runs: list[Run]) -> Run:
    """Several runs of the same requests (e.g. the halves of a mirrored A B B A) as one."""
    return Run(runs[0].connections, sum(r.seconds for r in runs), [x for r in runs for x in r.latencies_ms])


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least q of the samples at or below it."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class LoadError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------------------

# `bad` is global in each thread's Lua state so that done() can read it through thread:get.
# done() prints the latency histogram (`latency(i)` is the i-th non-empty bucket: µs, count).
WRK_SCRIPT = """
wrk.method = {method}
wrk.body = {body}
{headers}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status ~= 200 or string.find(body, {mark}, 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("BENCH-RESULT %d %d %d %d\\n", summary.requests, summary.duration, b,
    e.connect + e.read + e.write + e.status + e.timeout))
  local parts = {{}}
  for i = 1, #latency do
    local us, count = latency(i)
    parts[#parts + 1] = string.format("%d:%d", us, count)
  end
  io.write("BENCH-LATENCY " .. table.concat(parts, " ") .. "\\n")
end
"""


def undo_wrk_correction(
    histogram: dict[int, int], requests: int, micros: int, connections: int
) -> dict[int, int]:
    """The latencies wrk measured, before its coordinated-omission correction.

    wrk 4 adds made-up samples after a run (`stats_correct` in wrk.c): for every sample of
    n >= 2·interval µs, with interval = run time / (requests / connections), one more at
    n - interval, n - 2·interval, … while above interval. That models an open-loop client
    sending at a fixed rate; ours is closed-loop (a connection waits for its answer), so the
    made-up samples would inflate p99 and the mean. Walking down from the largest bucket,
    each bucket's own count is what is left after the samples made from the buckets above.
    """
    if sum(histogram.values()) == requests or requests // connections == 0:
        return dict(histogram)  # nothing was added
    interval = micros // (requests // connections)
    measured: dict[int, int] = {}
    above: dict[int, int] = defaultdict(int)  # by us % interval: measured samples above this bucket
    for us in sorted(histogram, reverse=True):
        count = histogram[us] - (above[us % interval] if us > interval else 0)
        measured[us] = count
        above[us % interval] += count
    if sum(measured.values()) != requests or min(measured.values()) < 0:
        raise LoadError("could not separate wrk's measured latencies from its corrected ones")
    return {us: n for us, n in measured.items() if n}


def _lua_string(text: str) -> str:
    """A Lua long-bracket literal holding `text` verbatim, whatever brackets it contains."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def wrk_script(target: Target) -> str:
    headers = "\n".join(
        f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in target.headers.items()
    )
    return WRK_SCRIPT.format(
        method=_lua_string(target.method),
        body=_lua_string(target.body.decode()) if target.body else "nil",
        headers=headers,
        mark=_lua_string(ERRORS_MARK),
    )


async def wrk_run(target: Target, connections: int, seconds: float, warmup: bool = False) -> Run | None:
    """`connections` keep-alive connections on one wrk thread for `seconds`.

    wrk stops on time, abandoning requests in flight: wait for the server to finish them
    (`ServerProcess.wait_idle`) before measuring anything else. A warm-up may complete none.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(target))
    try:
        proc = await asyncio.create_subprocess_exec(
            "wrk",
            "--threads",
            "1",  # one client thread: the client shares the cores with the server
            "--connections",
            str(connections),
            "--duration",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "60s",
            "--script",
            script.name,
            target.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
    finally:
        Path(script.name).unlink()
    lines = {line.split(" ", 1)[0]: line for line in out.decode().splitlines() if line.startswith("BENCH-")}
    if proc.returncode != 0 or "BENCH-RESULT" not in lines:
        raise LoadError(f"wrk failed ({proc.returncode}): {err.decode()[-500:]} {out.decode()[-500:]}")
    requests, micros, bad, socket_errors = (int(x) for x in lines["BENCH-RESULT"].split()[1:])
    if bad or socket_errors:
        raise LoadError(f"wrk: {bad} bad responses and {socket_errors} socket errors from {target.url}")
    if not requests:
        if warmup:
            return None
        raise LoadError(f"wrk: no request to {target.url} completed within {seconds:g} s")
    buckets = (pair.split(":") for pair in lines["BENCH-LATENCY"].split()[1:])
    histogram = undo_wrk_correction({int(us): int(n) for us, n in buckets}, requests, micros, connections)
    latencies = [us / 1000 for us, n in sorted(histogram.items()) for _ in range(n)]
    return Run(connections, micros / 1e6, latencies)


# --------------------------------------------------------------------------------------
# httpx (the fallback when wrk is not installed)
# --------------------------------------------------------------------------------------


async def httpx_run(target: Target, connections: int, seconds: float, warmup: bool = False) -> Run | None:
    """`connections` asyncio tasks, one request in flight each, for `seconds`."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.request(
                    target.method, target.url, content=target.body or None, headers=target.headers
                )
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200 or ERRORS_MARK.encode() in response.content:
                    raise LoadError(f"httpx: {response.status_code} {response.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return Run(connections, elapsed, [x * 1000 for x in latencies])


# --------------------------------------------------------------------------------------
# The client a benchmark uses
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadClient:
    """`throughput` at N connections and `latency` at one, each with the named tool."""

    throughput_tool: str  # "wrk" or "httpx"
    latency_tool: str

    @classmethod
    def pick(cls, wanted: str = "auto") -> LoadClient:
        """wrk for both when installed (or asked for), httpx otherwise."""
        if wanted == "auto":
            wanted = "wrk" if shutil.which("wrk") else "httpx"
        if wanted == "wrk" and not shutil.which("wrk"):
            raise LoadError("wrk is not on PATH (Debian/Ubuntu: apt-get install wrk)")
        return cls(wanted, wanted)

    def describe(self) -> str:
        names = {"wrk": "wrk (one thread)", "httpx": "httpx (asyncio, in the benchmark's own process)"}
        if self.throughput_tool == self.latency_tool:
            return names[self.throughput_tool]
        return f"{names[self.throughput_tool]} for req/s, {names[self.latency_tool]} for latency"

    async def _run(self, tool: str, target: Target, connections: int, seconds: float) -> Run:
        run = await (wrk_run if tool == "wrk" else httpx_run)(target, connections, seconds)
        assert run is not None  # only a warm-up may complete nothing
        return run

    async def warm_up(self, target: Target, connections: int, seconds: float) -> None:
        """Load for `seconds`, results dropped: caches, connection pools and code paths warm."""
        await (wrk_run if self.throughput_tool == "wrk" else httpx_run)(
            target, connections, seconds, warmup=True
        )

    async def throughput(self, target: Target, connections: int, seconds: float) -> Run:
        return await self._run(self.throughput_tool, target, connections, seconds)

    async def latency(self, target: Target, seconds: float) -> Run:
        return await self._run(self.latency_tool, target, 1, seconds)


def json_target(url: str, payload: object, headers: dict[str, str]) -> Target:
    """A POST of `payload` as JSON, e.g. a GraphQL request."""
    return Target(url, "POST", json.dumps(payload).encode(), {"Content-Type": "application/json", **headers})
