"""The plugin manager: built-ins and partner packages, registered the same way."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy

from plugins import hookspecs
from plugins.host import plugin_name

log = logging.getLogger("dossier.plugins")

ENTRY_POINT_GROUP = "dossier.plugins"

# Built-in plugins as "module:attribute", registered exactly like partner plugins: a class
# is instantiated (no arguments; settings come through the `startup` hook), anything else
# (a module, an object) is registered as it is.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "plugins.sms:SmsPlugin",
    "plugins.sms.twilio:TwilioProvider",
    "plugins.email:EmailPlugin",
    "plugins.email.smtp:SmtpProvider",
    "plugins.maps:MapsPlugin",
    "plugins.webhooks:WebhooksPlugin",
)


# The distribution the built-ins ship in. Not "dossier": that name on the package index is an
# unrelated library, whose version must never be reported as Dossier's.
DISTRIBUTION = "dossier-crm"


def dossier_version() -> str:
    """The installed dossier-crm's version ("unknown" when run from a tree nobody installed)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _instance(target: Any) -> Any:
    return target() if isinstance(target, type) else target


def _load(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    return _instance(getattr(module, attribute) if attribute else module)


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    version: str
    hooks: tuple[str, ...]
    builtin: bool


class DossierPlugins(pluggy.PluginManager):
    """pluggy's manager plus what Dossier knows about each plugin (version, origin)."""

    def __init__(self) -> None:
        super().__init__("dossier")
        self.versions: dict[str, str] = {}
        self.builtins: set[str] = set()

    def add(self, plugin: Any, *, version: str, builtin: bool = False) -> None:
        name = plugin_name(plugin)
        if self.is_blocked(name) or self.has_plugin(name):
            return
        self.register(plugin, name=name)
        self.versions[name] = version
        if builtin:
            self.builtins.add(name)

    def listing(self) -> list[PluginInfo]:
        infos = []
        for name, plugin in sorted(self.list_name_plugin()):
            if plugin is None:  # a name blocked by settings: pluggy keeps it as a placeholder
                continue
            hooks = tuple(sorted(caller.name for caller in self.get_hookcallers(plugin) or ()))
            infos.append(PluginInfo(name, self.versions.get(name, "unknown"), hooks, name in self.builtins))
        return infos


def _load_entry_points(pm: DossierPlugins) -> None:
    """Load partner packages one by one: a package that fails to import is logged and skipped.

    pluggy's own `load_setuptools_entrypoints` lets one broken package stop start-up.
    """
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
            continue
        try:
            plugin = _instance(ep.load())
        except Exception:
            log.exception("plugin %r (%s) failed to import and was skipped", ep.name, ep.value)
            continue
        dist = getattr(ep, "dist", None)
        version = dist.version if dist is not None else "unknown"
        if pm.is_blocked(plugin_name(plugin)):
            continue
        pm.register(plugin, name=ep.name)
        pm.versions[ep.name] = version


def make_plugin_manager(
    *,
    extra: Iterable[object] = (),
    disabled: Sequence[str] = (),
    load_entry_points: bool = True,
    builtins: Sequence[str] = DEFAULT_PLUGINS,
) -> DossierPlugins:
    pm = DossierPlugins()
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    for spec in builtins:
        pm.add(_load(spec), version=dossier_version(), builtin=True)
    if load_entry_points:
        _load_entry_points(pm)
    for plugin in extra:
        pm.add(plugin, version="in-process")
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


def builtin_names(specs: Sequence[str] = DEFAULT_PLUGINS) -> tuple[str, ...]:
    """The registered names of the built-in plugins (e.g. to disable them all in a test)."""
    return tuple(plugin_name(_load(spec)) for spec in specs)
