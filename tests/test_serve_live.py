"""`dossier serve` as a user runs it: a real uvicorn process, a live subscription over a real
WebSocket, and a start-up without deprecation warnings."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets

CREATE = 'mutation { createContact(input: {firstName: "Ada"}) { id } }'
ADD_TAG = "mutation($input: TagInput!) { addTag(input: $input) { id } }"
JOURNEY = "subscription($id: ID!) { journey(contactId: $id) { kind summary } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(120)
async def test_a_subscription_over_a_served_websocket(tmp_path: Path) -> None:
    env = {**os.environ, "DOSSIER_DATABASE_URL": f"sqlite://{tmp_path / 'live.db'}"}
    env.pop("DOSSIER_FAST_PATH", None)
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "dossier.cli",
            "account",
            "create",
            "Live Co",
            "--email",
            "a@live.example.com",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = _free_port()
    cmd = [sys.executable, "-m", "dossier.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
                await asyncio.sleep(0.1)  # bounded start-up poll
            contact = (await client.post("/graphql", json={"query": CREATE})).json()["data"]["createContact"][
                "id"
            ]

            uri = f"ws://127.0.0.1:{port}/graphql"
            async with websockets.connect(uri, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                await ws.send(json.dumps({"type": "connection_init", "payload": headers}))
                assert json.loads(await ws.recv()) == {"type": "connection_ack"}
                subscribe = {"query": JOURNEY, "variables": {"id": contact}}
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
                # The subscription is registered once the server answers a ping sent after it.
                await ws.send(json.dumps({"type": "ping"}))
                assert json.loads(await ws.recv()) == {"type": "pong"}
                answer = None
                for attempt in range(50):  # the broker may take a moment to listen: change again
                    variables = {"input": {"contactId": contact, "name": f"VIP{attempt}"}}
                    await client.post("/graphql", json={"query": ADD_TAG, "variables": variables})
                    try:
                        answer = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                        break
                    except TimeoutError:
                        continue
                assert answer is not None, "no event arrived"
                assert answer["type"] == "next" and answer["id"] == "1"
                assert answer["payload"]["data"]["journey"]["kind"] == "TAG_ADDED"
    finally:
        process.terminate()
        try:
            _, errors = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
    assert "DeprecationWarning" not in errors, errors
