"""The `dossier` command as a user runs it: accounts, users, keys, migrations, SDL."""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path

import pytest

from crm.db import close_database, open_database
from crm.services.accounts import authenticate
from dossier.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite://{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DOSSIER_DATABASE_URL", url)
    return url


def _actor_for(url: str, key: str) -> object:
    async def lookup() -> object:
        await open_database(url)
        try:
            return await authenticate(key)
        finally:
            await close_database()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, lookup()).result()


def test_account_and_user_create_print_a_working_key_last(
    database: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["account", "create", "Acme", "--email", "boss@acme.example.com"]) == 0
    admin_key = capsys.readouterr().out.strip().splitlines()[-1]
    assert admin_key.startswith("dsk_")
    admin = _actor_for(database, admin_key)
    assert admin is not None and admin.role.value == "admin"  # type: ignore[attr-defined]

    assert main(["user", "create", "--account", "Acme", "--name", "Rita", "--email", "rita@acme.example.com",
                 "--role", "rep"]) == 0  # fmt: skip
    rep_key = capsys.readouterr().out.strip().splitlines()[-1]
    rep = _actor_for(database, rep_key)
    assert rep is not None and rep.role.value == "rep" and rep.name == "Rita"  # type: ignore[attr-defined]
    assert rep.account_id == admin.account_id  # type: ignore[attr-defined]


def test_mistakes_are_reported_with_a_code_and_exit_2(database: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["account", "create", "Acme", "--email", "boss@acme.example.com"]) == 0
    capsys.readouterr()
    assert main(["account", "create", "Acme", "--email", "other@acme.example.com"]) == 2
    assert "CONFLICT" in capsys.readouterr().err
    assert main(["account", "create", "Beta", "--email", "not-an-email"]) == 2
    assert "BAD_USER_INPUT" in capsys.readouterr().err
    assert main(["user", "create", "--account", "Nope", "--name", "X", "--email", "x@example.com",
                 "--role", "rep"]) == 2  # fmt: skip
    assert "NOT_FOUND" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "user",
                "create",
                "--account",
                "Acme",
                "--name",
                "X",
                "--email",
                "x@example.com",
                "--role",
                "king",
            ]
        )


def test_migrate_creates_and_is_idempotent(database: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert Path(database.removeprefix("sqlite://")).exists()


def test_schema_prints_the_committed_sdl(capsys: pytest.CaptureFixture) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out.strip() == (ROOT / "schema.graphql").read_text().strip()


def test_worker_refuses_sqlite_with_a_clear_reason(database: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert "needs PostgreSQL" in err and "DOSSIER_DATABASE_URL" in err


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "needs PostgreSQL"),
        ({"DOSSIER_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test"}, "needs DOSSIER_REDIS_URL"),
    ],
)
def test_serve_with_several_workers_names_what_it_needs(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, env: dict, reason: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DOSSIER_REDIS_URL", raising=False)
    assert main(["serve", "--workers", "2"]) == 2
    assert reason in capsys.readouterr().err
