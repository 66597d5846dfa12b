"""Users, the account and the viewer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from crm import regions
from crm.models import Account as AccountModel
from crm.models import ApiKey as ApiKeyModel
from crm.models import Contact as ContactModel
from crm.models import Tag as TagModel
from crm.services import header
from graph.schema.common import SharedObjects
from graph.schema.enums import Role, Routing


@strawberry.type(description="A person who works in the account.")
class User(relay.Node):
    id: relay.NodeID[int]
    name: str
    email: str
    role: Role
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(
            id=row["id"], name=row["name"], email=row["email"], role=Role(row["role"]),
            created_at=row["created_at"],
        )  # fmt: skip

    @strawberry.field(description="Where reminders are texted (E.164; setUserPhone), if anywhere.")
    async def phone(self, info: strawberry.Info) -> str | None:
        # Not a column of the user rows the card joins everywhere: loaded only when asked for.
        return await info.context.loaders.user_phone.load(self.id)  # type: ignore[no-any-return]


_USER_KEYS: dict[str, tuple[str, str, str, str, str]] = {}
# A card points at the same few users hundreds of times (every journey entry's actor): equal
# joined columns give the same User object. Bounded; a renamed user simply gets a new entry.
_USERS: SharedObjects[tuple[Any, ...], User] = SharedObjects(4096)
_ROLES = {role.value: role for role in Role}


def joined_user(row: dict[str, Any], relation: str, batch: dict[Any, Any] | None = None) -> User | None:
    """The user a row points at through `relation`, from the columns its query joined
    (`graph.resolvers.loaders.with_users`). A row without them is a bug: KeyError, not None.

    `batch`, for the rows of one statement: one statement reads one snapshot, so its rows
    pointing at the same user id carry the same user columns, and the user is looked up by
    id alone after the first of them."""
    keys = _USER_KEYS.get(relation)
    if keys is None:
        keys = _USER_KEYS[relation] = tuple(  # type: ignore[assignment]
            f"{relation}__{column}" for column in ("id", "name", "email", "role", "created_at")
        )
    id_key, name_key, email_key, role_key, created_key = keys  # type: ignore[misc]
    user_id = row[id_key]
    if user_id is None:
        return None
    if batch is not None:
        found = batch.get(user_id)
        if found is not None:
            return found  # type: ignore[no-any-return]
    values = (user_id, row[name_key], row[email_key], row[role_key], row[created_key])
    user = _USERS.get(values, _new_user, *values)
    if batch is not None:
        batch[user_id] = user
    return user


def _new_user(user_id: int, name: str, email: str, role: str, created_at: datetime) -> User:
    role_member = _ROLES.get(role) or Role(role)
    return User(id=user_id, name=name, email=email, role=role_member, created_at=created_at)


@strawberry.type(description="An API key of the account (admins). The key itself is shown only when created.")
class ApiKey(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="What the key is for, given when it was created.")
    prefix: str = strawberry.field(
        description="The key's first characters, to tell keys apart; never the key or its hash."
    )
    user: User = strawberry.field(description="Whose rights the key carries.")
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(
        description="When a request last authenticated with it; updated at most once a minute."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked; a revoked key is refused and its open WebSockets closed."
    )

    @classmethod
    def from_model(cls, api_key: ApiKeyModel) -> ApiKey:
        user = api_key.user
        return cls(
            id=api_key.id, name=api_key.label, prefix=api_key.prefix,
            user=User(id=user.id, name=user.name, email=user.email, role=Role(user.role),
                      created_at=user.created_at),
            created_at=api_key.created_at, last_used_at=api_key.last_used_at, revoked_at=api_key.revoked_at,
        )  # fmt: skip


@strawberry.type(description="A status a contact can have, with its sub-statuses.")
class StatusOption:
    name: str
    sub_statuses: list[str]
    converts: bool = strawberry.field(
        description="Reaching this status counts as a conversion and records convertedAt."
    )
    routing: Routing | None = strawberry.field(
        default=None,
        description="CLIENT: reaching this status sends the card to the client; MANAGER: to a manager "
        "for review first (a Conversion either way).",
    )


@strawberry.type(description="The tag a contact carries; the account keeps one list of them.")
class Tag(relay.Node):
    id: relay.NodeID[int]
    name: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Tag:
        return cls(id=row["id"], name=row["name"])


@strawberry.type(description="The tenant: every read and write is scoped to the caller's account.")
class Account:
    name: str
    statuses: list[StatusOption]
    sms_number: str | None = strawberry.field(description="The account's own SMS sender, E.164.")
    client_email: str | None = strawberry.field(
        default=None, description="Where conversions are emailed (updateAccountSettings, admins)."
    )
    region: str | None = strawberry.field(
        default=None,
        description="The account's own region for phone numbers written without a country code "
        "(ISO 3166-1 alpha-2; updateAccountSettings, admins); null: the server's default.",
    )
    currency: str = strawberry.field(
        default="USD",
        description="ISO 4217 code the card's sums are in (opportunity, insights, rewards); "
        "updateAccountSettings, admins.",
    )
    referral_landing_url: str | None = strawberry.field(
        default=None,
        description="Where referral links (GET /r/{code}) send visitors, with ref={code} added "
        "(updateAccountSettings, admins); null: referral links answer 404.",
    )
    lead_sources: list[str] = strawberry.field(
        default_factory=list,
        description="The values a contact's leadSource may take (setLeadSourceList, admins).",
    )
    action_plans: list[str] = strawberry.field(
        default_factory=list,
        description="The values a contact's actionPlan may take (setActionPlanList, admins).",
    )
    sales_cycles: list[str] = strawberry.field(
        default_factory=list,
        description="The values a contact's salesCycle may take (setSalesCycleList, admins).",
    )
    notify_by_sms: bool = strawberry.field(
        default=False,
        description="Due tasks and call reminders are also texted to users with a phone "
        "(updateAccountSettings, admins).",
    )
    phone_region: str = strawberry.field(
        default="US",
        description="The region national phone numbers are read in: region, else the server's "
        "DOSSIER_DEFAULT_REGION.",
    )
    _id: strawberry.Private[int] = 0

    @classmethod
    def from_model(cls, account: AccountModel) -> Account:
        return cls(
            name=account.name,
            statuses=[
                StatusOption(name=s["name"], sub_statuses=list(s.get("subStatuses") or []),
                             converts=bool(s.get("converts")),
                             routing=Routing(s["routing"]) if s.get("routing") else None)
                for s in account.statuses
            ],
            sms_number=account.sms_number,
            client_email=account.client_email,
            region=account.region,
            currency=account.currency,
            lead_sources=header.values_of(account, header.HEADER_BY_COLUMN["lead_source"]),
            action_plans=header.values_of(account, header.HEADER_BY_COLUMN["action_plan"]),
            sales_cycles=header.values_of(account, header.HEADER_BY_COLUMN["sales_cycle"]),
            referral_landing_url=account.referral_landing_url,
            phone_region=regions.effective(account.region),
            notify_by_sms=bool(account.notify_by_sms),
            _id=account.id,
        )  # fmt: skip

    @strawberry.field(description="How many contacts have ever converted (reached a converting status).")
    async def converted_count(self) -> int:
        return await ContactModel.filter(account_id=self._id, converted_at__isnull=False).count()

    @strawberry.field(description="The account's tag list.")
    async def tags(self) -> list[Tag]:
        rows = await TagModel.filter(account_id=self._id).order_by("name").values("id", "name")
        return [Tag.from_row(r) for r in rows]


@strawberry.type(description="A loaded plugin: built-in or installed from a package.")
class PluginInfo:
    name: str
    version: str
    builtin: bool
    hooks: list[str] = strawberry.field(description="The hooks it implements.")


@strawberry.type(description="Who is calling: the API key's user and account.")
class Viewer:
    user: User
    account: Account
