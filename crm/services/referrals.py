"""Referrals (E1): who invited whom, referral codes and the links that carry them.

Every contact has a referral code (made with the contact: `Contact.referral_code`'s default,
crm/models/referrals.py). Its link, `{DOSSIER_PUBLIC_URL}/r/{code}`, sends a visitor to the
account's referral landing page with `ref={code}`; the lead that comes back with the code
(`submitLead(input: {referralCode})`, the intake's `referralCode` field) gets the code's contact
as its inviter. `setInviter` sets or clears an inviter by hand. Inviters never form a cycle
(A invited B invited A) and never cross accounts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crm import validation as v
from crm.actor import Actor
from crm.errors import BadInput, NotFound
from crm.journey import JourneyKind
from crm.models import Account, Contact
from crm.models.contacts import every_contact
from crm.services import _scoped
from crm.uow import UnitOfWork, display_name, unit_of_work

REFERRAL_PATH = "/r/{code}"
REFERRAL_PREFIX = "/r/"
MAX_CODE_INPUT = 64
# A chain of inviters longer than this is not walked further (a cycle check stops there).
MAX_CHAIN = 10_000


class ReferralOutcome(StrEnum):
    """What a lead's referral code did (the LEAD_SUBMITTED subject's `referral.outcome`)."""

    ATTRIBUTED = "ATTRIBUTED"  # the code's contact became the inviter
    UNKNOWN_CODE = "UNKNOWN_CODE"  # no contact of this account has the code: ignored
    ALREADY_INVITED = "ALREADY_INVITED"  # the contact has an inviter already: kept
    OWN_CODE = "OWN_CODE"  # the contact's own code
    CYCLE = "CYCLE"  # the code's contact was invited (directly or not) by this contact


def _name(contact: Contact | dict[str, Any]) -> str:
    get = contact.get if isinstance(contact, dict) else lambda k: getattr(contact, k)
    return display_name(get("first_name"), get("last_name"), get("business_name"), get("email"))


def inviter_value(contact: Contact | None) -> dict[str, Any] | None:
    """An inviter as the journey and the hooks show it."""
    return None if contact is None else {"id": contact.id, "name": _name(contact)}


def clean_code(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    code = value.strip()
    v.check_length(code, "referralCode", MAX_CODE_INPUT, "a referral code")
    v.check_storable(code, "referralCode")
    return code


def referral_link(code: str | None, base_url: str | None) -> str | None:
    """`{base}/r/{code}`; None without a code or a base URL."""
    if not code or not base_url:
        return None
    return f"{base_url.rstrip('/')}/r/{code}"


def landing_url(landing: str, code: str) -> str:
    """The landing page with `ref={code}` added to its query (an existing `ref` is replaced)."""
    parts = urlsplit(landing)
    query = [(k, val) for k, val in parse_qsl(parts.query, keep_blank_values=True) if k != "ref"]
    query.append(("ref", code))
    return urlunsplit(parts._replace(query=urlencode(query)))


def clean_landing_url(value: str | None, field: str = "referralLandingUrl") -> str | None:
    """An https URL (absolute, with a host), at most 1,000 characters; empty or None clears it."""
    url = v.clean_url(value, field)
    if url is not None and urlsplit(url).scheme != "https":
        raise BadInput(f"{field} must be an https URL, e.g. https://example.com/refer", field=field)
    return url


async def landing_for_code(code: str) -> str | None:
    """Where GET /r/{code} redirects: the landing page of the code's account with the code
    added, or None (unknown code, or the account has no landing page yet)."""
    if not code or len(code) > MAX_CODE_INPUT:
        return None
    # every_contact: the code of a contact absorbed by a merge still leads to its account.
    found = await every_contact().filter(referral_code=code).values("account_id")
    if not found:
        return None
    account = await Account.filter(id=found[0]["account_id"]).values("referral_landing_url")
    landing = account[0]["referral_landing_url"] if account else None
    return landing_url(landing, code) if landing else None


async def code_owner(uow: UnitOfWork, code: str) -> Contact | None:
    """The contact a referral code of this account attributes to: its own contact, or, while
    that contact is absorbed by a merge, the contact it was merged into (followed through merges
    of merges). None for an unknown code."""
    owner = (
        await every_contact()
        .filter(referral_code=code, account_id=uow.actor.account_id)
        .using_db(uow.conn)
        .first()
    )
    for _ in range(MAX_CHAIN):
        if owner is None or owner.merged_into_id is None:  # type: ignore[attr-defined]
            return owner
        owner = await every_contact().filter(id=owner.merged_into_id).using_db(uow.conn).first()  # type: ignore[attr-defined]
    return None


async def _serialise(uow: UnitOfWork) -> None:
    """Two inviter changes in one account at once could each pass the cycle check and together
    close a cycle: on PostgreSQL they take turns (a transaction-scoped advisory lock per account).
    SQLite serialises every write anyway."""
    if uow.conn.capabilities.dialect != "postgres":
        return
    digest = hashlib.sha256(f"dossier-referral:{uow.actor.account_id}".encode()).digest()
    await uow.conn.execute_query(
        "SELECT pg_advisory_xact_lock($1)", [int.from_bytes(digest[:8], "big", signed=True)]
    )


async def chain_up(uow: UnitOfWork, start_id: int) -> list[int]:
    """`start_id`, its inviter, that one's inviter ... (one recursive statement)."""
    mark = "$1" if uow.conn.capabilities.dialect == "postgres" else "?"
    mark2 = "$2" if uow.conn.capabilities.dialect == "postgres" else "?"
    sql = (
        "WITH RECURSIVE chain(id, inviter_id, depth) AS ("
        f"SELECT id, inviter_id, 0 FROM contact WHERE id = {mark} AND account_id = {mark2}"
        " UNION ALL SELECT c.id, c.inviter_id, chain.depth + 1 FROM contact c"
        f" JOIN chain ON c.id = chain.inviter_id WHERE chain.depth < {MAX_CHAIN})"
        " SELECT id FROM chain ORDER BY depth"
    )
    _, rows = await uow.conn.execute_query(sql, [start_id, uow.actor.account_id])
    return [row[0] for row in rows]


async def cycle_through(uow: UnitOfWork, contact: Contact, inviter: Contact) -> list[str] | None:
    """The names around the cycle that `inviter` inviting `contact` would close, in invitation
    order and starting and ending with the contact; None when there is none."""
    chain = await chain_up(uow, inviter.id)
    if contact.id not in chain:
        return None
    path = chain[: chain.index(contact.id) + 1]  # inviter, its inviter, ..., contact
    rows = (
        await every_contact()
        .filter(id__in=path)
        .using_db(uow.conn)
        .values("id", "first_name", "last_name", "business_name", "email")
    )
    names = {row["id"]: _name(row) for row in rows}
    ordered = [names[i] for i in reversed(path)]  # contact invited ... invited inviter
    return [*ordered, names[contact.id]]


def cycle_message(contact: Contact, inviter: Contact, names: list[str]) -> str:
    return (
        f"{_name(inviter)} cannot be the inviter of {_name(contact)}: that makes a cycle "
        f"({' invited '.join(names)}); clear one of those inviters first"
    )


async def change_inviter(
    uow: UnitOfWork, contact: Contact, inviter: Contact | None, before: Contact | None, summary: str
) -> None:
    """Set the inviter (checked by the caller) and journal it."""
    contact.inviter_id = inviter.id if inviter is not None else None  # type: ignore[attr-defined]
    await contact.save(using_db=uow.conn)
    await uow.record(
        contact,
        JourneyKind.INVITER_SET,
        summary,
        {"inviter": [inviter_value(before), inviter_value(inviter)]},
        subject={"inviter": inviter_value(inviter)},
    )


async def inviter_of(uow: UnitOfWork, contact: Contact) -> Contact | None:
    """The contact's inviter (a hidden, merged-away one too); None without one, no statement."""
    return await _current_inviter(uow, contact)


async def _current_inviter(uow: UnitOfWork, contact: Contact) -> Contact | None:
    inviter_id = contact.inviter_id  # type: ignore[attr-defined]
    if inviter_id is None:
        return None
    return await every_contact().filter(id=inviter_id).using_db(uow.conn).first()


async def set_inviter(actor: Actor, contact_id: int, inviter_id: int | None) -> Contact:
    """Set who invited the contact (same account, not itself, no cycle); None clears it."""
    async with unit_of_work(actor) as uow:
        await _serialise(uow)
        contact = await _scoped.contact(uow, contact_id)
        inviter = None
        if inviter_id is not None:
            inviter = (
                await Contact.filter(id=inviter_id, account_id=actor.account_id).using_db(uow.conn).first()
            )
            if inviter is None:
                raise NotFound(f"no contact with id {inviter_id} in this account", field="inviterId")
            if inviter.id == contact.id:
                raise BadInput("a contact cannot be its own inviter", field="inviterId")
            names = await cycle_through(uow, contact, inviter)
            if names is not None:
                raise BadInput(cycle_message(contact, inviter, names), field="inviterId")
        if contact.inviter_id == (inviter.id if inviter else None):  # type: ignore[attr-defined]
            return contact
        before = await _current_inviter(uow, contact)
        summary = (
            f"{actor.name} set the inviter of {_name(contact)} to {_name(inviter)}"
            if inviter is not None
            else f"{actor.name} cleared the inviter of {_name(contact)}"
        )
        await change_inviter(uow, contact, inviter, before, summary)
    return contact


@dataclass(frozen=True, slots=True)
class Attribution:
    code: str
    outcome: ReferralOutcome
    inviter: Contact | None  # the contact's inviter after the lead (new or kept)

    def subject(self) -> dict[str, Any]:
        return {"code": self.code, "outcome": self.outcome.value}


async def attribute_lead(uow: UnitOfWork, contact: Contact, code: str, form_name: str) -> Attribution:
    """A lead of `contact` came with a referral code: make the code's contact its inviter unless
    the code is unknown in this account (codes of other accounts are unknown here; the code of a
    contact absorbed by a merge attributes to the contact it was merged into), the contact
    already has an inviter (kept), it is its own code, or it would close a cycle. Never refuses:
    the lead is stored whatever the code says; the outcome goes into the lead's journey entry."""
    await _serialise(uow)
    current = await _current_inviter(uow, contact)
    owner = await code_owner(uow, code)
    if owner is None:
        return Attribution(code, ReferralOutcome.UNKNOWN_CODE, current)
    if owner.id == contact.id:
        return Attribution(code, ReferralOutcome.OWN_CODE, current)
    if current is not None:
        return Attribution(code, ReferralOutcome.ALREADY_INVITED, current)
    if await cycle_through(uow, contact, owner) is not None:
        return Attribution(code, ReferralOutcome.CYCLE, None)
    await change_inviter(
        uow, contact, owner, None, f"{_name(owner)} invited {_name(contact)} (referral link, {form_name})"
    )
    return Attribution(code, ReferralOutcome.ATTRIBUTED, owner)
