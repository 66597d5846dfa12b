"""The inbox (C9): `notifications`, `markNotificationsRead`, `setUserPhone`, and `node(id:)` for a
Notification. Every read is the API key's user's own."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm.services import notifications as service
from graph.context import Info
from graph.ids import decode_cursor, decode_id, page_size
from graph.resolvers.mutations import changed
from graph.schema.accounts import User
from graph.schema.common import forward_page
from graph.schema.notifications import (
    NOTIFICATION_CURSOR,
    MarkNotificationsReadPayload,
    Notification,
    NotificationConnection,
    notification_edges,
)


@strawberry.type
class NotificationQueries:
    @strawberry.field(
        description="The caller's notifications (the API key's user), newest first; `unread: true` "
        "lists only unread ones, `false` only read ones. `unreadCount` is the bell's number."
    )
    async def notifications(
        self,
        info: Info,
        unread: Annotated[
            bool | None, strawberry.argument(description="true: unread only; false: read only; null: all.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="At most this many (1 to 100).")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(description="The `cursor` of the last notification the client has."),
        ] = None,
    ) -> NotificationConnection:
        size = page_size(first)
        actor = info.context.require_actor()
        before = decode_cursor(after, NOTIFICATION_CURSOR) if after else None
        rows, more = await service.page(actor, unread=unread, size=size, before=before)
        edges = notification_edges(rows)
        return NotificationConnection(
            edges=edges,
            page_info=forward_page(edges, more=more, after=after),
            _unread=lambda: service.unread_count(actor),
            _count=lambda: service.count(actor, unread=unread),
        )


@strawberry.input
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] = strawberry.field(
        description="1 to 100 of the caller's notifications; any other id is NOT_FOUND and nothing changes."
    )


@strawberry.input
class SetUserPhoneInput:
    user_id: strawberry.ID = strawberry.field(
        description="The user: yourself, or anybody in the account for admins."
    )
    phone: str | None = strawberry.field(
        description="Where reminders are texted when the account enables it (notifyBySms): E.164, or "
        "national in the account's region; null clears it."
    )


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(
        description="Mark notifications of the caller's read (already read ones keep their time); "
        "returns them and the unread count left. Not journaled: it changes no card."
    )
    async def mark_notifications_read(
        self, info: Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        ids = [decode_id(i, "Notification", "ids") for i in input.ids]
        rows, unread = await service.mark_read(info.context.require_actor(), ids)
        changed(info)
        return MarkNotificationsReadPayload(
            notifications=[Notification.from_row(r) for r in rows], unread_count=unread
        )

    @strawberry.mutation(
        description="Set or clear the phone a user's reminders are texted to (admins: anybody in the "
        "account; others: themselves)."
    )
    async def set_user_phone(self, info: Info, input: SetUserPhoneInput) -> User:
        user = await service.set_user_phone(
            info.context.require_actor(), decode_id(input.user_id, "User", "userId"), input.phone
        )
        changed(info)
        return User.from_row(
            {"id": user.id, "name": user.name, "email": user.email, "role": user.role,
             "created_at": user.created_at}
        )  # fmt: skip


async def notification_node(info: Info, notification_id: int) -> Notification | None:
    """`node(id:)` for a Notification global id: the caller's own only (another user's is as
    missing as one that does not exist)."""
    actor = info.context.require_actor()
    row = await info.context.loaders.notification.load(notification_id)  # type: ignore[attr-defined]
    if row is None or row["user_id"] != actor.user_id:
        return None
    return Notification.from_row(row)
