"""A benchmark's server in a subprocess of its own, so server and client do not share a core.

`ServerProcess`: the parent binds a free port on 127.0.0.1 and hands the socket to the child,
which runs the same script with `--serve-fd FD` and whatever else tells it which app to serve.
`CommandServer`: any command that binds a port of its own (e.g. `dossier serve --workers 2`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def serve(fd: int, app: Any, *, lifespan: str = "on") -> None:
    """In the child: serve `app` on the inherited socket until SIGINT."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan)
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it stopped on
        asyncio.run(server.serve(sockets=[socket.socket(fileno=fd)]))


class Server:
    """A server the parent started: wait until it answers, stop it gracefully."""

    base_url: str
    proc: subprocess.Popen[bytes]
    _log: IO[bytes] | None = None  # the server's stderr, when kept out of the benchmark's output

    def _start(self, cmd: list[str], env: dict[str, str] | None, quiet: bool, **popen: Any) -> None:
        # quiet: a load generator stopping mid-request makes uvicorn log ClientDisconnect
        # tracebacks; they go to a file, shown only if the server fails to start.
        self._log = tempfile.TemporaryFile() if quiet else None  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stderr=self._log, **popen
        )

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return "\n" + self._log.read().decode(errors="replace")[-2000:]

    async def ready(self, path: str = "/healthz", ok: tuple[int, ...] = (200,)) -> None:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"a benchmark server exited with {self.proc.returncode}{self._log_tail()}"
                    )
                try:
                    if (await client.get(path)).status_code in ok:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)  # start-up poll, not a wait for work
        raise RuntimeError(f"a benchmark server did not start within 30 s{self._log_tail()}")

    async def wait_idle(self, timeout: float = 60) -> None:
        """Wait until the server's processes stop using CPU.

        A load generator that stops on time (wrk) abandons the requests in flight, and the
        server keeps computing them; the next measurement must not share the cores with them.
        Linux only (reads /proc); elsewhere it returns at once.
        """
        deadline = time.monotonic() + timeout
        before = sum(cpu_ticks(self.proc.pid).values())
        while before and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # a sampling interval, not a wait for work to finish
            after = sum(cpu_ticks(self.proc.pid).values())
            if after - before <= 2:  # under ~10% of a core over 0.2 s
                return
            before = after

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully (lifespan runs)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()


def cpu_ticks(pid: int) -> dict[int, int]:
    """CPU time (clock ticks) used so far by `pid` and each of its child processes; {} without /proc."""
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)"
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            ticks[int(stat.parent.name)] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


class ServerProcess(Server):
    """In the parent: start `script --serve-fd FD *args` (with `env` added to ours)."""

    def __init__(
        self, script: str, *args: str, env: dict[str, str] | None = None, quiet: bool = False
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))  # a free port, held open and handed to the child
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        fd = self._sock.fileno()
        cmd = [sys.executable, str(Path(script).resolve()), "--serve-fd", str(fd), *args]
        self._start(cmd, env, quiet, pass_fds=(fd,))

    def stop(self) -> None:
        super().stop()
        self._sock.close()


def free_port() -> int:
    """A port nothing listens on right now, for a command that binds its own socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CommandServer(Server):
    """In the parent: start `cmd`, which serves on 127.0.0.1:`port` (with `env` added to ours)."""

    def __init__(
        self, cmd: list[str], port: int, env: dict[str, str] | None = None, quiet: bool = False
    ) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self._start(cmd, env, quiet)


# The PostgreSQL server the benchmarks create their databases on.
PG_SERVER = os.environ.get("DOSSIER_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


async def pg_admin(sql: str) -> None:
    """One statement on the server's `postgres` database (CREATE/DROP DATABASE and the like)."""
    import asyncpg

    conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fresh_database(backend: str, pg_database: str, sqlite_file: Path) -> str | None:
    """The URL of an empty database for one run: `pg_database` dropped and created again on
    PG_SERVER, or a SQLite file path; None (and why, on stderr) when PostgreSQL does not answer."""
    if backend != "postgres":
        return f"sqlite://{sqlite_file}"
    import asyncpg

    try:
        await pg_admin(f"DROP DATABASE IF EXISTS {pg_database} WITH (FORCE)")
        await pg_admin(f"CREATE DATABASE {pg_database}")
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"postgres: skipped, {PG_SERVER} is not reachable ({exc})", file=sys.stderr)
        return None
    return f"{PG_SERVER}/{pg_database}"
