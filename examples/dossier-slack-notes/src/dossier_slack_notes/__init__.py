"""A Dossier partner plugin: announce won deals in Slack and note the announcement on the card.

Settings (environment variables, read through `host.setting` at start-up):

- `DOSSIER_SLACK_WEBHOOK_URL`: a Slack incoming-webhook URL (any endpoint that accepts
  `{"text": ...}` works). Without it the plugin stays quiet.
- `DOSSIER_SLACK_NOTE_ON_CARD`: `false` to skip the note on the card (default: on).
"""

from __future__ import annotations

import html
from collections import OrderedDict
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dossier.plugin import Actor, CardEvent, add_note, hookimpl

if TYPE_CHECKING:
    import httpx

    from dossier.plugin import PluginHost

__version__ = "0.1.0"

WON = "WON"
_REMEMBERED = 10_000  # event ids kept to recognise a replayed event


def _money(amount: Any, currency: str) -> str:
    # The event's amount already has its currency's decimal places ("1500.50" USD, "2000" JPY):
    # group the thousands and keep every digit as given.
    try:
        return f"{Decimal(str(amount)):,f} {currency}"
    except (InvalidOperation, ValueError):
        return f"{amount} {currency}"


def won_message(event: CardEvent) -> str:
    """The Slack text for a won deal, e.g. "Coaching won with Ada Lovelace: 1,500.50 USD (by Rita)"."""
    deal = event.subject
    money = _money(deal.get("amount"), deal.get("currency", ""))
    return (
        f":trophy: {deal.get('productName', 'A deal')} won with {event.contact.display_name}: "
        f"{money} (by {event.actor.name})"
    )


class SlackNotes:
    """Registered under `name`; the same name is the journey's actor for what it writes."""

    name = "slack-notes"

    def __init__(self) -> None:
        self.webhook_url: str | None = None
        self.note_on_card = True
        self.http: httpx.AsyncClient | None = None
        # event id -> how far this process got with it ("posted", "noted"): a replayed event
        # (a retry after the note failed, a lease that ran out) repeats neither step.
        self._progress: OrderedDict[str, str] = OrderedDict()

    # -- start-up ----------------------------------------------------------------------

    @hookimpl
    def startup(self, host: PluginHost) -> None:
        self.webhook_url = host.setting("SLACK_WEBHOOK_URL")
        self.note_on_card = (host.setting("SLACK_NOTE_ON_CARD", "true") or "").lower() not in (
            "0",
            "false",
            "no",
            "off",
        )
        self.http = host.http

    @hookimpl
    def capabilities(self) -> list[str]:
        return ["slack"] if self.webhook_url else []

    # -- events --------------------------------------------------------------------------

    @hookimpl
    async def deal_added(self, event: CardEvent) -> None:
        if event.subject.get("status") == WON:
            await self._announce(event)

    @hookimpl
    async def deal_updated(self, event: CardEvent) -> None:
        before, after = event.changes.get("status") or (None, None)
        if after == WON and before != WON:
            await self._announce(event)

    async def _announce(self, event: CardEvent) -> None:
        if not self.webhook_url or self.http is None:
            return  # not configured: nothing to do, and nothing to retry
        text = won_message(event)
        progress = self._progress.get(event.id)
        if progress is None:
            # Slack does not deduplicate; the header lets any receiver that does so. Raising
            # (a refused or unreachable webhook) makes Dossier retry this event later.
            response = await self.http.post(
                self.webhook_url, json={"text": text}, headers={"Idempotency-Key": event.id}
            )
            response.raise_for_status()
            self._remember(event.id, "posted")
        if self.note_on_card and progress != "noted":
            # Back into Dossier through a service, as this plugin: the journey says who wrote it.
            actor = Actor.plugin(event.account_id, self.name)
            body = f"<b>Announced in Slack</b>: {html.escape(text.removeprefix(':trophy: '))}"
            await add_note(actor, event.contact_id, body)
            self._remember(event.id, "noted")

    def _remember(self, event_id: str, step: str) -> None:
        self._progress[event_id] = step
        self._progress.move_to_end(event_id)
        while len(self._progress) > _REMEMBERED:
            self._progress.popitem(last=False)
