"""`dossier account/user/key` as a newcomer types them (issue 10, rough edges): the admin's
default name reads like a name, and account names are found ignoring case — unique ignoring case
when created, ambiguous (and said so) only for old databases holding two that differ in case."""

from __future__ import annotations

import pytest

from crm.db import close_database, open_database
from crm.models import Account
from crm.services.accounts import name_from_email
from dossier.cli import main
from tests.conftest import run_sync


@pytest.fixture
def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty migrated database (SQLite, then PostgreSQL) that `dossier` commands use."""
    monkeypatch.setenv("DOSSIER_DATABASE_URL", database_url)
    monkeypatch.delenv("DOSSIER_REDIS_URL", raising=False)
    return database_url


def add_accounts_directly(url: str, *names: str) -> None:
    """Accounts as an older Dossier could leave them: names that differ only in case."""

    async def add() -> None:
        await open_database(url, run_migrations=False)
        try:
            for name in names:
                await Account.create(name=name)
        finally:
            await close_database()

    run_sync(add())


def test_the_admin_name_defaults_to_a_name_made_from_the_email(
    database: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["account", "create", "Acme", "--email", "admin@acme.example.com"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "created account 'Acme'; its admin user is Admin <admin@acme.example.com>"

    assert main(["account", "create", "Globex", "--email", "jane.doe+crm@globex.example.com"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "created account 'Globex'; its admin user is Jane Doe <jane.doe+crm@globex.example.com>"

    assert main(["account", "create", "Initech", "--email", "bill@initech.example.com", "--admin-name",
                 "Bill Lumbergh"]) == 0  # fmt: skip
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "created account 'Initech'; its admin user is Bill Lumbergh <bill@initech.example.com>"


@pytest.mark.parametrize(
    ("email", "name"),
    [
        ("admin@x.example", "Admin"),
        ("boss@x.example", "Boss"),
        ("jane.doe@x.example", "Jane Doe"),
        ("mary_ann-smith@x.example", "Mary Ann Smith"),
        ("jdoe2024@x.example", "Jdoe"),
        ("o.connor+sales@x.example", "O Connor"),
        ("12345@x.example", "Admin"),
        ("élodie.dupont@x.example", "Élodie Dupont"),
    ],
)
def test_name_from_email(email: str, name: str) -> None:
    assert name_from_email(email) == name


def test_account_names_on_the_cli_ignore_case(database: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["account", "create", "Acme", "--email", "boss@acme.example.com"]) == 0
    capsys.readouterr()

    assert main(["user", "create", "--account", "acme", "--name", "Rita", "--email", "rita@acme.example.com",
                 "--role", "rep"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "created rep Rita <rita@acme.example.com> in 'Acme'"
    assert out.strip().splitlines()[-1].startswith("dsk_")

    assert main(["key", "create", "--account", "ACME", "--email", "rita@acme.example.com"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("dsk_")
    assert main(["key", "list", "--account", " aCmE "]) == 0
    assert capsys.readouterr().out.count("rita@acme.example.com") == 2  # the user's key, the CLI's key

    assert main(["key", "list", "--account", "Acme Inc"]) == 2
    assert "NOT_FOUND" in capsys.readouterr().err


def test_non_ascii_account_names_ignore_case_on_every_database(
    database: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["account", "create", "Ärzte Straße", "--email", "chef@aerzte.example.com"]) == 0
    capsys.readouterr()
    assert main(["key", "list", "--account", "ärzte strasse"]) == 0  # casefold: ß is ss
    assert "chef@aerzte.example.com" in capsys.readouterr().out
    assert main(["account", "create", "ÄRZTE STRASSE", "--email", "other@aerzte.example.com"]) == 2
    assert "CONFLICT" in capsys.readouterr().err


def test_creating_an_account_that_differs_only_in_case_is_refused(
    database: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["account", "create", "Acme", "--email", "boss@acme.example.com"]) == 0
    capsys.readouterr()
    assert main(["account", "create", "ACME", "--email", "other@acme.example.com"]) == 2
    err = capsys.readouterr().err
    assert "error (CONFLICT): an account named 'ACME' already exists (as 'Acme'; names ignore case)" in err


def test_two_old_accounts_differing_in_case_are_ambiguous_unless_named_exactly(
    database: str, capsys: pytest.CaptureFixture
) -> None:
    add_accounts_directly(database, "Acme", "ACME")

    assert main(["key", "list", "--account", "acme"]) == 2
    err = capsys.readouterr().err
    assert "error (BAD_USER_INPUT): 'acme' is ambiguous: it matches" in err
    assert "'Acme'" in err and "'ACME'" in err and "exactly" in err

    assert main(["key", "list", "--account", "ACME"]) == 0
    assert capsys.readouterr().out.strip() == "no API keys in 'ACME'"
    assert main(["user", "create", "--account", "Acme", "--name", "Rita", "--email", "rita@acme.example.com",
                 "--role", "rep"]) == 0  # fmt: skip
    assert capsys.readouterr().out.splitlines()[0].endswith("in 'Acme'")
