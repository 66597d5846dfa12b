"""A fake property-data provider (the contract in plugins/maps/property.py), served by uvicorn
on 127.0.0.1 in a background thread, so the plugin's real httpx path runs.

Set `facts` (the JSON answered for every address), `status`, `raw_body` (sent as is, e.g.
not JSON) or `hang` (the request waits until the server stops); `requests` records each call.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.smtp import free_port


@dataclass
class PropertyRequest:
    address: str | None
    authorization: str | None


@dataclass
class FakePropertyApi:
    facts: dict[str, Any] = field(
        default_factory=lambda: {
            "estimate": 412000,
            "currency": "USD",
            "beds": 3,
            "baths": 2.5,
            "yearBuilt": 1987,
            "squareFeet": 1850,
            "url": "https://props.example.com/123-main",
        }
    )
    status: int = 200
    raw_body: str | None = None
    hang: bool = False
    requests: list[PropertyRequest] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        app = Starlette(routes=[Route("/v1/property", self._endpoint)])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-property-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/property"

    async def _endpoint(self, request: Request) -> Response:
        self.requests.append(
            PropertyRequest(request.query_params.get("address"), request.headers.get("authorization"))
        )
        while self.hang and not self._server.should_exit:
            await asyncio.sleep(0.01)
        if self.raw_body is not None:
            return Response(self.raw_body, status_code=self.status, media_type="application/json")
        return JSONResponse(self.facts, status_code=self.status)

    def __enter__(self) -> FakePropertyApi:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake property API did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
