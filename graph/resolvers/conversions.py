"""Send to client / send to manager (D11): the root `conversions` list and the mutations
sendToClient, approveConversion, rejectConversion and updateAccountSettings (clientEmail)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm.models import Conversion as ConversionModel
from crm.services import conversions as service
from graph.context import Info
from graph.ids import decode_cursor, decode_id, page_size
from graph.resolvers.loaders import (
    CONVERSION_COLUMNS,
    CONVERSION_USERS,
    CONVERSIONS,
    join_users,
)
from graph.resolvers.mutations import changed, row_of
from graph.resolvers.reads import Params, dialect, fetch
from graph.schema.accounts import Account
from graph.schema.common import forward_page
from graph.schema.conversions import (
    CONVERSION_CURSOR,
    Conversion,
    ConversionConnection,
    ConversionStatus,
    conversion_edges,
)


async def conversion_payload(info: Info, conversion: ConversionModel) -> Conversion:
    changed(info)
    row = await join_users(
        info.context.loaders.user, row_of(conversion, CONVERSION_COLUMNS), CONVERSION_USERS
    )
    return Conversion.from_row(row)


@strawberry.type
class ConversionQueries:
    @strawberry.field(description="The account's conversions, newest first; `status` filters them.")
    async def conversions(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="At most this many (1 to 100).")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="The `cursor` of the last conversion the client has.")
        ] = None,
        status: ConversionStatus | None = None,
    ) -> ConversionConnection:
        size = page_size(first)
        account_id = info.context.require_actor().account_id
        params = Params(dialect())
        where = [f't."account_id" = {params(account_id)}']
        if status is not None:
            where.append(f't."status" = {params(status.value)}')
        if after:
            where.append(f't."id" < {params(decode_cursor(after, CONVERSION_CURSOR))}')
        order = f't."id" DESC LIMIT {params(size + 1)}'
        rows = await fetch(CONVERSIONS.shape, params, " AND ".join(where), order)
        edges = conversion_edges(list(rows[:size]))
        return ConversionConnection(
            edges=edges, page_info=forward_page(edges, more=len(rows) > size, after=after)
        )


@strawberry.input(
    description="A line the user adds to the conversion, or changes (same name as a summary line)."
)
class ConversionFieldInput:
    name: str = strawberry.field(
        description="1-100 characters, unique in the list ignoring case. A summary line's name (Name, Email, "
        "Phone, Representative, Media source, Campaign, Status) changes that line."
    )
    value: str = strawberry.field(description="Up to 2,000 characters; empty leaves the line out.")


@strawberry.input
class SendToClientInput:
    contact_id: strawberry.ID = strawberry.field(description="The contact whose card is sent.")
    fields: list[ConversionFieldInput] = strawberry.field(
        default_factory=list, description="At most 30 lines added to or changed in the card's summary."
    )


@strawberry.input
class ApproveConversionInput:
    id: strawberry.ID = strawberry.field(description="A conversion waiting for review (PENDING_REVIEW).")


@strawberry.input
class RejectConversionInput:
    id: strawberry.ID = strawberry.field(description="A conversion waiting for review (PENDING_REVIEW).")
    reason: str = strawberry.field(description="Why it is rejected (1-500 characters); the rep sees it.")


@strawberry.input
class UpdateAccountSettingsInput:
    client_email: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Where conversions are emailed (the built-in email plugin); null clears it, "
        "leaving it out keeps it.",
    )
    region: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The region of phone numbers written without a country code, as an ISO 3166-1 "
        "alpha-2 code (e.g. US, GB, DE); null restores the server's DOSSIER_DEFAULT_REGION, leaving "
        "it out keeps it.",
    )
    currency: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The account's currency, an ISO 4217 code in any case (e.g. USD, EUR, JPY): the "
        "card's sums (opportunity, insights, rewards) are in it; leaving it out keeps it.",
    )
    referral_landing_url: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Where referral links (GET /r/{code}) send visitors, an https URL of at most 1,000 "
        "characters; `ref={code}` is added to its query. null clears it (links then answer 404); "
        "leaving it out keeps it.",
    )
    notify_by_sms: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Text due tasks and call reminders to users who have a phone (setUserPhone), "
        "through the SMS plugin; leaving it out keeps it.",
    )


@strawberry.type
class ConversionMutations:
    @strawberry.mutation(
        description="Send the card to the account's client with the user's fields (any user). It follows "
        "the routing of the contact's status, else MANAGER if a status of the account routes to a "
        "manager, else CLIENT; the account needs a routed status (setStatusList)."
    )
    async def send_to_client(self, info: Info, input: SendToClientInput) -> Conversion:
        conversion = await service.send_to_client(
            info.context.require_actor(),
            decode_id(input.contact_id, "Contact", "contactId"),
            [{"name": f.name, "value": f.value} for f in input.fields],
        )
        return await conversion_payload(info, conversion)

    @strawberry.mutation(
        description="Release a held conversion to the client (managers and admins); CONFLICT unless it "
        "is PENDING_REVIEW."
    )
    async def approve_conversion(self, info: Info, input: ApproveConversionInput) -> Conversion:
        conversion = await service.approve_conversion(
            info.context.require_actor(), decode_id(input.id, "Conversion")
        )
        return await conversion_payload(info, conversion)

    @strawberry.mutation(
        description="Refuse a held conversion with a reason (managers and admins); nothing reaches the "
        "client. CONFLICT unless it is PENDING_REVIEW."
    )
    async def reject_conversion(self, info: Info, input: RejectConversionInput) -> Conversion:
        conversion = await service.reject_conversion(
            info.context.require_actor(), decode_id(input.id, "Conversion"), input.reason
        )
        return await conversion_payload(info, conversion)

    @strawberry.mutation(
        description="Change the account's settings (admins): the client address, the region "
        "of national phone numbers, the currency, the referral landing page and whether reminders "
        "are texted."
    )
    async def update_account_settings(self, info: Info, input: UpdateAccountSettingsInput) -> Account:
        values = {
            key: value
            for key, value in (
                ("client_email", input.client_email),
                ("region", input.region),
                ("currency", input.currency),
                ("referral_landing_url", input.referral_landing_url),
                ("notify_by_sms", input.notify_by_sms),
            )
            if value is not strawberry.UNSET
        }
        account = await service.update_account_settings(info.context.require_actor(), values)
        return Account.from_model(account)
