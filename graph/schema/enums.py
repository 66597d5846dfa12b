"""GraphQL enums, each the domain's own enum exposed as is."""

from __future__ import annotations

from enum import Enum

import strawberry

from crm.actor import ActorKind as _ActorKind
from crm.actor import Role as _Role
from crm.journey import JourneyKind as _JourneyKind
from crm.services.call_log import CallDirection as _CallDirection
from crm.services.calls import CallOutcome as _CallOutcome
from crm.services.calls import CallStatus as _CallStatus
from crm.services.conversions import Routing as _Routing
from crm.services.deals import DealStatus as _DealStatus
from crm.services.deals import PaymentType as _PaymentType

JourneyKind = strawberry.enum(_JourneyKind, name="JourneyKind", description="What a journey entry records.")
ActorKind = strawberry.enum(_ActorKind, name="ActorKind", description="Who made a change.")
CallOutcome = strawberry.enum(_CallOutcome, name="CallOutcome", description="How a call went.")
CallStatus = strawberry.enum(_CallStatus, name="CallStatus")
CallDirection = strawberry.enum(
    _CallDirection, name="CallDirection", description="Who called whom, for a call logged after it happened."
)
PaymentType = strawberry.enum(_PaymentType, name="PaymentType")
DealStatus = strawberry.enum(_DealStatus, name="DealStatus")
Routing = strawberry.enum(
    _Routing,
    name="Routing",
    description="Where reaching a status sends the card: to the client at once, or to a manager first.",
)


@strawberry.enum(description="A user's role: admins manage the account, managers any record, reps their own.")
class Role(Enum):
    ADMIN = _Role.ADMIN.value
    MANAGER = _Role.MANAGER.value
    REP = _Role.REP.value


@strawberry.enum(description="Which calls to list, split on the current time.")
class CallWhen(Enum):
    UPCOMING = "UPCOMING"
    PAST = "PAST"
    ALL = "ALL"


@strawberry.enum(description="Badges a client shows next to a call.")
class CallBadge(Enum):
    RESCHEDULED = "RESCHEDULED"
    CANCELLED = "CANCELLED"
    NEEDS_OUTCOME = "NEEDS_OUTCOME"
    RECORDED = "RECORDED"


@strawberry.enum
class JourneyOrder(Enum):
    NEWEST_FIRST = "NEWEST_FIRST"
    OLDEST_FIRST = "OLDEST_FIRST"
