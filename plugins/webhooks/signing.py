"""Webhook signatures, Stripe's scheme: `Dossier-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`.

The HMAC key is the endpoint's secret (`whsec_...`) and the signed message is
`f"{t}.{raw body}"`. A receiver recomputes it over the *raw* request body (before any JSON
parsing), compares in constant time, and refuses timestamps older than a few minutes so a
captured request cannot be replayed later. Deliveries are retried: dedupe on the body's `id`.

    from plugins.webhooks import verify_signature

    async def receive(request):
        body = await request.body()
        if not verify_signature(SECRET, request.headers.get("Dossier-Signature", ""), body):
            return Response(status_code=400)
        event = json.loads(body)
        ...

This module imports nothing from Dossier: receivers may copy it as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Dossier-Signature"
DEFAULT_TOLERANCE = 300  # seconds, as Stripe


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def compute_signature(secret: str, timestamp: int, body: bytes | str) -> str:
    """The hex HMAC-SHA256 of `f"{timestamp}.{body}"` keyed by the endpoint's secret."""
    message = str(timestamp).encode() + b"." + _as_bytes(body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes | str, timestamp: int | None = None) -> str:
    """The `Dossier-Signature` header value for `body`, signed now (or at `timestamp`)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute_signature(secret, t, body)}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes | str,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> bool:
    """True when `header` (the `Dossier-Signature` value) signs `body` with `secret`, made within
    `tolerance` seconds of `now`. Any `v1=` entry may match (several are allowed, as in Stripe's
    header); a malformed header, a tampered body, a wrong secret or a stale timestamp give False."""
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = compute_signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
