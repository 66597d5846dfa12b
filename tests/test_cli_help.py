"""A bare `dossier` prints the help and exits 0: asking what a command can do is not a mistake.
A subcommand without its action (`dossier account`) stays a usage error: argparse's exit 2."""

from __future__ import annotations

import subprocess

import pytest

from dossier.cli import main
from tests.test_cli_database import dossier_command


def test_a_bare_dossier_prints_the_help_on_stdout_and_exits_0() -> None:
    done = subprocess.run(
        dossier_command(), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: dossier")
    for command in ("serve", "migrate", "schema", "account", "user", "key", "worker", "plugins"):
        assert f"    {command} " in done.stdout, command
    assert done.stderr == ""


def test_main_without_arguments_prints_the_help(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: dossier" in out and "run the API server" in out


def test_a_subcommand_without_its_action_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["account"])
    assert exit_.value.code == 2
    assert "usage: dossier account" in capsys.readouterr().err
