"""Outgoing webhook endpoints (admins register them) and the log of their deliveries."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from crm import validation as v
from crm.actor import Actor, Role
from crm.clock import utcnow
from crm.errors import BadInput, Forbidden, NotFound
from crm.journey import EVENT_HOOKS
from crm.models import WebhookDelivery, WebhookEndpoint

MAX_ENDPOINTS = 20
MAX_EVENTS = 100  # input lists are capped (the valid names are far fewer)
SECRET_PREFIX = "whsec_"
PENDING, DELIVERED, FAILED = "PENDING", "DELIVERED", "FAILED"


def _admin(actor: Actor) -> None:
    if actor.role is not Role.ADMIN:
        raise Forbidden("only admins manage webhook endpoints")


def _events(events: Sequence[str] | None) -> list[str]:
    if events is not None and len(events) > MAX_EVENTS:
        raise BadInput(f"events lists at most {MAX_EVENTS} names, got {len(events)}", field="events")
    chosen = list(dict.fromkeys(e.strip() for e in events or ()))
    unknown = [e for e in chosen if e not in EVENT_HOOKS]
    if unknown:
        raise BadInput(
            f"unknown event(s) {', '.join(v.shortened(e) for e in unknown[:3])}"
            f"{f' and {len(unknown) - 3} more' if len(unknown) > 3 else ''};"
            f" choose from {', '.join(EVENT_HOOKS)}",
            field="events",
        )
    return chosen


def _url(url: str) -> str:
    clean = v.clean_url(url, "url")
    if clean is None:
        raise BadInput("url is required", field="url")
    return clean


async def _endpoint(actor: Actor, endpoint_id: int, conn: Any) -> WebhookEndpoint:
    found = (
        await WebhookEndpoint.filter(id=endpoint_id, account_id=actor.account_id)
        .using_db(conn)
        .select_for_update()
        .first()
    )
    if found is None:
        raise NotFound(f"no webhook endpoint with id {endpoint_id} in this account")
    return found


async def create_endpoint(
    actor: Actor, url: str, events: Sequence[str] | None = None, description: str | None = None
) -> WebhookEndpoint:
    """Register an endpoint; its signing secret is generated here and shown to the admin."""
    _admin(actor)
    target, chosen = _url(url), _events(events)
    note = v.clean_text(description, "description", max_length=200)
    async with in_transaction() as conn:
        if await WebhookEndpoint.filter(account_id=actor.account_id).using_db(conn).count() >= MAX_ENDPOINTS:
            raise BadInput(f"an account can have at most {MAX_ENDPOINTS} webhook endpoints")
        return await WebhookEndpoint.create(
            account_id=actor.account_id,
            url=target,
            events=chosen,
            secret=SECRET_PREFIX + secrets.token_urlsafe(32),
            description=note,
            using_db=conn,
        )


async def list_endpoints(actor: Actor) -> list[WebhookEndpoint]:
    """The account's endpoints, oldest first (admins only: they hold the delivery log)."""
    _admin(actor)
    return await WebhookEndpoint.filter(account_id=actor.account_id).order_by("id")


async def update_endpoint(actor: Actor, endpoint_id: int, **changes: Any) -> WebhookEndpoint:
    """Change url, events, active or description (only the keys given).

    Deliveries still being retried for an endpoint that is switched off, or for events it no
    longer subscribes to, are given up (FAILED): they would never be attempted again.
    """
    _admin(actor)
    async with in_transaction() as conn:
        endpoint = await _endpoint(actor, endpoint_id, conn)
        if "url" in changes:
            endpoint.url = _url(changes["url"])
        if "events" in changes:
            endpoint.events = _events(changes["events"])
        if "active" in changes:
            if changes["active"] is None:
                raise BadInput("active cannot be null", field="active")
            endpoint.active = bool(changes["active"])
        if "description" in changes:
            endpoint.description = v.clean_text(changes["description"], "description", max_length=200)
        await endpoint.save(using_db=conn)
        stranded = WebhookDelivery.filter(endpoint_id=endpoint.id, status=PENDING).using_db(conn)
        if not endpoint.active:
            await stranded.update(status=FAILED, error="the endpoint was deactivated before delivery")
        elif endpoint.events:
            await stranded.exclude(event__in=endpoint.events).update(
                status=FAILED, error="the endpoint unsubscribed from this event before delivery"
            )
    return endpoint


async def rotate_secret(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    _admin(actor)
    async with in_transaction() as conn:
        endpoint = await _endpoint(actor, endpoint_id, conn)
        endpoint.secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        await endpoint.save(using_db=conn)
    return endpoint


async def delete_endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    _admin(actor)
    async with in_transaction() as conn:
        endpoint = await _endpoint(actor, endpoint_id, conn)
        await endpoint.delete(using_db=conn)
    return endpoint


# -- what the webhooks plugin writes ----------------------------------------------------------


async def account_listens(conn: Any, account_id: int, event: str) -> bool:
    """Does any active endpoint of the account take this event? (One indexed read, in the
    change's own transaction: accounts without endpoints get no webhook outbox rows at all.)"""
    events = (
        await WebhookEndpoint.filter(account_id=account_id, active=True)
        .using_db(conn)
        .values_list("events", flat=True)
    )
    return any(not chosen or event in chosen for chosen in events)


async def endpoints_for(
    account_id: int, event: str, *, occurred_at: datetime | None = None
) -> list[WebhookEndpoint]:
    """Active endpoints subscribed to `event`; with `occurred_at`, only those that existed by then
    (an endpoint registered while an older event was being retried does not receive it)."""
    query = WebhookEndpoint.filter(account_id=account_id, active=True)
    if occurred_at is not None:
        query = query.filter(created_at__lte=occurred_at)
    endpoints = await query.order_by("id")
    return [e for e in endpoints if not e.events or event in e.events]


async def ensure_deliveries(
    endpoints: Sequence[WebhookEndpoint], event_id: str, event: str, payload: dict[str, Any]
) -> list[WebhookDelivery]:
    """One delivery row per (endpoint, event), created once however often the event is retried."""
    rows = []
    for endpoint in endpoints:
        row, _ = await WebhookDelivery.get_or_create(
            endpoint_id=endpoint.id, event_id=event_id, defaults={"event": event, "payload": payload}
        )
        rows.append(row)
    return rows


async def record_attempt(
    delivery: WebhookDelivery, *, ok: bool, response_status: int | None, error: str | None
) -> None:
    now = utcnow()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = response_status
    delivery.error = (error or "")[:500] or None
    delivery.status = DELIVERED if ok else PENDING
    if ok:
        delivery.delivered_at = now
    await delivery.save()


async def give_up(event_id: str) -> int:
    """The outbox dead-lettered this event: its undelivered rows are FAILED for good."""
    return await WebhookDelivery.filter(event_id=event_id, status=PENDING).update(status=FAILED)
