"""Calling hooks the way Dossier does: async implementations awaited, one helper for all.

pluggy's own firstresult stops at the first non-None return value, and a coroutine is never
None; so provider hooks are walked here, awaiting each implementation in turn.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import pluggy

log = logging.getLogger("dossier.plugins")


def implementations(pm: pluggy.PluginManager, hook: str) -> list[Any]:
    caller = getattr(pm.hook, hook, None)
    return list(reversed(caller.get_hookimpls())) if caller is not None else []


async def await_result(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _answer(impl: Any, hook: str, swallow: bool, kwargs: dict[str, Any]) -> Any:
    """One implementation's result. With `swallow` (hooks that feed a read, where one broken
    plugin must not break it) a failure is logged and counts as no answer (None); without it
    the failure propagates (a send raises to be retried)."""
    try:
        return await await_result(impl.function(**kwargs))
    except Exception:
        if not swallow:
            raise
        log.exception("plugin %s failed in %s; its answer is left out", impl.plugin_name, hook)
        return None


async def first_result(pm: pluggy.PluginManager, hook: str, *, swallow: bool = False, **kwargs: Any) -> Any:
    """The first non-None result of a provider hook, in registration order (last registered
    first); with `swallow`, a failing provider gives way to the next."""
    for impl in implementations(pm, hook):
        result = await _answer(impl, hook, swallow, kwargs)
        if result is not None:
            return result
    return None


async def all_results(
    pm: pluggy.PluginManager, hook: str, *, swallow: bool = False, **kwargs: Any
) -> list[Any]:
    """Every implementation's result, flattened one level; with `swallow`, a failing plugin is
    left out."""
    results: list[Any] = []
    for impl in implementations(pm, hook):
        value = await _answer(impl, hook, swallow, kwargs)
        if value is None:
            continue
        if isinstance(value, list | tuple):
            results.extend(value)
        else:
            results.append(value)
    return results


def has_implementation(pm: pluggy.PluginManager, hook: str) -> bool:
    return bool(implementations(pm, hook))
