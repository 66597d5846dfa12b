"""The maps plugin: card links (directions, Zillow, tel:, sms:, mailto:) and property facts (C5, C6).

Links need no settings and cost no SQL: they are built from the card being shown (see
`plugins.maps.links` for the URL shapes). Property facts need a provider:

- `DOSSIER_PROPERTY_DATA_URL`: the provider's endpoint (http or https); see
  `plugins.maps.property` for the contract it must follow.
- `DOSSIER_PROPERTY_DATA_KEY`: sent as `Authorization: Bearer <key>` when set.
- `DOSSIER_PROPERTY_CACHE_SECONDS`: how long an answer is kept (default 604800, 7 days; 0: never).
- `DOSSIER_PROPERTY_TIMEOUT`: seconds to wait for the provider (default 5); the card waits for it.

A malformed value stops start-up with a message naming the variable.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from crm.contracts import CardAddress, CardContact, CardLink, PropertyFacts
from plugins import hookimpl
from plugins.host import PluginHost
from plugins.maps import links
from plugins.maps.property import DEFAULT_CACHE_SECONDS, DEFAULT_TIMEOUT, PropertyData


class MapsSettingError(ValueError):
    """A DOSSIER_PROPERTY_* variable has a value that cannot be used."""


def _seconds(host: PluginHost, name: str, default: float, *, allow_zero: bool) -> float:
    raw = host.setting(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        raise MapsSettingError(f"DOSSIER_{name} must be a number of seconds; got {raw!r}")
    return value


class MapsPlugin:
    name = "maps"

    def __init__(self) -> None:
        self.property_data: PropertyData | None = None

    @hookimpl
    def startup(self, host: PluginHost) -> None:
        url = host.setting("PROPERTY_DATA_URL")
        cache = _seconds(host, "PROPERTY_CACHE_SECONDS", DEFAULT_CACHE_SECONDS, allow_zero=True)
        timeout = _seconds(host, "PROPERTY_TIMEOUT", DEFAULT_TIMEOUT, allow_zero=False)
        if url is None:
            self.property_data = None
            return
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MapsSettingError(f"DOSSIER_PROPERTY_DATA_URL must be an http(s) URL; got {url!r}")
        self.property_data = PropertyData(
            http=host.http,
            url=url,
            api_key=host.setting("PROPERTY_DATA_KEY"),
            max_age=timedelta(seconds=cache),
            timeout=timeout,
        )

    @hookimpl
    def capabilities(self) -> list[str]:
        return ["maps", "property_data"] if self.property_data else ["maps"]

    @hookimpl
    def card_links(self, contact: CardContact) -> list[CardLink]:
        return links.card_links(contact, self.name)

    @hookimpl
    async def property_facts(self, address: CardAddress) -> PropertyFacts | None:
        if self.property_data is None or not links.locates_property(address):
            return None
        return await self.property_data.facts(address)
