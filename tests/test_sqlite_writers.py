"""Two processes writing one SQLite file: the server taking notes while `dossier account create` runs.

Before every SQLite transaction began with BEGIN IMMEDIATE (crm/sqlite.py), a transaction that
read and then wrote failed with "database is locked" whenever the other process had committed
in between, busy timeout or not: a stream of `addNote` mutations made most CLI runs fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from tortoise import Tortoise

from crm.models import Account, Note
from crm.services import accounts
from dossier import Settings, create_app
from tests.conftest import Api, make_tenant

CLI_RUNS = 3
ADD_NOTE = "mutation($i: AddNoteInput!) { addNote(input: $i) { id } }"
CREATE_CONTACT = "mutation($i: CreateContactInput!) { createContact(input: $i) { id } }"
# `dossier account create` as its console script runs it, in a process of its own.
CLI = [sys.executable, "-c", "import sys; from dossier.cli import main; sys.exit(main())"]


@pytest.fixture
async def sqlite_api(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[tuple[Api, str]]:
    """The app on a SQLite file of its own (whatever DOSSIER_TEST_BACKENDS says), and that file's URL."""
    target = tmp_path / "shared.db"
    shutil.copy(sqlite_template, target)
    url = f"sqlite://{target}"
    settings = Settings(database_url=url, run_dispatcher=False, load_entry_points=False)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield Api(app, client), url


async def run_cli(url: str, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env["DOSSIER_DATABASE_URL"] = url
    process = await asyncio.create_subprocess_exec(
        *CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, output.decode(errors="replace")


async def test_cli_and_server_write_the_same_file_at_once(sqlite_api: tuple[Api, str]) -> None:
    api, url = sqlite_api
    acme = await make_tenant("Acme")
    rep = api.as_(acme.rep_key)
    contact = (await rep.data(CREATE_CONTACT, {"i": {"firstName": "Ada"}}))["createContact"]["id"]

    cli_runs = [
        asyncio.create_task(
            run_cli(url, "account", "create", f"Tenant {n}", "--email", f"admin{n}@example.com")
        )
        for n in range(CLI_RUNS)
    ]
    answers: list[dict[str, Any]] = []

    async def add_notes(writer: int) -> None:
        # The server keeps writing for as long as any CLI process may be writing.
        while not all(run.done() for run in cli_runs) or len(answers) < 20:
            body = {"i": {"contactId": contact, "body": f"<p>note {writer}.{len(answers)}</p>"}}
            answers.append(await rep.post(ADD_NOTE, body))

    await add_notes(1)
    results = [run.result() for run in cli_runs]

    failed_cli = [output.strip().splitlines()[-1] for code, output in results if code != 0]
    failed_notes = [answer["errors"][0]["message"] for answer in answers if answer.get("errors")]
    assert failed_cli == [], f"{len(failed_cli)} of {CLI_RUNS} CLI runs failed: {failed_cli}"
    assert failed_notes == [], f"{len(failed_notes)} of {len(answers)} addNote failed: {failed_notes[:3]}"
    assert all("API key (shown once" in output for _, output in results)
    assert await Account.filter(name__startswith="Tenant ").count() == CLI_RUNS
    assert await Note.all().count() == len(answers)


CARD = "query($id: ID!) { contact(id: $id) { firstName notes { id } } }"


async def test_reads_go_on_while_another_process_holds_the_write_lock(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads take no lock; a write waits DOSSIER_SQLITE_BUSY_TIMEOUT and then fails, and after
    that the server can still write (tortoise kept its connection lock when BEGIN failed)."""
    target = tmp_path / "locked.db"
    shutil.copy(sqlite_template, target)
    env = {"DOSSIER_DATABASE_URL": f"sqlite://{target}", "DOSSIER_SQLITE_BUSY_TIMEOUT": "0.2"}
    settings = replace(Settings.from_env(env), run_dispatcher=False, load_entry_points=False)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            rep = Api(app, client).as_((await make_tenant("Acme")).rep_key)
            contact = (await rep.data(CREATE_CONTACT, {"i": {"firstName": "Ada"}}))["createContact"]["id"]
            note = {"i": {"contactId": contact, "body": "<p>hello</p>"}}
            _, rows = await Tortoise.get_connection("default").execute_query("PRAGMA busy_timeout")
            assert rows[0][0] == 200

            other_process = sqlite3.connect(target, isolation_level=None)
            other_process.execute("BEGIN IMMEDIATE")
            # A minute on: this request would also stamp the key's lastUsedAt, which needs the lock.
            later = accounts._clock() + 2 * accounts.LAST_USED_EVERY
            monkeypatch.setattr(accounts, "_clock", lambda: later)
            try:
                read = await asyncio.wait_for(rep.data(CARD, {"id": contact}), timeout=10)
                refused = await asyncio.wait_for(rep.post(ADD_NOTE, note), timeout=10)
            finally:
                other_process.execute("ROLLBACK")
                other_process.close()
            written = await asyncio.wait_for(rep.data(ADD_NOTE, note), timeout=10)

    assert read["contact"] == {"firstName": "Ada", "notes": []}
    assert refused["data"] is None
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "DATABASE_BUSY", error
    assert "retry" in error["message"]
    assert written["addNote"]["id"]
