"""The in-app inbox (C9): a user's notifications, unread first in interest, and marking them read.

Notifications are written by crm/services/reminders.py when a task falls due or a call is
coming; each user sees only their own (the API key's user). Marking read is the user's own
bookkeeping, not a change to a card: it is not journaled and fires no hook. Both a new
notification and one marked read are published on the user's channel after commit, for the
`notifications` subscription (the "bell" of a client's top bar).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crm import regions
from crm import validation as v
from crm.actor import Actor, Role
from crm.clock import utcnow
from crm.errors import BadInput, Forbidden, NotFound
from crm.models import Account, Notification, User
from crm.uow import unit_of_work

NOTIFICATION_COLUMNS = (
    "id", "account_id", "user_id", "kind", "title", "body", "contact_id", "task_id", "call_id",
    "due_at", "created_at", "read_at",
)  # fmt: skip
MAX_IDS = 100  # input lists are capped at 100 (DESIGN.md)


def notifications_channel(account_id: int, user_id: int) -> str:
    """The live-update channel of one user's inbox."""
    return f"dossier:notifications:{account_id}:{user_id}"


def notification_message(notification: Notification) -> dict[str, Any]:
    """A notification as JSON for the live broker (datetimes as ISO strings)."""
    message: dict[str, Any] = {}
    for column in NOTIFICATION_COLUMNS:
        value = getattr(notification, column)
        message[column] = value.isoformat() if isinstance(value, datetime) else value
    return message


def message_row(message: dict[str, Any]) -> dict[str, Any]:
    """A published notification back as a row (the inverse of `notification_message`)."""
    row = dict(message)
    for column in ("due_at", "created_at", "read_at"):
        if row.get(column) is not None:
            row[column] = datetime.fromisoformat(row[column])
    return row


def _user(actor: Actor) -> int:
    if actor.user_id is None:
        raise Forbidden("notifications belong to users: use a user's API key")
    return actor.user_id


async def page(
    actor: Actor, *, unread: bool | None, size: int, before: int | None
) -> tuple[list[dict[str, Any]], bool]:
    """The caller's notifications, newest first: `size` rows below id `before`, and whether
    there are more. `unread` true: unread only; false: read only; None: all."""
    query = Notification.filter(user_id=_user(actor), account_id=actor.account_id)
    if unread is not None:
        query = query.filter(read_at__isnull=unread)
    if before is not None:
        query = query.filter(id__lt=before)
    rows = await query.order_by("-id").limit(size + 1).values(*NOTIFICATION_COLUMNS)
    return rows[:size], len(rows) > size


async def unread_count(actor: Actor) -> int:
    return await Notification.filter(
        user_id=_user(actor), account_id=actor.account_id, read_at__isnull=True
    ).count()


async def count(actor: Actor, *, unread: bool | None) -> int:
    query = Notification.filter(user_id=_user(actor), account_id=actor.account_id)
    if unread is not None:
        query = query.filter(read_at__isnull=unread)
    return await query.count()


async def mark_read(actor: Actor, ids: Sequence[int]) -> tuple[list[dict[str, Any]], int]:
    """Mark the caller's notifications read (already read ones keep their time). An id that is
    not one of the caller's -- another user's, another account's, or none -- is NOT_FOUND and
    nothing changes. Returns the notifications in the order given and the unread count after."""
    user_id = _user(actor)
    wanted = list(dict.fromkeys(ids))
    if not 1 <= len(wanted) <= MAX_IDS:
        raise BadInput(f"ids must name 1 to {MAX_IDS} notifications", field="ids")
    async with unit_of_work(actor) as uow:
        found = (
            await Notification.filter(id__in=wanted, user_id=user_id, account_id=actor.account_id)
            .using_db(uow.conn)
            .select_for_update()
        )
        missing = sorted(set(wanted) - {n.id for n in found})
        if missing:
            raise NotFound(f"no notification with id {missing[0]} for you")
        now = utcnow()
        fresh = [n for n in found if n.read_at is None]
        if fresh:
            await Notification.filter(id__in=[n.id for n in fresh]).using_db(uow.conn).update(read_at=now)
            for n in fresh:
                n.read_at = now
                uow.publish_after_commit(
                    notifications_channel(actor.account_id, user_id), notification_message(n)
                )
        left = (
            await Notification.filter(user_id=user_id, account_id=actor.account_id, read_at__isnull=True)
            .using_db(uow.conn)
            .count()
        )
    by_id = {n.id: notification_message(n) for n in found}
    return [message_row(by_id[i]) for i in wanted], left


async def set_user_phone(actor: Actor, user_id: int, phone: str | None) -> User:
    """Set or clear (None) the number a user's reminders are texted to: E.164, or national in
    the account's region. Admins set anybody's in the account; other users only their own.
    Not a card change: nothing is journaled and no hook fires."""
    if actor.user_id != user_id and actor.role is not Role.ADMIN:
        raise Forbidden("only admins set another user's phone")
    account = await Account.get(id=actor.account_id)
    cleaned = v.clean_phone(phone, "phone", regions.effective(account.region))
    async with unit_of_work(actor) as uow:
        user = (
            await User.filter(id=user_id, account_id=actor.account_id)
            .using_db(uow.conn)
            .select_for_update()
            .first()
        )
        if user is None:
            raise NotFound(f"no user with id {user_id} in this account")
        if user.phone != cleaned:
            user.phone = cleaned
            await user.save(using_db=uow.conn, update_fields=["phone"])
    return user
