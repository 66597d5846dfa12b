"""The server's secret key (DOSSIER_SECRET_KEY): it signs download links (crm/file_links.py).

Unset, a random key is generated once and kept in `dossier-secret.key` (mode 0600) beside the
SQLite file, or in the working directory on PostgreSQL, so links survive a restart. Several
machines must share one key: set DOSSIER_SECRET_KEY on each (links made by one then work on
all). Processes starting together agree on the first key written (see _create).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from tortoise.backends.base.config_generator import expand_db_url

from crm.db import is_postgres
from dossier.settings import Settings

SECRET_FILE = "dossier-secret.key"


def data_folder(database_url: str) -> Path:
    """Where files that go with the database live: beside the SQLite file, else the working dir."""
    if not is_postgres(database_url) and database_url.startswith("sqlite://"):
        try:
            path = expand_db_url(database_url)["credentials"]["file_path"]
        except (KeyError, ValueError):
            path = ""
        if path and path != ":memory:" and not path.startswith("file:"):
            return Path(path).absolute().parent
    return Path.cwd()


def load_secret(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    path = data_folder(settings.database_url) / SECRET_FILE
    if not path.exists():
        _create(path, secrets.token_urlsafe(48))
    text = path.read_text().strip()
    if not text:
        raise RuntimeError(f"{path} is empty: delete it, or set DOSSIER_SECRET_KEY")
    return text.encode()


def _create(path: Path, key: str) -> None:
    """Write the key to a private temporary file, then link it into place: the link fails if
    another process got there first (then its key is the one read), and nobody ever reads a
    half-written file."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its key is read
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
