"""Account-scoped fetches used by the services inside their transaction."""

from __future__ import annotations

from typing import TypeVar

from tortoise.models import Model

from crm.errors import NotFound
from crm.models import Attachment, Call, Contact, Deal, Note, Task, User
from crm.uow import UnitOfWork

M = TypeVar("M", bound=Model)


async def locked(uow: UnitOfWork, model: type[M], label: str, object_id: int, **scope: int) -> M:
    """`model` row `object_id`, locked for the transaction; NOT_FOUND outside `scope` (the account)."""
    query = model.filter(id=object_id, **scope).using_db(uow.conn).select_for_update()
    found = await query.first()
    if found is None:
        raise NotFound(f"no {label} with id {object_id} in this account")
    return found


async def in_account(uow: UnitOfWork, model: type[M], label: str, object_id: int) -> M:
    """A row of a model with its own `account_id` column, locked; NOT_FOUND in other accounts."""
    return await locked(uow, model, label, object_id, account_id=uow.actor.account_id)


async def contact(uow: UnitOfWork, contact_id: int) -> Contact:
    return await locked(uow, Contact, "contact", contact_id, account_id=uow.actor.account_id)


async def call(uow: UnitOfWork, call_id: int) -> Call:
    return await locked(uow, Call, "call", call_id, contact__account_id=uow.actor.account_id)


async def deal(uow: UnitOfWork, deal_id: int) -> Deal:
    return await locked(uow, Deal, "deal", deal_id, contact__account_id=uow.actor.account_id)


async def note(uow: UnitOfWork, note_id: int) -> Note:
    return await locked(uow, Note, "note", note_id, contact__account_id=uow.actor.account_id)


async def attachment(uow: UnitOfWork, attachment_id: int) -> Attachment:
    return await locked(uow, Attachment, "attachment", attachment_id, account_id=uow.actor.account_id)


async def user(uow: UnitOfWork, user_id: int) -> User:
    found = await User.filter(id=user_id, account_id=uow.actor.account_id).using_db(uow.conn).first()
    if found is None:
        raise NotFound(f"no user with id {user_id} in this account")
    return found


async def task(uow: UnitOfWork, task_id: int) -> Task:
    return await in_account(uow, Task, "task", task_id)


async def assignee_id(uow: UnitOfWork, user_id: int | None) -> int | None:
    """An `assigneeId` input (tasks, billing jobs): None, or a user of the account."""
    if user_id is None:
        return None
    try:
        return (await user(uow, user_id)).id
    except NotFound:
        raise NotFound(f"no user with id {user_id} in this account", field="assigneeId") from None
