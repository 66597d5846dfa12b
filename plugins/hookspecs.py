"""The partner contract: every hook a Dossier plugin can implement.

Implement a hook with `@dossier_hookimpl` (`from plugins import hookimpl`), as a plain
function or `async def`. Event hooks are delivered through the outbox *after* the change
committed: they receive a `crm.events.CardEvent` snapshot, never ORM objects; they may
take their time (they never block a mutation); raising makes the dispatcher retry the
same event for the same plugin later, with exponential backoff, up to the configured
number of attempts. Use `event.id` to make a handler idempotent.
"""

from __future__ import annotations

import pluggy

from crm.events import CardEvent

hookspec = pluggy.HookspecMarker("dossier")

# ---------------------------------------------------------------------------------------
# Contact events
# ---------------------------------------------------------------------------------------


@hookspec
def contact_created(event: CardEvent) -> None:
    """A contact was created (`createContact`); `event.subject` holds its UTMs and form answers."""


@hookspec
def contact_updated(event: CardEvent) -> None:
    """Identity fields changed (`updateContact`); `event.changes` maps each to [before, after]."""


@hookspec
def contact_status_changed(event: CardEvent) -> None:
    """The status or sub-status changed; a conversion adds `convertedAt` to `event.changes`."""


@hookspec
def contact_owners_changed(event: CardEvent) -> None:
    """Setter owner, closer owner or assigned rep changed; changes hold the users' names."""


@hookspec
def tag_added(event: CardEvent) -> None:
    """A tag was put on the contact; `event.subject["name"]` is the tag."""


@hookspec
def tag_removed(event: CardEvent) -> None:
    """A tag was taken off the contact; `event.subject["name"]` is the tag."""


# ---------------------------------------------------------------------------------------
# Call events (event.subject_type == "Call")
# ---------------------------------------------------------------------------------------


@hookspec
def call_scheduled(event: CardEvent) -> None:
    """A call was booked; `event.subject` has eventName, scheduledAt, durationMinutes."""


@hookspec
def call_rescheduled(event: CardEvent) -> None:
    """A call moved; `event.changes["scheduledAt"]` is [old, new] in ISO 8601 UTC."""


@hookspec
def call_cancelled(event: CardEvent) -> None:
    """A call was cancelled; `event.changes["cancelReason"][1]` is the reason, if given."""


@hookspec
def call_outcome_set(event: CardEvent) -> None:
    """A call's outcome (CALLED, NO_ANSWER, SPOKE, NO_SHOW, ...) was set or changed."""


# ---------------------------------------------------------------------------------------
# Deal events (event.subject_type == "Deal")
# ---------------------------------------------------------------------------------------


@hookspec
def deal_added(event: CardEvent) -> None:
    """A deal was added; `event.subject` has productName, amount (a decimal string), currency."""


@hookspec
def deal_updated(event: CardEvent) -> None:
    """A deal changed, e.g. its status went to WON; `event.changes` has [before, after]."""


# ---------------------------------------------------------------------------------------
# Note events (event.subject_type == "Note")
# ---------------------------------------------------------------------------------------


@hookspec
def note_added(event: CardEvent) -> None:
    """A note was posted; `event.subject["body"]` is its sanitised HTML."""


@hookspec
def note_edited(event: CardEvent) -> None:
    """A note was edited; `event.changes["body"]` is [old HTML, new HTML]."""


@hookspec
def note_deleted(event: CardEvent) -> None:
    """A note was deleted; `event.subject["body"]` is what it said."""
