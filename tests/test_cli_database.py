"""`dossier` with a database URL it cannot use: one line on stderr saying what is wrong and what
to do, exit 2, within seconds — never a hang, never a traceback (issue 10, rough edges).

Each case runs the real `dossier` executable in a subprocess, for every command that opens the
database, with a timeout: before the check, a SQLite path that could not be opened hung
`migrate`, `serve` and `account create` forever, and a bad scheme or an unreachable PostgreSQL
printed a traceback.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import pytest

from crm.db import database_problem, migrate_database, redacted
from tests.conftest import IN_CI, PG_SERVER

TIMEOUT = 30.0  # seconds a command may take before the test calls it a hang
COMMANDS: dict[str, list[str]] = {
    "migrate": ["migrate"],
    "serve": ["serve", "--port", "1"],  # never reached: the check refuses before binding
    "account create": ["account", "create", "Acme", "--email", "boss@acme.example.com"],
    "key list": ["key", "list", "--account", "Acme"],
    "worker": ["worker"],
}
# The commands the issue names; each case runs them all (the others share the same check).
NAMED = ("migrate", "serve", "account create")


def dossier_command() -> list[str]:
    beside = Path(sys.executable).with_name("dossier")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("dossier")
    return [found] if found else [sys.executable, "-m", "dossier.cli"]


def run_all(
    url: str, cwd: Path, prefix: Sequence[str] = (), commands: Sequence[str] = NAMED
) -> dict[str, tuple[int, str, str, float]]:
    """The commands against `url`, all at once: exit code, stdout, stderr, seconds taken."""
    env = {**os.environ, "DOSSIER_DATABASE_URL": url}
    env.pop("DOSSIER_REDIS_URL", None)
    started = time.monotonic()
    procs = {
        name: subprocess.Popen(
            [*prefix, *dossier_command(), *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in COMMANDS.items()
        if name in commands
    }
    results = {}
    try:
        for name, proc in procs.items():
            try:
                out, err = proc.communicate(timeout=max(1.0, TIMEOUT - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                pytest.fail(f"`dossier {name}` with {url} still ran after {TIMEOUT:g} s (a hang)")
            results[name] = (proc.returncode, out, err, time.monotonic() - started)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def assert_refused(
    url: str,
    cwd: Path,
    *expected: str,
    prefix: Sequence[str] = (),
    secret: str = "",
    commands: Sequence[str] = NAMED,
) -> None:
    for name, (code, out, err, seconds) in run_all(url, cwd, prefix, commands).items():
        lines = err.strip().splitlines()
        assert code == 2, f"`dossier {name}`: exit {code}, stderr {err!r}"
        assert len(lines) == 1, f"`dossier {name}` printed more than one line: {err!r}"
        assert "Traceback" not in err and out == "", (name, out, err)
        line = lines[0]
        assert line.startswith("error: database "), line
        for fragment in expected:
            assert fragment in line, f"`dossier {name}`: {fragment!r} not in {line!r}"
        if secret:
            assert secret not in line, line
        assert seconds < TIMEOUT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- SQLite ------------------------------------------------------------------------------------


def test_a_sqlite_file_in_a_missing_folder_is_refused_with_the_folder_to_create(tmp_path: Path) -> None:
    assert_refused("sqlite:///nonexistent/dir/x.db", tmp_path, "the folder /nonexistent/dir does not exist",
                   "mkdir -p /nonexistent/dir", commands=(*NAMED, "key list"))  # fmt: skip
    assert not Path("/nonexistent").exists()  # the check creates nothing


def test_a_sqlite_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "data.db"
    folder.mkdir()
    assert_refused(f"sqlite://{folder}", tmp_path, f"{folder} is a folder, not a database file")
    assert list(folder.iterdir()) == []


def test_a_relative_sqlite_path_is_named_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    problem = asyncio.run(database_problem("sqlite://nowhere/dossier.db"))
    assert problem is not None and f"the folder {tmp_path / 'nowhere'} does not exist" in problem


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, just some text that SQLite will not accept as a header\n" * 10)
    problem = asyncio.run(database_problem(f"sqlite://{notes}"))
    assert problem is not None and f"{notes} is not a SQLite database" in problem
    assert notes.read_text().startswith("not a database")


def _without_file_permission_bypass() -> list[str]:
    """A prefix that runs a command without root's permission to ignore file modes."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_a_folder_without_write_permission_is_refused(tmp_path: Path) -> None:
    prefix = _without_file_permission_bypass()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert_refused(f"sqlite://{locked}/x.db", tmp_path, f"no permission to write in the folder {locked}",
                       prefix=prefix)  # fmt: skip
        # A database made before the folder was locked: SQLite still needs its -wal and -shm there.
        locked.chmod(0o755)
        asyncio.run(migrate_database(f"sqlite://{locked}/x.db"))
        for leftover in locked.glob("x.db-*"):
            leftover.unlink()
        locked.chmod(0o555)
        assert_refused(f"sqlite://{locked}/x.db", tmp_path, f"no permission to write in the folder {locked}",
                       prefix=prefix, commands=("migrate",))  # fmt: skip
    finally:
        locked.chmod(0o755)


def test_a_database_file_without_write_permission_is_refused(tmp_path: Path) -> None:
    prefix = _without_file_permission_bypass()
    path = tmp_path / "read-only.db"
    asyncio.run(migrate_database(f"sqlite://{path}"))
    path.chmod(0o444)
    assert_refused(f"sqlite://{path}", tmp_path, f"no permission to read and write {path}", prefix=prefix,
                   commands=("migrate", "account create"))  # fmt: skip


def test_the_sqlite_client_fails_instead_of_hanging_when_the_file_cannot_be_opened(tmp_path: Path) -> None:
    """Past the CLI's check (a server embedding create_app, a path gone after the check): tortoise
    kept its connection lock after failing to open the file, and the next statement waited on it
    forever. Now the error comes back."""
    folder = tmp_path / "a-folder.db"
    folder.mkdir()

    async def attempt() -> None:
        try:
            await asyncio.wait_for(migrate_database(f"sqlite://{folder}"), timeout=TIMEOUT)
        finally:
            # aiosqlite stops the thread of a connection that failed to open by posting to this
            # loop: keep the loop until that thread is gone, or it posts to a closed loop.
            for _ in range(500):
                if not any(t.name.endswith("(_connection_worker_thread)") for t in threading.enumerate()):
                    break
                await asyncio.sleep(0.01)

    with pytest.raises(Exception, match="unable to open database file"):
        asyncio.run(attempt())


# -- other schemes -----------------------------------------------------------------------------


def test_an_unsupported_scheme_names_the_supported_ones(tmp_path: Path) -> None:
    assert_refused("mysql://dossier:hunter2@127.0.0.1/dossier", tmp_path, "mysql:// is not supported",
                   "sqlite://", "postgres://", "postgresql://", secret="hunter2")  # fmt: skip


def test_a_url_without_a_scheme_is_refused() -> None:
    problem = asyncio.run(database_problem("dossier.db"))
    assert problem is not None and "not a database URL" in problem and "sqlite://" in problem


# -- PostgreSQL --------------------------------------------------------------------------------


def test_an_unreachable_postgres_is_named_by_host_and_port_without_the_password(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgres://dossier:s3cret-pw@127.0.0.1:{port}/crm"
    assert_refused(url, tmp_path, f"PostgreSQL at 127.0.0.1:{port}", "connection refused",
                   f"postgres://dossier:***@127.0.0.1:{port}/crm", secret="s3cret-pw",
                   commands=(*NAMED, "worker"))  # fmt: skip
    problem = asyncio.run(database_problem(f"postgresql://127.0.0.1:{port}/crm"))
    assert problem is not None and "connection refused" in problem


def test_postgres_that_does_not_answer_is_given_up_after_the_connect_timeout() -> None:
    """A server that accepts TCP but never speaks: the check stops waiting."""

    async def silent_server() -> str | None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            started = time.monotonic()
            problem = await database_problem(f"postgres://u:pw@127.0.0.1:{port}/crm", timeout=0.5)
            assert time.monotonic() - started < 5
            return problem

    problem = asyncio.run(silent_server())
    assert problem is not None and "no answer from PostgreSQL at 127.0.0.1:" in problem
    assert "within 0.5 s" in problem and "pw" not in problem.replace("postgres", "")


def _local_postgres() -> str:
    async def ping() -> None:
        conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=5)
        await conn.close()

    try:
        asyncio.run(ping())
    except (OSError, asyncpg.PostgresError) as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true and is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}: {exc}")
    return PG_SERVER


def test_a_missing_postgres_database_says_how_to_create_it(tmp_path: Path) -> None:
    server = _local_postgres()
    assert_refused(f"{server}/dossier_no_such_database", tmp_path,
                   "the database 'dossier_no_such_database' does not exist", "createdb")  # fmt: skip


def test_a_refused_postgres_user_is_named(tmp_path: Path) -> None:
    server = _local_postgres()
    host = server.split("@", 1)[-1]
    url = f"postgres://dossier_no_such_role:topsecret@{host}/postgres"
    assert_refused(url, tmp_path, "refused user 'dossier_no_such_role'", "check the user and password",
                   secret="topsecret")  # fmt: skip


def test_a_reachable_database_passes_the_check(tmp_path: Path) -> None:
    assert asyncio.run(database_problem(f"sqlite://{tmp_path / 'new.db'}")) is None
    assert asyncio.run(database_problem("sqlite://:memory:")) is None


def test_passwords_are_redacted() -> None:
    assert redacted("postgres://u:pa55@h:5432/db") == "postgres://u:***@h:5432/db"
    assert redacted("postgres://u@h/db") == "postgres://u@h/db"
    assert "pa55" not in redacted("postgres://u:pa55@h:notaport/db")
