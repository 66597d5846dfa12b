"""The typed request context: who is calling, this request's loaders, the live broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as _Info

from crm.actor import Actor
from crm.contracts import CardAddress, CardContact, CardLink, PropertyFacts
from crm.errors import Unauthenticated
from crm.live import Broker
from graph.resolvers.loaders import Loaders


class CardPlugins(Protocol):
    """What resolvers may ask of plugins; implemented by plugins.bridge, injected by create_app."""

    async def card_links(self, contact: CardContact) -> list[CardLink]: ...

    async def property_facts(self, address: CardAddress) -> PropertyFacts | None: ...

    def plugins(self) -> list[Any]: ...


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    broker: Broker
    plugins: CardPlugins
    request_id: str
    actor: Actor | None = None
    # Filled in by the graphql-transport-ws handler from the connection_init payload.
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = field(default=None, repr=False)

    def require_actor(self) -> Actor:
        if self.actor is None:
            raise Unauthenticated("send an API key: Authorization: Bearer <key>")
        return self.actor

    def reset_loaders(self) -> None:
        """Forget what the loaders cached (a mutation changed it, or the request is over)."""
        if self._loaders is not None:
            self._loaders.release()
        self._loaders = None

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.require_actor().account_id)
        return self._loaders


Info = _Info[Context, None]
