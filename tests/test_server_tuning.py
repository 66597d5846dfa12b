"""What a server process switches on that an embedding application or a test does not."""

from __future__ import annotations

import gc
from typing import Any

from dossier import Settings


def test_server_settings_run_the_fast_path_and_tune_the_collector() -> None:
    served = Settings.from_env({})
    assert served.fast_path is True and served.gc_tuning is True
    plain = Settings.from_env({"DOSSIER_FAST_PATH": "off", "DOSSIER_GC_TUNING": "off"})
    assert plain.fast_path is False and plain.gc_tuning is False
    # Built in code (tests, embedding), the collector is left alone and the fast path
    # follows DOSSIER_FAST_PATH.
    assert Settings().gc_tuning is False and Settings().fast_path is None


async def test_a_tuned_server_freezes_what_start_up_built(running_app: Any) -> None:
    threshold = gc.get_threshold()
    try:
        async with running_app(gc_tuning=True) as api:
            assert gc.get_threshold() == (50_000, 20, 100)
            assert gc.get_freeze_count() > 0
            # And it still answers: the frozen objects are the app's own, not garbage.
            body = await api.post("{ __typename }")
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    async with running_app() as api:
        assert gc.get_threshold() == threshold
        assert gc.get_freeze_count() == 0
