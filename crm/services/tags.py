"""Tags on a contact, drawn from (and added to) the account's tag list."""

from __future__ import annotations

import re

from crm import validation as v
from crm.actor import Actor
from crm.errors import BadInput, NotFound
from crm.journey import JourneyKind
from crm.models import Contact, ContactTag, Tag
from crm.services import _scoped
from crm.uow import UnitOfWork, unit_of_work

# The account's tag list is read whole (`viewer { account { tags } }`), and the query-cost
# budget (graph/cost.py) counts on this bound.
MAX_TAGS = 1000


def tag_key(name: str) -> str:
    return name.casefold()


def clean_tag_name(name: str) -> str:
    # Runs of whitespace (tabs and newlines too) become one space before the name is checked:
    # a name is refused for the invisible characters that remain (crm.validation).
    cleaned = v.clean_text(re.sub(r"\s+", " ", name or ""), "name", max_length=50, required=True)
    assert cleaned is not None
    return cleaned


async def account_tag(uow: UnitOfWork, label: str) -> Tag:
    """The account's tag named `label` (a cleaned name), made when it has none yet; BAD_USER_INPUT
    when the account's list is full."""
    account_tags = Tag.filter(account_id=uow.actor.account_id).using_db(uow.conn)
    if not await account_tags.filter(key=tag_key(label)).exists() and await account_tags.count() >= MAX_TAGS:
        raise BadInput(
            f"the account already has {MAX_TAGS} tags, the most it may have: use one of them",
            field="name",
        )
    tag, _ = await Tag.get_or_create(
        account_id=uow.actor.account_id, key=tag_key(label), defaults={"name": label}, using_db=uow.conn
    )
    return tag


async def tag_contact(uow: UnitOfWork, contact: Contact, tag: Tag) -> bool:
    """Tag the contact, journaled; False when it already had the tag (no entry)."""
    if await ContactTag.filter(contact_id=contact.id, tag_id=tag.id).using_db(uow.conn).exists():
        return False
    await ContactTag.create(contact_id=contact.id, tag_id=tag.id, using_db=uow.conn)
    await uow.record(
        contact,
        JourneyKind.TAG_ADDED,
        f"{uow.actor.name} tagged the contact {tag.name}",
        {"tags": [None, tag.name]},
        subject_type="Tag",
        subject_id=tag.id,
        subject={"name": tag.name},
    )
    return True


async def untag_contact(uow: UnitOfWork, contact: Contact, tag: Tag) -> bool:
    """Take the tag off the contact, journaled; False when it did not have it."""
    removed = await ContactTag.filter(contact_id=contact.id, tag_id=tag.id).using_db(uow.conn).delete()
    if not removed:
        return False
    await uow.record(
        contact,
        JourneyKind.TAG_REMOVED,
        f"{uow.actor.name} removed the tag {tag.name}",
        {"tags": [tag.name, None]},
        subject_type="Tag",
        subject_id=tag.id,
        subject={"name": tag.name},
    )
    return True


async def add_tag(actor: Actor, contact_id: int, name: str) -> Contact:
    """Tag a contact; an unknown tag joins the account's list. Tagging twice changes nothing."""
    label = clean_tag_name(name)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        await tag_contact(uow, contact, await account_tag(uow, label))
    return contact


async def remove_tag(actor: Actor, contact_id: int, name: str) -> Contact:
    label = clean_tag_name(name)
    async with unit_of_work(actor) as uow:
        contact = await _scoped.contact(uow, contact_id)
        tag = await Tag.filter(account_id=actor.account_id, key=tag_key(label)).using_db(uow.conn).first()
        if tag is None or not await untag_contact(uow, contact, tag):
            raise NotFound(f"the contact has no tag {label!r}", field="name")
    return contact
