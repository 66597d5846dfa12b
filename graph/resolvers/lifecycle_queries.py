"""contactByPhone: the caller's card while the phone rings (D10)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from tortoise.expressions import Q

from crm import regions
from crm.models import Contact as ContactModel
from crm.services.call_log import phone_for_lookup
from graph.context import Info
from graph.resolvers.loaders import CONTACT_READ
from graph.schema.contacts import Contact

# Contacts sharing a number are few; more than this and the newest ones are compared.
_CANDIDATES = 20


@strawberry.type
class LifecycleQueries:
    @strawberry.field(
        description="The contact with this phone number, primary or secondary, in any format"
        " (national numbers in the account's region, viewer.account.phoneRegion); null when none has it."
        " Several: a live contact before an archived one, a primary phone before a secondary one,"
        " then the newest. Archived contacts are found too (see archivedAt)."
    )
    async def contact_by_phone(
        self, info: Info, phone: Annotated[str, strawberry.argument(description="Any format.")]
    ) -> Contact | None:
        account_id = info.context.require_actor().account_id
        e164 = phone_for_lookup(phone, await regions.phone_region(account_id))
        # Each side of the OR is an index lookup: phone's own, (account_id, secondary_phone).
        rows = (
            await ContactModel.filter(Q(phone=e164) | Q(secondary_phone=e164), account_id=account_id)
            .order_by("-id")
            .limit(_CANDIDATES)
            .values(*CONTACT_READ)
        )
        if not rows:
            return None
        best = min(rows, key=lambda r: (r["archived_at"] is not None, r["phone"] != e164, -r["id"]))
        info.context.loaders.contact.prime(best["id"], best)
        return Contact.from_row(best)
