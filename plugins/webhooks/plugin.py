"""The webhooks plugin: every card event POSTed, signed, to the endpoints admins registered.

One outbox row per event reaches this plugin. For it, each subscribed endpoint gets one
delivery row (created once, however often the event is retried); the deliveries not yet
made are POSTed concurrently, each attempt is logged on its row, and if any is still
undelivered the handler raises so the outbox retries the event later with backoff. Endpoints
that already answered 2xx are not called again. When the outbox gives up on the event, its
undelivered rows become FAILED.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import httpx

from crm.clock import utcnow
from crm.events import CardEvent
from crm.journey import EVENT_HOOKS
from crm.models import WebhookDelivery, WebhookEndpoint
from crm.services import webhooks as service
from crm.wiring import EventAudience
from plugins import hookimpl
from plugins.host import PluginHost
from plugins.webhooks.signing import SIGNATURE_HEADER, sign

log = logging.getLogger("dossier.plugins.webhooks")

DEFAULT_TIMEOUT = 10.0  # seconds per POST; DOSSIER_WEBHOOKS_TIMEOUT changes it
USER_AGENT = "Dossier-Webhooks/1"


class WebhookNotDelivered(Exception):
    """Some endpoints have not accepted the event yet: the outbox retries it later."""


def event_body(hook: str, event: CardEvent) -> dict[str, Any]:
    """What a receiver gets: `id` (dedupe on it), `type` (the hook), `kind`, `createdAt`, `data`."""
    return {
        "id": event.id,
        "type": hook,
        "kind": event.kind,
        "createdAt": event.occurred_at.isoformat(),
        "data": event.to_json(),
    }


def _error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"no answer within {timeout:g}s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def private_address(url: str) -> str | None:
    """Why `url` must not be called (it resolves to a non-public address), or None.

    Checked before every attempt, so a DNS answer that changed since the endpoint was
    registered is caught too (a rebinding between this check and the connection is not).
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot resolve {host}: {exc.strerror or exc}"
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            return (
                f"{host} resolves to a non-public address ({address}); "
                "set DOSSIER_WEBHOOKS_ALLOW_PRIVATE=true to allow internal receivers"
            )
    return None


class WebhooksPlugin:
    """Signed outgoing webhooks (`Dossier-Signature`, see plugins.webhooks.signing)."""

    name = "webhooks"

    def __init__(self) -> None:
        self.host: PluginHost | None = None
        self.timeout = DEFAULT_TIMEOUT
        self._own_http: httpx.AsyncClient | None = None
        self.allow_private = False

    @hookimpl
    def event_audience(self) -> EventAudience:
        return service.account_listens

    @hookimpl
    def startup(self, host: PluginHost) -> None:
        self.host = host
        # Endpoints are typed in by admins: by default they may not reach this server's own
        # network (loopback, private ranges, cloud metadata). Tests and on-premise installs
        # whose receivers are internal switch this on.
        self.allow_private = (host.setting("WEBHOOKS_ALLOW_PRIVATE", "false") or "").lower() in (
            "1",
            "true",
            "yes",
        )
        raw = host.setting("WEBHOOKS_TIMEOUT")
        if raw is not None:
            try:
                self.timeout = float(raw)
            except ValueError:
                raise ValueError(f"DOSSIER_WEBHOOKS_TIMEOUT must be seconds, got {raw!r}") from None
            if not self.timeout > 0:
                raise ValueError(f"DOSSIER_WEBHOOKS_TIMEOUT must be positive, got {raw!r}")

    @property
    def http(self) -> httpx.AsyncClient:
        if self.host is not None:
            return self.host.http
        # Started without the startup hook (a bare dispatcher): keep a client of our own.
        if self._own_http is None:
            self._own_http = httpx.AsyncClient(follow_redirects=False)
        return self._own_http

    # -- events ------------------------------------------------------------------------

    async def deliver(self, hook: str, event: CardEvent) -> None:
        endpoints = await service.endpoints_for(event.account_id, hook, occurred_at=event.occurred_at)
        if not endpoints:
            return
        rows = await service.ensure_deliveries(endpoints, event.id, hook, event_body(hook, event))
        due = [(e, r) for e, r in zip(endpoints, rows, strict=True) if r.status != service.DELIVERED]
        errors = await asyncio.gather(*(self._post(endpoint, row) for endpoint, row in due))
        failed = [f"endpoint {e.id}: {error}" for (e, _), error in zip(due, errors, strict=True) if error]
        if failed:
            raise WebhookNotDelivered(
                f"{len(failed)} of {len(rows)} webhook endpoint(s) not reached ({'; '.join(failed)})"
            )

    async def _post(self, endpoint: WebhookEndpoint, row: WebhookDelivery) -> str | None:
        """One attempt, logged on the delivery row; returns the error, or None when delivered."""
        # Sorted keys: every attempt sends the same bytes, whatever order the database kept.
        body = json.dumps(row.payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Dossier-Event": row.event,
            "Dossier-Delivery": str(row.id),
            SIGNATURE_HEADER: sign(endpoint.secret, body, int(utcnow().timestamp())),
        }
        status: int | None = None
        error: str | None = None if self.allow_private else await private_address(endpoint.url)
        if error is None:
            status, error = await self._send(endpoint, body, headers)
        if status is not None and not 200 <= status < 300:
            error = f"the endpoint answered HTTP {status}"
        try:
            await service.record_attempt(row, ok=error is None, response_status=status, error=error)
        except Exception:
            log.exception("could not log webhook delivery %s", row.id)
            return error or "the attempt could not be logged"
        return error

    async def _send(
        self, endpoint: WebhookEndpoint, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        status: int | None = None
        error: str | None = None
        try:
            # httpx's timeout is per read; this bounds the whole exchange. The answer's body is
            # never read: only its status matters.
            async with asyncio.timeout(self.timeout):
                async with self.http.stream(
                    "POST", endpoint.url, content=body, headers=headers, timeout=self.timeout
                ) as response:
                    status = response.status_code
        except Exception as exc:
            error = _error(exc, self.timeout)
        return status, error

    @hookimpl
    async def event_dead_lettered(self, event: CardEvent, hook: str, error: str) -> None:
        if hook in EVENT_HOOKS:
            await service.give_up(event.id)


def _handler(hook: str) -> Callable[[WebhooksPlugin, CardEvent], Coroutine[Any, Any, None]]:
    async def handle(self: WebhooksPlugin, event: CardEvent) -> None:
        await self.deliver(hook, event)

    handle.__name__ = hook
    handle.__qualname__ = f"WebhooksPlugin.{hook}"
    handle.__doc__ = f"POST `{hook}` events to the endpoints subscribed to it."
    return hookimpl(handle)


# pluggy finds implementations as attributes named after the hooks: one per event hook.
for _hook in EVENT_HOOKS:
    setattr(WebhooksPlugin, _hook, _handler(_hook))
