"""Live updates over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from crm.journey import journey_channel, messages_channel
from crm.services.notifications import message_row, notifications_channel
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.jobs_queries import JOB_ID_HELP, follow_job
from graph.resolvers.loaders import JOURNEY_USERS, MESSAGE_USERS, join_users
from graph.schema.contacts import load_contact
from graph.schema.jobs import JobProgress
from graph.schema.journey import JourneyEvent
from graph.schema.messages import Message
from graph.schema.notifications import Notification


@strawberry.type
class Subscription:
    @strawberry.subscription(description="New journey entries of one card, as they are committed.")
    async def journey(self, info: Info, contact_id: strawberry.ID) -> AsyncGenerator[JourneyEvent, None]:
        actor = info.context.require_actor()
        contact = await load_contact(info, decode_id(contact_id, "Contact", "contactId"))
        async for message in info.context.broker.subscribe(journey_channel(actor.account_id, contact.id)):
            # A subscription can live for hours: each event reads users (and whatever its
            # selection loads) afresh, not from what the connection's loaders cached before.
            info.context.reset_loaders()
            yield JourneyEvent.from_row(
                await join_users(info.context.loaders.user, dict(message), JOURNEY_USERS)
            )

    @strawberry.subscription(description="Messages of one card (sent, received, status changes), live.")
    async def messages(self, info: Info, contact_id: strawberry.ID) -> AsyncGenerator[Message, None]:
        actor = info.context.require_actor()
        contact = await load_contact(info, decode_id(contact_id, "Contact", "contactId"))
        async for message in info.context.broker.subscribe(messages_channel(actor.account_id, contact.id)):
            info.context.reset_loaders()  # fresh reads per event, as above
            yield Message.from_row(await join_users(info.context.loaders.user, dict(message), MESSAGE_USERS))

    @strawberry.subscription(
        description="The caller's inbox, live: each new notification of the API key's user, and each "
        "one marked read (readAt set) -- what a top bar's bell needs."
    )
    async def notifications(self, info: Info) -> AsyncGenerator[Notification, None]:
        actor = info.context.require_actor()
        if actor.user_id is None:
            return
        async for message in info.context.broker.subscribe(
            notifications_channel(actor.account_id, actor.user_id)
        ):
            info.context.reset_loaders()  # fresh reads per event, as above
            yield Notification.from_row(message_row(dict(message)))

    @strawberry.subscription(
        description="A job's progress (bulk action, import, export, apply to all): the job now, then after "
        "each batch the worker commits, a cancel or a failure; it ends once the job has ended."
    )
    async def job(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=JOB_ID_HELP)]
    ) -> AsyncGenerator[JobProgress, None]:
        async for job in follow_job(info, id):
            yield job
