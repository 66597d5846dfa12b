"""A benchmark's server in a subprocess of its own, so server and client do not share a core.

The parent binds a free port on 127.0.0.1 and hands the socket to the child, which runs the
same script with `--serve-fd FD` and whatever else tells it which app to serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def serve(fd: int, app: Any, *, lifespan: str = "on") -> None:
    """In the child: serve `app` on the inherited socket until SIGINT."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan)
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it stopped on
        asyncio.run(server.serve(sockets=[socket.socket(fileno=fd)]))


class ServerProcess:
    """In the parent: start `script --serve-fd FD *args`, wait for it, stop it gracefully."""

    def __init__(self, script: str, *args: str) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))  # a free port, held open and handed to the child
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        fd = self._sock.fileno()
        cmd = [sys.executable, str(Path(script).resolve()), "--serve-fd", str(fd), *args]
        self.proc = subprocess.Popen(cmd, pass_fds=(fd,), cwd=ROOT)

    async def ready(self, path: str = "/healthz", ok: tuple[int, ...] = (200,)) -> None:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"a benchmark server exited with {self.proc.returncode}")
                try:
                    if (await client.get(path)).status_code in ok:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)  # start-up poll, not a wait for work
        raise RuntimeError("a benchmark server did not start within 30 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully (lifespan runs)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._sock.close()
