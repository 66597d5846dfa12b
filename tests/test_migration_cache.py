"""New SQLite databases start as a copy of an empty one the same migrations made
(crm/migration_cache.py): the copy must be the database the migrations make, and a cache that
cannot be used must never stop a migration."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from crm import migration_cache
from crm.db import migrate_database


def schema(path: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    db.close()
    return {tuple(row) for row in rows}


def applied(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT app, name, applied_at FROM tortoise_migrations ORDER BY id").fetchall()
    db.close()
    return [tuple(row) for row in rows]


async def test_a_new_database_is_a_copy_of_the_first_one_migrated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DOSSIER_MIGRATION_CACHE", str(cache))
    cache.mkdir()
    (cache / f"{migration_cache.PREFIX}made-by-older-migrations.db").write_bytes(b"old")

    first = tmp_path / "first.db"
    await migrate_database(f"sqlite://{first}")  # migrated from empty, then kept
    template = cache / f"{migration_cache.PREFIX}{migration_cache.digest()}.db"
    assert sorted(p.name for p in cache.iterdir()) == [template.name]  # the stale copy is gone
    assert schema(template) == schema(first)
    kept_at = template.stat().st_mtime_ns

    second = tmp_path / "second.db"
    await migrate_database(f"sqlite://{second}")
    assert template.stat().st_mtime_ns == kept_at  # copied from, not made again
    # The same tables, indexes and triggers (0024's roll-ups), every migration recorded, each
    # as applied now rather than when the cached copy was made.
    assert schema(second) == schema(first)
    migrations = sorted(p.stem for p in migration_cache.MIGRATIONS.glob("0*.py"))
    assert [name for _, name, _ in applied(second)] == migrations
    made = datetime.fromisoformat(applied(first)[-1][2])
    assert all(datetime.fromisoformat(at) > made for _, _, at in applied(second))
    # Written in the shape tortoise wrote the template's ("T" or " " between date and time).
    assert {("T" in at) for _, _, at in applied(second)} == {"T" in applied(first)[0][2]}

    # A file that already holds a database is never replaced by the copy.
    with sqlite3.connect(second) as db:
        db.execute("INSERT INTO account (name, statuses, created_at) VALUES ('Kept', '[]', '2026-01-01')")
    db.close()
    await migrate_database(f"sqlite://{second}")
    with sqlite3.connect(second) as db:
        assert db.execute("SELECT name FROM account").fetchall() == [("Kept",)]
    db.close()


async def test_a_cache_that_cannot_be_used_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DOSSIER_MIGRATION_CACHE", str(blocker / "cache"))  # cannot be created
    assert migration_cache.start_from_template(tmp_path / "x.db") is False
    migration_cache.keep_as_template(tmp_path / "missing.db")  # no error either

    monkeypatch.setenv("DOSSIER_MIGRATION_CACHE", "off")
    assert migration_cache.cache_dir() is None
    assert migration_cache.new_sqlite_file("postgres://u@127.0.0.1/db") is None
    assert migration_cache.new_sqlite_file("sqlite://:memory:") is None
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"x")
    assert migration_cache.new_sqlite_file(f"sqlite://{existing}") is None
    assert migration_cache.new_sqlite_file(f"sqlite://{tmp_path / 'new.db'}") == tmp_path / "new.db"
