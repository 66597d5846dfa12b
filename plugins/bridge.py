"""What the GraphQL layer may ask of plugins while resolving a card (injected by create_app)."""

from __future__ import annotations

from crm.contracts import CardAddress, CardContact, CardLink, PropertyFacts
from plugins.calls import all_results, first_result
from plugins.manager import DossierPlugins, PluginInfo


class PluginBridge:
    def __init__(self, pm: DossierPlugins) -> None:
        self._pm = pm

    async def card_links(self, contact: CardContact) -> list[CardLink]:
        # A broken links plugin costs its links, never the card.
        results = await all_results(self._pm, "card_links", swallow=True, contact=contact)
        return [link for link in results if isinstance(link, CardLink)]

    async def property_facts(self, address: CardAddress) -> PropertyFacts | None:
        # A failing provider is logged and the next one asked; with none left the card is
        # shown without the facts.
        return await first_result(self._pm, "property_facts", swallow=True, address=address)  # type: ignore[no-any-return]

    def plugins(self) -> list[PluginInfo]:
        return self._pm.listing()
