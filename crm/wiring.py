"""How the domain core reaches the outside without importing it.

`dossier.create_app()` fills this in once per process: which plugins subscribe to which
hook (so the outbox can write one row per event and plugin), how live journey updates
are published, and how the dispatcher is woken after a commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# (transaction connection, account id, hook name) -> does the plugin want this event?
EventAudience = Callable[[Any, int, str], Awaitable[bool]]


def _no_subscribers(hook: str) -> Sequence[str]:
    return ()


async def _drop(channel: str, message: dict[str, Any]) -> None:
    return None


def _nothing() -> None:
    return None


@dataclass
class Wiring:
    subscribers: Callable[[str], Sequence[str]] = _no_subscribers
    publish: Callable[[str, dict[str, Any]], Awaitable[None]] = _drop
    outbox_written: Callable[[], None] = _nothing
    default_region: str = "US"  # for national phone numbers
    # What the loaded provider plugins can do right now, e.g. {"sms", "phone_lookup", "email"}.
    capabilities: frozenset[str] = frozenset()
    sms_from: str | None = None  # the default SMS sender when an account has no number of its own
    email_from: str | None = None  # the From address of outgoing email
    # Plugins that want only some accounts' events (webhooks: accounts with endpoints).
    audiences: dict[str, EventAudience] = field(default_factory=dict)


wiring = Wiring()


def configure(
    *,
    subscribers: Callable[[str], Sequence[str]] | None = None,
    publish: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None,
    outbox_written: Callable[[], None] | None = None,
    default_region: str = "US",
    capabilities: frozenset[str] = frozenset(),
    sms_from: str | None = None,
    email_from: str | None = None,
    audiences: dict[str, EventAudience] | None = None,
) -> None:
    wiring.subscribers = subscribers or _no_subscribers
    wiring.publish = publish or _drop
    wiring.outbox_written = outbox_written or _nothing
    wiring.default_region = default_region
    wiring.capabilities = capabilities
    wiring.sms_from = sms_from
    wiring.email_from = email_from
    wiring.audiences = dict(audiences or {})
