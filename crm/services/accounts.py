"""Accounts, users, API keys, and account settings (the status list)."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from crm import regions
from crm import validation as v
from crm.account_events import queue_account_event
from crm.actor import Actor, ActorKind, Role
from crm.clock import utcnow
from crm.errors import BadInput, Conflict, Forbidden, NotFound
from crm.models import Account, ApiKey, User
from crm.models.contacts import every_contact
from crm.services import conversions
from crm.wiring import wiring

log = logging.getLogger("dossier.accounts")

KEY_PREFIX = "dsk_"
MAX_STATUSES = 30
# `users` lists an account's users whole; the query-cost budget (graph/cost.py) counts on this.
MAX_USERS = 1000


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    user: User
    key: str  # shown once; only its hash is stored
    account_name: str = ""  # as stored (the CLI finds accounts ignoring case)


def _role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        raise BadInput(f"role must be one of {', '.join(r.value for r in Role)}", field="role") from None


async def _issue(user: User, label: str, conn: Any) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await ApiKey.create(user=user, key_hash=hash_key(key), prefix=key[:12], label=label, using_db=conn)
    return key


def name_from_email(email: str) -> str:
    """A person's name guessed from their address: jane.doe@… -> "Jane Doe"; "Admin" when the
    part before the @ holds no letters."""
    local = email.split("@", 1)[0].split("+", 1)[0]
    words = [w for w in re.split(r"[._\-\d]+", local) if w]
    return " ".join(w[:1].upper() + w[1:] for w in words)[:120] or "Admin"


async def _accounts_named(account_name: str, conn: Any = None) -> list[Account]:
    """Accounts whose name is `account_name` ignoring case (Unicode case folding, the same on
    SQLite and PostgreSQL): the one exact match first if there is one. Account names are
    compared in Python because SQLite's lower() folds ASCII only; the CLI and account creation
    are the only callers."""
    wanted = account_name.strip()
    folded = wanted.casefold()
    names = Account.all() if conn is None else Account.all().using_db(conn)
    rows = sorted(await names.values_list("id", "name"), key=lambda row: row[1] != wanted)
    ids = [account_id for account_id, name in rows if name.casefold() == folded]
    if not ids:
        return []
    matching = Account.filter(id__in=ids)
    by_id = {a.id: a for a in await (matching if conn is None else matching.using_db(conn))}
    return [by_id[account_id] for account_id in ids if account_id in by_id]


async def account_named(account_name: str, conn: Any = None) -> Account:
    """The account a CLI user names: an exact match, else the one that differs only in case."""
    found = await _accounts_named(account_name, conn)
    if not found:
        raise NotFound(f"no account named {account_name!r}")
    if found[0].name != account_name.strip() and len(found) > 1:
        names = ", ".join(repr(a.name) for a in found)
        raise BadInput(f"{account_name!r} is ambiguous: it matches {names}; give the name exactly as written")
    return found[0]


async def create_account(name: str, admin_email: str, admin_name: str | None = None) -> IssuedKey:
    """A new tenant with its first admin user, who gets a new API key. Account names are unique
    ignoring case (the CLI finds them ignoring case). The admin's name defaults to one made from
    the email address."""
    account_name = v.clean_text(name, "name", max_length=120, required=True)
    assert account_name is not None
    email = v.clean_email(admin_email, "email")
    if email is None:
        raise BadInput("an admin email is required", field="email")
    async with in_transaction() as conn:
        existing = await _accounts_named(account_name, conn)
        if existing:
            same = (
                "" if existing[0].name == account_name else f" (as {existing[0].name!r}; names ignore case)"
            )
            raise Conflict(f"an account named {account_name!r} already exists{same}")
        account = await Account.create(name=account_name, using_db=conn)
        user = await User.create(
            account=account,
            name=v.clean_text(admin_name, "name", max_length=120) or name_from_email(email),
            email=email,
            role=Role.ADMIN.value,
            using_db=conn,
        )
        key = await _issue(user, "created with the account", conn)
    return IssuedKey(user, key, account.name)


async def create_user(
    account_name: str, name: str, email: str, role: str, *, phone: str | None = None
) -> IssuedKey:
    """`phone`: where reminders are texted (C9), E.164 or national in the account's region."""
    user_name = v.clean_text(name, "name", max_length=120, required=True)
    user_email = v.clean_email(email, "email")
    if user_email is None:
        raise BadInput("an email is required", field="email")
    user_role = _role(role)
    async with in_transaction() as conn:
        account = await account_named(account_name, conn)
        if await User.filter(account=account, email=user_email).using_db(conn).exists():
            raise Conflict(f"{user_email} is already a user of {account.name}")
        if await User.filter(account=account).using_db(conn).count() >= MAX_USERS:
            raise Conflict(f"{account.name} already has {MAX_USERS} users, the most an account may have")
        user_phone = v.clean_phone(phone, "phone", regions.effective(account.region))
        user = await User.create(
            account=account,
            name=user_name,
            email=user_email,
            role=user_role.value,
            phone=user_phone,
            using_db=conn,
        )
        key = await _issue(user, "created with the user", conn)
    return IssuedKey(user, key, account.name)


async def issue_api_key(user_id: int, label: str = "") -> str:
    async with in_transaction() as conn:
        user = await User.filter(id=user_id).using_db(conn).first()
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return await _issue(user, v.clean_text(label, "label", max_length=120) or "", conn)


# -- authenticating a request ------------------------------------------------------------------

# lastUsedAt is written at most this often per key and process: writing it on every request
# would cost every read a write (and, on SQLite, the write lock).
LAST_USED_EVERY = 60.0
_LAST_USED_MAX = 10_000  # keys remembered; the map is cleared past this, costing one early write each
# key hash -> monotonic time this process last wrote its lastUsedAt (or found it refused). By hash:
# ids are reused by a fresh database (tests), hashes of random keys are not.
_last_used: dict[str, float] = {}
_clock = time.monotonic  # tests move it instead of waiting a minute


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """What a working API key stands for: its row id (revocation is by id) and the actor."""

    key_id: int
    actor: Actor


async def identify(key: str) -> KeyIdentity | None:
    """The key's id and actor, or None for an unknown or revoked key (or one whose user is gone).

    One statement either way: normally a SELECT; once a minute per key and process the same
    lookup is an UPDATE of last_used_at that RETURNs the same columns, so stamping lastUsedAt
    costs no extra round trip (the card read path's statement count stays the same).
    """
    if not key.startswith(KEY_PREFIX):
        return None
    digest = hash_key(key)
    conn = Tortoise.get_connection("default")
    postgres = conn.capabilities.dialect == "postgres"
    now = _clock()
    last = _last_used.get(digest)
    if last is not None and now - last < LAST_USED_EVERY:
        _, rows = await conn.execute_query(_AUTHENTICATE_SQL[postgres], [digest])
    else:
        stamp = utcnow()
        try:
            # execute_query_dict: tortoise's execute_query drops the rows of an UPDATE on PostgreSQL.
            if postgres:  # $1 the hash, $2 the time
                touched = await conn.execute_query_dict(_TOUCH_SQL[postgres], [digest, stamp])
            else:  # "?" marks are filled in order of appearance: SET comes before WHERE
                value = _LAST_USED_FIELD.to_db_value(stamp, ApiKey)
                touched = await conn.execute_query_dict(_TOUCH_SQL[postgres], [value, digest])
            rows = [tuple(row[column] for column in _RETURNED) for row in touched]
        except OperationalError as exc:
            # SQLite: another process held the write lock past the busy timeout. lastUsedAt is
            # bookkeeping; the request is answered from the plain lookup, which takes no lock.
            log.warning("lastUsedAt not written (%s); key checked without it", exc)
            _, rows = await conn.execute_query(_AUTHENTICATE_SQL[postgres], [digest])
        # Refused keys are remembered too: a client retrying with a revoked key gets the SELECT,
        # not a write, for the next minute (a refused hash never becomes a working key).
        if len(_last_used) >= _LAST_USED_MAX:
            _last_used.clear()
        _last_used[digest] = now
    if not rows:
        return None
    key_id, user_id, name, role, account_id = rows[0]
    if user_id is None or role is None or account_id is None:
        return None
    return KeyIdentity(key_id, Actor.user(account_id, user_id, name, role))


async def authenticate(key: str) -> Actor | None:
    """The actor an API key stands for, or None for an unknown or revoked key."""
    found = await identify(key)
    return found.actor if found is not None else None


def _marks(postgres: bool) -> tuple[str, str]:
    return ("$1", "$2") if postgres else ("?", "?")


_KEYS, _USERS = ApiKey._meta.db_table, User._meta.db_table
_LAST_USED_FIELD = ApiKey._meta.fields_map["last_used_at"]
_RETURNED = ("key_id", "user_id", "name", "role", "account_id")
# Every request runs one of these before anything else: statements written once, not built by
# the query builder each time. Index True is PostgreSQL's ($n marks), False SQLite's (?).
_AUTHENTICATE_SQL = {
    postgres: (
        f'SELECT k."id", k."user_id", u."name", u."role", u."account_id" FROM "{_KEYS}" k'
        f' JOIN "{_USERS}" u ON u."id" = k."user_id"'
        f' WHERE k."key_hash" = {_marks(postgres)[0]} AND k."revoked_at" IS NULL'
    )
    for postgres in (False, True)
}
# SQLite's RETURNING cannot name the columns of a joined table, but scalar subqueries it can.
_TOUCH_SQL = {
    postgres: (
        f'UPDATE "{_KEYS}" SET "last_used_at" = {_marks(postgres)[1]}'
        f' WHERE "key_hash" = {_marks(postgres)[0]} AND "revoked_at" IS NULL'
        f' RETURNING "id" AS "key_id", "user_id",'
        + ", ".join(
            f' (SELECT u."{column}" FROM "{_USERS}" u WHERE u."id" = "{_KEYS}"."user_id") AS "{column}"'
            for column in ("name", "role", "account_id")
        )
    )
    for postgres in (False, True)
}


async def key_states(key_ids: Sequence[int]) -> dict[int, Actor]:
    """The actor each still-working key stands for now (revoked keys and deleted users are
    left out): open WebSockets compare it with what they were admitted as."""
    found: dict[int, Actor] = {}
    ids = list(dict.fromkeys(key_ids))
    for start in range(0, len(ids), 500):
        rows = await ApiKey.filter(id__in=ids[start : start + 500], revoked_at__isnull=True).values_list(
            "id", "user_id", "user__name", "user__role", "user__account_id"
        )
        for key_id, user_id, name, role, account_id in rows:
            if role is not None and account_id is not None:
                found[key_id] = Actor.user(account_id, user_id, name, role)
    return found


async def revoke_api_keys(user_id: int) -> int:
    """Revoke every working key of a user; their open WebSockets are closed at once."""
    revoked = await ApiKey.filter(user_id=user_id, revoked_at__isnull=True).update(revoked_at=utcnow())
    if revoked:
        await announce_revocation(user_ids=[user_id], reason="this API key was revoked")
    return revoked


# -- managing keys (admins, through the API and the CLI) ----------------------------------------

KEY_NAME_MAX = 120
# Open WebSockets of every server process listen here (graph/live_auth.py): a revoked key's
# sockets are closed at once instead of at their next periodic re-check.
AUTH_CHANNEL = "dossier:auth"
API_KEY_CREATED, API_KEY_REVOKED = "api_key_created", "api_key_revoked"


@dataclass(frozen=True, slots=True)
class CreatedKey:
    api_key: ApiKey  # with .user loaded
    key: str  # the secret: shown this once, only its hash is stored


def _admin(actor: Actor) -> None:
    if actor.kind is ActorKind.USER and actor.role is not Role.ADMIN:
        raise Forbidden("only admins manage API keys")


def _key_subject(api_key: ApiKey, user: User) -> dict[str, Any]:
    return {
        "name": api_key.label,
        "prefix": api_key.prefix,
        "userId": user.id,
        "userName": user.name,
        "userEmail": user.email,
        "revokedAt": api_key.revoked_at.isoformat() if api_key.revoked_at else None,
    }


async def _queue_account_event(
    conn: Any, actor: Actor, hook: str, summary: str, api_key: ApiKey, user: User
) -> int:
    """Outbox rows for an API-key event, in the change's transaction (see AccountEvent)."""
    return await queue_account_event(
        conn, actor, hook, summary,
        subject_type="ApiKey", subject_id=api_key.id, subject=_key_subject(api_key, user),
    )  # fmt: skip


# apiKeys lists at most this many, newest first: the bound graph/cost.py plans `apiKeys` with.
MAX_LISTED_KEYS = 1000


async def list_api_keys(actor: Actor, *, include_revoked: bool = True) -> list[ApiKey]:
    """The account's newest MAX_LISTED_KEYS keys, newest first, each with its user (admins only)."""
    _admin(actor)
    query = ApiKey.filter(user__account_id=actor.account_id)
    if not include_revoked:
        query = query.filter(revoked_at__isnull=True)
    return await query.select_related("user").order_by("-id").limit(MAX_LISTED_KEYS)


async def get_api_key(actor: Actor, key_id: int) -> ApiKey | None:
    """One key of the caller's account, with its user (admins only)."""
    _admin(actor)
    return await ApiKey.filter(id=key_id, user__account_id=actor.account_id).select_related("user").first()


async def system_actor(account_name: str) -> Actor:
    """The actor of `dossier key ...` on the CLI: whoever runs the server, acting on one account."""
    account = await account_named(account_name)
    return Actor(account.id, ActorKind.SYSTEM, "dossier CLI")


async def user_by_email(actor: Actor, email: str) -> User:
    clean = v.clean_email(email, "email")
    found = await User.filter(account_id=actor.account_id, email=clean).first() if clean else None
    if found is None:
        raise NotFound(f"no user with email {email!r} in this account", field="email")
    return found


async def create_api_key(actor: Actor, user_id: int, name: str | None) -> CreatedKey:
    """A new key for a user of the caller's account; the secret is returned this once."""
    _admin(actor)
    label = v.clean_text(name, "name", max_length=KEY_NAME_MAX, required=True)
    assert label is not None
    async with in_transaction() as conn:
        user = await User.filter(id=user_id, account_id=actor.account_id).using_db(conn).first()
        if user is None:
            raise NotFound(f"no user with id {user_id} in this account", field="userId")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        api_key = await ApiKey.create(
            user=user, key_hash=hash_key(key), prefix=key[:12], label=label, using_db=conn
        )
        queued = await _queue_account_event(
            conn, actor, API_KEY_CREATED, f"{actor.name} created API key {label!r} for {user.name}",
            api_key, user,
        )  # fmt: skip
    if queued:
        wiring.outbox_written()
    return CreatedKey(api_key, key)


async def revoke_api_key(actor: Actor, key_id: int) -> ApiKey:
    """Revoke a key of the caller's account: refused at once over HTTP, and every open
    WebSocket using it is closed (4403). Revoking a revoked key changes nothing and returns it
    as it is (idempotent: a retried request gets the same answer).

    Through the API an admin may revoke any key of the account, their own current one included,
    except the account's last working admin key (CONFLICT): nobody could manage keys through
    the API after it. The CLI (a system actor, run by whoever runs the server) may."""
    _admin(actor)
    async with in_transaction() as conn:
        api_key = (
            await ApiKey.filter(id=key_id, user__account_id=actor.account_id)
            .using_db(conn)
            .select_for_update()
            .select_related("user")
            .first()
        )
        if api_key is None:
            raise NotFound(f"no API key with id {key_id} in this account", field="id")
        if api_key.revoked_at is not None:
            return api_key
        user: User = api_key.user
        if actor.kind is ActorKind.USER and user.role == Role.ADMIN.value:
            others = (
                await ApiKey.filter(
                    user__account_id=actor.account_id, user__role=Role.ADMIN.value, revoked_at__isnull=True
                )
                .exclude(id=api_key.id)
                .using_db(conn)
                .exists()
            )
            if not others:
                raise Conflict(
                    "this is the account's last working admin key; create another admin key first "
                    "(or revoke it with `dossier key revoke` on the server)"
                )
        api_key.revoked_at = utcnow()
        await api_key.save(using_db=conn, update_fields=["revoked_at"])
        queued = await _queue_account_event(
            conn, actor, API_KEY_REVOKED,
            f"{actor.name} revoked API key {api_key.label!r} of {user.name}", api_key, user,
        )  # fmt: skip
    if queued:
        wiring.outbox_written()
    await announce_revocation(key_ids=[api_key.id], reason="this API key was revoked")
    return api_key


async def announce_revocation(
    *, key_ids: Sequence[int] = (), user_ids: Sequence[int] = (), reason: str
) -> None:
    """Tell every server process (through the live broker) to close these keys' or users'
    WebSockets now. Best effort: the periodic re-check closes them anyway within seconds."""
    try:
        message = {"keyIds": list(key_ids), "userIds": list(user_ids), "reason": reason}
        await wiring.publish(AUTH_CHANNEL, message)
    except Exception:
        log.exception("could not announce a key revocation; open sockets close at their next re-check")


async def key_revoked_at(key_id: int) -> datetime | None:
    """When a key was revoked (None: working or unknown), for the CLI to say what it did."""
    return await ApiKey.filter(id=key_id).first().values_list("revoked_at", flat=True)  # type: ignore[return-value]


async def key_account_actor(key_id: int) -> Actor:
    """The CLI's actor for revoking a key given by id alone: the system, in the key's account."""
    account_id = await ApiKey.filter(id=key_id).first().values_list("user__account_id", flat=True)
    if account_id is None:
        raise NotFound(f"no API key with id {key_id}")
    return Actor(int(account_id), ActorKind.SYSTEM, "dossier CLI")  # type: ignore[arg-type]


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
        status = {"name": name, "subStatuses": subs, "converts": bool(entry.get("converts"))}
        routing = conversions.clean_routing(entry.get("routing"), name)
        if routing is not None:
            if not cleaned:
                raise BadInput(
                    f"status {name!r} is the status of new contacts and cannot send them anywhere: "
                    "give the routing to a later status",
                    field="statuses.routing",
                )
            status["routing"] = routing
        cleaned.append(status)
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
            # Contacts absorbed by a merge count too: unmergeContacts gives them back their status.
            in_use = (
                await every_contact().filter(account_id=account.id, status__in=dropped).using_db(conn).count()
            )
            if in_use:
                raise Conflict(
                    f"{in_use} contact(s) still have status {', '.join(dropped)}; "
                    "move them to another status first"
                )
        account.statuses = cleaned
        await account.save(using_db=conn)
    return account
