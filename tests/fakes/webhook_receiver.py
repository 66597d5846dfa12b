"""A real HTTP receiver of Dossier's webhooks: Starlette served by uvicorn on 127.0.0.1.

It runs in a background thread with its own event loop, so the app under test talks to it
over a real socket. It records every request and answers 200 unless told otherwise, per
path: `fail(path, times, status)` answers `status` to the next `times` requests,
`answer(path, status)` changes the answer for good, `hang(path, times)` holds the next
requests without answering (the sender's timeout must give up) until the receiver stops.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HANG = -1  # a planned "answer" that never comes


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    answered: int | None  # the status sent back; None while held (hang)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.json()["id"]


class WebhookReceiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._planned: dict[str, deque[int]] = defaultdict(deque)
        self._default: dict[str, int] = {}
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- telling it how to answer ----------------------------------------------------

    def fail(self, path: str, times: int, status: int = 500) -> None:
        with self._lock:
            self._planned[path].extend([status] * times)

    def hang(self, path: str, times: int) -> None:
        with self._lock:
            self._planned[path].extend([HANG] * times)

    def answer(self, path: str, status: int) -> None:
        with self._lock:
            self._default[path] = status

    # -- what it got -----------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    # -- the server ------------------------------------------------------------------

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            plan = self._planned[request.url.path]
            status = plan.popleft() if plan else self._default.get(request.url.path, 200)
            answered = None if status == HANG else status
            self._received.append(
                Received(request.url.path, {k.lower(): v for k, v in request.headers.items()}, body, answered)
            )
        if status == HANG:
            assert self._release is not None
            await self._release.wait()
            status = 200
        return Response(b"ok" if status < 300 else b"nope", status_code=status)

    def _serve(self, sock: socket.socket) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._release = asyncio.Event()
            assert self._server is not None
            self._ready.set()
            await self._server.serve(sockets=[sock])

        asyncio.run(main())

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # connections queue here even before uvicorn accepts them
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=0.5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name="webhook-receiver", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the webhook receiver did not start")

    def stop(self) -> None:
        """Stop serving (again is fine): held requests are answered first."""
        if self._thread is None or not self._thread.is_alive():
            return
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
