"""The plugin manager: built-ins and partner packages, registered the same way."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pluggy

from plugins import hookspecs

log = logging.getLogger("dossier.plugins")

ENTRY_POINT_GROUP = "dossier.plugins"

# Built-in plugins, as importable module names, registered exactly like partner plugins.
# The integrations (SMS, email, maps, webhooks) join this tuple as they are built.
DEFAULT_PLUGINS: tuple[str, ...] = ()


def _load_entry_points(pm: pluggy.PluginManager, disabled: set[str]) -> None:
    """Load partner packages one by one: a package that fails to import is logged and skipped.

    pluggy's own `load_setuptools_entrypoints` lets one broken package stop start-up.
    """
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in disabled or pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception:
            log.exception("plugin %r (%s) failed to import and was skipped", ep.name, ep.value)
            continue
        pm.register(plugin, name=ep.name)


def make_plugin_manager(
    *,
    extra: Iterable[object] = (),
    disabled: Sequence[str] = (),
    load_entry_points: bool = True,
) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("dossier")
    pm.add_hookspecs(hookspecs)
    blocked = set(disabled)
    for name in blocked:
        pm.set_blocked(name)
    for module_name in DEFAULT_PLUGINS:
        if module_name not in blocked:
            pm.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        _load_entry_points(pm, blocked)
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or getattr(plugin, "name", None)
        if name not in blocked:
            pm.register(plugin, name=name)
    # A misspelt hook implementation must fail loudly at start-up, not be silently ignored.
    pm.check_pending()
    return pm


def subscribers(pm: pluggy.PluginManager) -> Callable[[str], list[str]]:
    """For the outbox: the names of the plugins implementing a hook, in call order."""

    def plugins_for(hook: str) -> list[str]:
        caller = getattr(pm.hook, hook, None)
        if caller is None:
            return []
        return [impl.plugin_name for impl in reversed(caller.get_hookimpls())]

    return plugins_for


def implementation(pm: pluggy.PluginManager, hook: str, plugin: str) -> Callable[..., Any] | None:
    caller = getattr(pm.hook, hook, None)
    if caller is None:
        return None
    for impl in caller.get_hookimpls():
        if impl.plugin_name == plugin:
            return impl.function
    return None
