"""Accounts, users, API keys, and account settings (the status list)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from crm import validation as v
from crm.actor import Actor, Role
from crm.clock import utcnow
from crm.errors import BadInput, Conflict, Forbidden, NotFound
from crm.models import Account, ApiKey, Contact, User

KEY_PREFIX = "dsk_"
MAX_STATUSES = 30


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    user: User
    key: str  # shown once; only its hash is stored


def _role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        raise BadInput(f"role must be one of {', '.join(r.value for r in Role)}", field="role") from None


async def _issue(user: User, label: str, conn: Any) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await ApiKey.create(user=user, key_hash=hash_key(key), prefix=key[:12], label=label, using_db=conn)
    return key


async def create_account(name: str, admin_email: str, admin_name: str | None = None) -> IssuedKey:
    """A new tenant with its first admin user, who gets a new API key."""
    account_name = v.clean_text(name, "name", max_length=120, required=True)
    email = v.clean_email(admin_email, "email")
    if email is None:
        raise BadInput("an admin email is required", field="email")
    async with in_transaction() as conn:
        if await Account.filter(name=account_name).using_db(conn).exists():
            raise Conflict(f"an account named {account_name!r} already exists")
        account = await Account.create(name=account_name, using_db=conn)
        user = await User.create(
            account=account,
            name=v.clean_text(admin_name, "name", max_length=120) or email.split("@")[0],
            email=email,
            role=Role.ADMIN.value,
            using_db=conn,
        )
        key = await _issue(user, "created with the account", conn)
    return IssuedKey(user, key)


async def create_user(account_name: str, name: str, email: str, role: str) -> IssuedKey:
    user_name = v.clean_text(name, "name", max_length=120, required=True)
    user_email = v.clean_email(email, "email")
    if user_email is None:
        raise BadInput("an email is required", field="email")
    user_role = _role(role)
    async with in_transaction() as conn:
        account = await Account.filter(name=account_name).using_db(conn).first()
        if account is None:
            raise NotFound(f"no account named {account_name!r}")
        if await User.filter(account=account, email=user_email).using_db(conn).exists():
            raise Conflict(f"{user_email} is already a user of {account_name}")
        user = await User.create(
            account=account, name=user_name, email=user_email, role=user_role.value, using_db=conn
        )
        key = await _issue(user, "created with the user", conn)
    return IssuedKey(user, key)


async def issue_api_key(user_id: int, label: str = "") -> str:
    async with in_transaction() as conn:
        user = await User.filter(id=user_id).using_db(conn).first()
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return await _issue(user, v.clean_text(label, "label", max_length=120) or "", conn)


async def authenticate(key: str) -> Actor | None:
    """The actor an API key stands for, or None for an unknown or revoked key."""
    if not key.startswith(KEY_PREFIX):
        return None
    # Every request runs this before anything else: one statement written once, not built by
    # the query builder each time.
    conn = Tortoise.get_connection("default")
    mark = "$1" if conn.capabilities.dialect == "postgres" else "?"
    _, rows = await conn.execute_query(_AUTHENTICATE_SQL.format(mark=mark), [hash_key(key)])
    if not rows:
        return None
    user_id, name, role, account_id = rows[0]
    return Actor.user(account_id, user_id, name, role)


_AUTHENTICATE_SQL = (
    f'SELECT k."user_id", u."name", u."role", u."account_id" FROM "{ApiKey._meta.db_table}" k'
    f' JOIN "{User._meta.db_table}" u ON u."id" = k."user_id"'
    ' WHERE k."key_hash" = {mark} AND k."revoked_at" IS NULL'
)


async def revoke_api_keys(user_id: int) -> int:
    return await ApiKey.filter(user_id=user_id, revoked_at__isnull=True).update(revoked_at=utcnow())


def _clean_statuses(statuses: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not statuses:
        raise BadInput("the status list needs at least one status", field="statuses")
    if len(statuses) > MAX_STATUSES:
        raise BadInput(f"at most {MAX_STATUSES} statuses", field="statuses")
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in statuses:
        name = v.clean_text(entry.get("name"), "statuses.name", max_length=50, required=True)
        assert name is not None
        if name.casefold() in seen:
            raise BadInput(f"status {name!r} is listed twice", field="statuses")
        seen.add(name.casefold())
        subs = [
            s
            for s in (
                v.clean_text(sub, "statuses.subStatuses", max_length=50)
                for sub in entry.get("subStatuses") or ()
            )
            if s
        ]
        if len({s.casefold() for s in subs}) != len(subs):
            raise BadInput(f"status {name!r} lists a sub-status twice", field="statuses")
        cleaned.append({"name": name, "subStatuses": subs, "converts": bool(entry.get("converts"))})
    return cleaned


async def set_status_list(actor: Actor, statuses: Sequence[Mapping[str, Any]]) -> Account:
    """Replace the account's status list. Statuses still held by contacts cannot be dropped."""
    if actor.role is not Role.ADMIN:
        raise Forbidden("only admins can change the status list")
    cleaned = _clean_statuses(statuses)
    async with in_transaction() as conn:
        account = await Account.filter(id=actor.account_id).using_db(conn).select_for_update().get()
        kept = {s["name"] for s in cleaned}
        dropped = [s["name"] for s in account.statuses if s["name"] not in kept]
        if dropped:
            in_use = await Contact.filter(account_id=account.id, status__in=dropped).using_db(conn).count()
            if in_use:
                raise Conflict(
                    f"{in_use} contact(s) still have status {', '.join(dropped)}; "
                    "move them to another status first"
                )
        account.statuses = cleaned
        await account.save(using_db=conn)
    return account
