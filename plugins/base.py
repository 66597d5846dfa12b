"""A tiny base for plugins that act on events through the host's providers.

Contract: `startup(host)` stores the host; until it has run, `host` is None and handlers must
not assume providers. `actor(event)` is who the plugin is in the journey of that event's account.
"""

from __future__ import annotations

from crm.actor import Actor
from crm.events import CardEvent
from plugins import hookimpl
from plugins.host import PluginHost


class HostedPlugin:
    name = "plugin"

    def __init__(self) -> None:
        self.host: PluginHost | None = None

    @hookimpl
    def startup(self, host: PluginHost) -> None:
        self.host = host

    def _actor(self, event: CardEvent) -> Actor:
        return Actor.plugin(event.account_id, self.name)
