"""The README's first command, as a new user runs it: `dossier serve --demo`, then GraphiQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "graph" / "example_card_query.graphql").read_text()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_key(process: subprocess.Popen[str], deadline: float) -> tuple[str, list[str]]:
    lines: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line.rstrip())
        if line.startswith("Demo API key:"):
            return line.split(":", 1)[1].strip(), lines
    raise AssertionError("no demo key printed:\n" + "\n".join(lines))


def _wait_until_serving(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)  # the server is still starting; this is a bounded start-up wait
    raise AssertionError("the server did not start")


@pytest.mark.timeout(180)
def test_serve_demo_prints_a_key_that_works_in_graphiql(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DOSSIER_DATABASE_URL": f"sqlite://{tmp_path / 'dossier.db'}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DOSSIER_REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "dossier.cli", "serve", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 150
        key, printed = _wait_for_key(process, deadline)
        assert any(f"http://127.0.0.1:{port}/graphql" in line for line in printed)
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(base, deadline)

        page = httpx.get(base + "/graphql", headers={"Accept": "text/html"}, timeout=10)
        assert page.status_code == 200
        assert f"Bearer {key}" in page.text and "fragment Card on Contact" in page.text

        # The card GraphiQL opens with: the example query with the page's Variables.
        config = page.text.split('id="dossier-graphiql-config">', 1)[1].split("</script>", 1)[0]
        variables = json.loads(json.loads(config)["tabs"][0]["variables"])
        body = httpx.post(
            base + "/graphql",
            json={"query": EXAMPLE, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ).json()
        assert "errors" not in body, body.get("errors")
        card = body["data"]["contact"]
        assert card["id"] == variables["id"] and card["displayName"]
        assert card["journey"]["totalCount"] >= 100
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
