"""Fixtures for testing the plugin against a real Dossier app and a fake Slack on 127.0.0.1.

Everything comes from Dossier's public testing module, `dossier.plugin.testing`: an app with
the plugin loaded on a temporary SQLite file (`start_dossier`), delivery of queued events
when the test says so (`dossier.deliver()`), and an HTTP endpoint that records what it gets.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dossier.plugin.testing import FakeEndpoint, fake_endpoint

# Test the source tree, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

WEBHOOK_PATH = "/services/T000/B000/secret"


class FakeSlack:
    """An incoming-webhook endpoint: records each POST, answers with the queued statuses (then 200)."""

    def __init__(self, endpoint: FakeEndpoint) -> None:
        self.endpoint = endpoint
        self.url = endpoint.url + WEBHOOK_PATH

    @property
    def received(self) -> list:  # type: ignore[type-arg]
        return self.endpoint.received

    @property
    def statuses(self) -> list[int]:
        return self.endpoint.statuses

    @statuses.setter
    def statuses(self, values: list[int]) -> None:
        self.endpoint.statuses[:] = values

    @property
    def texts(self) -> list[str]:
        return [r.json()["text"] for r in self.endpoint.received]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with fake_endpoint() as endpoint:
        endpoint.reply = b"ok"
        yield FakeSlack(endpoint)
