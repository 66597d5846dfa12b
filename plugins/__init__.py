"""Integrations (pluggy): the hook contract, the plugin manager and the outbox dispatcher."""

import pluggy

hookimpl = pluggy.HookimplMarker("dossier")

__all__ = ["hookimpl"]
