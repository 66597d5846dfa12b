"""Short-lived signed download links: `{public url}/files/{token}` (GET /files/{token}).

A token is `<attachment id>.<account id>.<expiry (unix seconds)>.<signature>`, the signature an
HMAC-SHA256 of the rest under the server's secret (DOSSIER_SECRET_KEY, dossier/secret.py),
with a purpose prefix so a token made for something else never passes as a download. Anyone
holding the link may download until it expires (that is what a link is for); the route still
checks the file exists and belongs to the account named in the token, so a deleted file or one
merged elsewhere stops answering. Set once per process by `configure()`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_EXPIRES_IN = 300
MAX_EXPIRES_IN = 7 * 24 * 3600
_PURPOSE = b"dossier-file-download:"
# A job's file (an export, an import's report: BulkJob.file) is served by GET /job-files/{token}
# and signed under its own purpose, so a job's id never passes for an attachment's or back.
JOB_FILE_PURPOSE = b"dossier-job-file:"
JOB_FILES_PATH = "/job-files"


@dataclass
class _Config:
    # Read on first use: a server that never makes a link never generates a key file.
    secret_source: Callable[[], bytes] | None = None
    secret: bytes = b""
    public_url: str | None = None


_config = _Config()


def configure(secret: bytes | Callable[[], bytes], public_url: str | None = None) -> None:
    """`secret`: the key, or a function giving it (called once, when a link is first made or read)."""
    _config.secret, _config.secret_source = (b"", secret) if callable(secret) else (secret, None)
    _config.public_url = public_url.rstrip("/") if public_url else None


def public_url() -> str | None:
    return _config.public_url


def signing_key() -> bytes:
    """The server's secret, for other links signed under it (recording shares,
    crm/services/recordings.py); each signs with its own purpose prefix."""
    return _key()


def download_url(base_url: str, token: str) -> str:
    """`{DOSSIER_PUBLIC_URL or the request's base URL}/files/{token}`."""
    return f"{(_config.public_url or base_url).rstrip('/')}/files/{token}"


def _key() -> bytes:
    if not _config.secret and _config.secret_source is not None:
        _config.secret = _config.secret_source()
    if not _config.secret:
        raise RuntimeError("no secret key configured for download links")
    return _config.secret


def _signature(message: str, purpose: bytes = _PURPOSE) -> str:
    mac = hmac.new(_key(), purpose + message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def make_token(
    attachment_id: int,
    account_id: int,
    expires_in: int,
    *,
    now: float | None = None,
    purpose: bytes = _PURPOSE,
) -> str:
    """`purpose`: what the id names (an attachment by default; JOB_FILE_PURPOSE: a job's file)."""
    expires = int((time.time() if now is None else now) + expires_in)
    message = f"{attachment_id}.{account_id}.{expires}"
    return f"{message}.{_signature(message, purpose)}"


def read_token(token: str, *, now: float | None = None, purpose: bytes = _PURPOSE) -> tuple[int, int] | None:
    """(attachment id, account id) of a valid, unexpired token; None for anything else."""
    parts = token.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 12 for p in parts[:3]):
        return None
    message = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3], _signature(message, purpose)):
        return None
    attachment_id, account_id, expires = (int(p) for p in parts[:3])
    if expires < (time.time() if now is None else now):
        return None
    return attachment_id, account_id
