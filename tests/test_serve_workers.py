"""`dossier serve --workers N`: several server processes on one PostgreSQL and one Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from dossier.cli import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@pytest.mark.timeout(120)
def test_two_server_processes_serve_the_api(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("DOSSIER_DATABASE_URL", postgres_url)
    assert main(["account", "create", "Workers Co", "--email", "ops@workers.example.com"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]

    port = _free_port()
    env = {
        **os.environ,
        "DOSSIER_DATABASE_URL": postgres_url,
        "DOSSIER_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    cmd = [sys.executable, "-m", "dossier.cli", "serve", "--workers", "2", "--port", str(port)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
            time.sleep(0.1)  # bounded start-up poll
        for _ in range(10):
            body = httpx.post(
                base + "/graphql",
                json={"query": "{ viewer { account { name } } }"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            ).json()
            assert body == {"data": {"viewer": {"account": {"name": "Workers Co"}}}}
        assert len(_children(process.pid)) >= 2  # uvicorn's supervisor and its two workers
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
