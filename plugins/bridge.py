"""What the GraphQL layer may ask of plugins while resolving a card (injected by create_app)."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from crm.contracts import CardAddress, CardContact, CardLink, PropertyFacts
from plugins.calls import _answer, first_result, implementations
from plugins.manager import DossierPlugins, PluginInfo

log = logging.getLogger("dossier.plugins")

# CardLink.kind: the built-ins' words (DIRECTIONS, PROPERTY, CALL, SMS, EMAIL), OTHER, or a
# plugin's own word in the same form, so clients can switch on it.
LINK_KIND = re.compile(r"[A-Z][A-Z0-9_]{0,31}")


class PluginBridge:
    def __init__(self, pm: DossierPlugins) -> None:
        self._pm = pm

    async def card_links(self, contact: CardContact) -> list[CardLink]:
        """Every plugin's links, each stamped with the plugin that gave it. A broken links
        plugin costs its links, never the card; a link that is not a CardLink, or whose kind
        is not an upper-case word, is left out and logged."""
        links: list[CardLink] = []
        for impl in implementations(self._pm, "card_links"):
            answer = await _answer(impl, "card_links", True, {"contact": contact})
            if answer is None:
                continue
            for link in answer if isinstance(answer, list | tuple) else [answer]:
                if not isinstance(link, CardLink) or not LINK_KIND.fullmatch(link.kind):
                    log.warning(
                        "plugin %s returned a card link Dossier cannot show (a CardLink whose kind "
                        "matches %s is expected): %r",
                        impl.plugin_name, LINK_KIND.pattern, link,
                    )  # fmt: skip
                    continue
                links.append(
                    link if link.plugin == impl.plugin_name else replace(link, plugin=impl.plugin_name)
                )
        return links

    async def property_facts(self, address: CardAddress) -> PropertyFacts | None:
        # A failing provider is logged and the next one asked; with none left the card is
        # shown without the facts.
        return await first_result(self._pm, "property_facts", swallow=True, address=address)  # type: ignore[no-any-return]

    def plugins(self) -> list[PluginInfo]:
        return self._pm.listing()
