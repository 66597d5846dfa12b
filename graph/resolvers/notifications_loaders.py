"""The inbox's loaders (C9): notifications by id, and users' phones (User.phone)."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from crm.models import Notification, User
from crm.services.notifications import NOTIFICATION_COLUMNS


def attach_notifications(loaders: Any) -> None:
    """Give the request's Loaders `notification` (a row by id, of the account; the resolver
    checks it is the caller's) and `user_phone` (a user's phone by id), as attributes so
    `release()` clears them with the rest."""
    account_id = loaders.account_id

    async def notifications(ids: list[int]) -> list[dict[str, Any] | None]:
        rows = await Notification.filter(id__in=set(ids), account_id=account_id).values(*NOTIFICATION_COLUMNS)
        found = {row["id"]: row for row in rows}
        return [found.get(i) for i in ids]

    async def phones(ids: list[int]) -> list[str | None]:
        rows = await User.filter(id__in=set(ids), account_id=account_id).values_list("id", "phone")
        found = dict(rows)
        return [found.get(i) for i in ids]

    loaders.notification = DataLoader(notifications)
    loaders.user_phone = DataLoader(phones)
