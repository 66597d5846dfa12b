"""Who is acting: the journey records it for every change."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"


class ActorKind(StrEnum):
    USER = "USER"
    SYSTEM = "SYSTEM"
    PLUGIN = "PLUGIN"


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller of a service: always bound to exactly one account."""

    account_id: int
    kind: ActorKind
    name: str
    user_id: int | None = None
    role: Role | None = None

    @classmethod
    def user(cls, account_id: int, user_id: int, name: str, role: str) -> Actor:
        return cls(account_id, ActorKind.USER, name, user_id, Role(role))

    @classmethod
    def plugin(cls, account_id: int, plugin_name: str) -> Actor:
        return cls(account_id, ActorKind.PLUGIN, plugin_name)

    @property
    def is_manager(self) -> bool:
        """Admins and managers, and the system itself, may act on anybody's records."""
        return self.kind is not ActorKind.USER or self.role in (Role.ADMIN, Role.MANAGER)
