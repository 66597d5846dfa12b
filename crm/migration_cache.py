"""New SQLite databases start as a copy of an empty one the same migrations made.

Migrating an empty database through every committed migration takes ~9 s on a 2-core machine,
nearly all of it tortoise rebuilding its in-memory model state before each operation (Python,
not SQL: 133 state copies of ~45 models). The database it produces depends only on the
migration files, tortoise and SQLite, so the first new SQLite database migrated on a machine is
kept in a cache folder, named by a digest of those, and every later new SQLite database is a
copy of it; `migrate` then finds nothing to do (~10 ms). `dossier serve` on a new file, the CLI
and each test that creates a database are the ones that wait less.

The digest covers what the empty database's schema is made of: the migration files (their DDL
is written out in them; the only code they import from the project, 0001's
`default_statuses`, is a Python-side default, not DDL), tortoise (which turns operations into
DDL) and SQLite. A migration that builds DDL from code elsewhere must add that code here.

The folder is `DOSSIER_MIGRATION_CACHE` (`off` turns the cache off), else
`$XDG_CACHE_HOME/dossier`, else `~/.cache/dossier`. A cache that cannot be read or written is
skipped: the database is migrated as without it. PostgreSQL databases are always migrated.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import tortoise
from tortoise.backends.base.config_generator import expand_db_url

log = logging.getLogger("dossier.db")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PREFIX = "empty-sqlite-"


def cache_dir() -> Path | None:
    """Where the migrated empty databases are kept; None when the cache is off."""
    configured = os.environ.get("DOSSIER_MIGRATION_CACHE", "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dossier"


@cache
def digest() -> str:
    """What an empty migrated database depends on: every migration file's name and bytes,
    tortoise's version and SQLite's."""
    h = hashlib.sha256()
    for path in sorted(MIGRATIONS.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(f"{tortoise.__version__}\0{sqlite3.sqlite_version}".encode())
    return h.hexdigest()[:20]


def new_sqlite_file(database_url: str) -> Path | None:
    """The SQLite file a migration would create (absent or empty), else None (PostgreSQL, an
    in-memory database, a file that already holds a database)."""
    if not database_url.startswith("sqlite://"):
        return None
    name = expand_db_url(database_url)["credentials"].get("file_path", "")
    if not name or name == ":memory:":
        return None
    path = Path(name)
    try:
        return path if not path.exists() or path.stat().st_size == 0 else None
    except OSError:
        return None


def _template() -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"{PREFIX}{digest()}.db"


def _staged(target: Path, staging: Path, write: Callable[[Path], None]) -> None:
    """`write(staging)`, then rename it onto `target`: a reader sees no file or a whole one."""
    try:
        write(staging)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def _copy_recorded_now(template: Path, staging: Path) -> None:
    # copyfile creates the file as SQLite would (the umask's permissions).
    shutil.copyfile(template, staging)
    with sqlite3.connect(staging) as db:
        # In the shape this tortoise wrote them (versions differ: "T" or " " between date and time).
        sample = db.execute("SELECT applied_at FROM tortoise_migrations LIMIT 1").fetchone()
        sep = "T" if sample is not None and "T" in str(sample[0]) else " "
        db.execute("UPDATE tortoise_migrations SET applied_at = ?", (datetime.now(UTC).isoformat(sep=sep),))
    db.close()


def _backup(source_path: Path, staging: Path) -> None:
    # The backup API copies a consistent database whatever its journal (a WAL file is part of
    # the database until a checkpoint; a file copy could miss it).
    with sqlite3.connect(source_path) as source, sqlite3.connect(staging) as copy:
        source.backup(copy)
    source.close()
    copy.close()


def start_from_template(path: Path) -> bool:
    """Make `path` (a new SQLite file) a copy of the cached empty database, if there is one,
    with its migrations recorded as applied now. False when there is none to copy."""
    template = _template()
    if template is None or not template.is_file() or not path.parent.is_dir():
        return False
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _staged(path, staging, lambda staged: _copy_recorded_now(template, staged))
    except (OSError, sqlite3.Error) as exc:
        log.debug("migration cache not used (%s): migrating %s", exc, path)
        return False
    return True


def keep_as_template(path: Path) -> None:
    """Keep a copy of `path`, a database just migrated from empty, for the next new one (and
    drop copies made by other migrations)."""
    template = _template()
    if template is None:
        return
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        staging = template.with_name(f".{template.name}.{os.getpid()}.tmp")
        _staged(template, staging, lambda staged: _backup(path, staged))
        for stale in template.parent.glob(f"{PREFIX}*.db"):
            if stale != template:
                stale.unlink(missing_ok=True)
    except (OSError, sqlite3.Error) as exc:
        log.debug("migration cache not written (%s)", exc)
