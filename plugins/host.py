"""What a plugin gets at start-up: its settings, the shared HTTP client, the providers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pluggy

from crm.contracts import EmailReceipt, OutboundEmail, OutboundSms, PhoneLine, SmsReceipt
from plugins.calls import first_result, has_implementation


@dataclass
class PluginHost:
    """Handed to every plugin's `startup(host)` hook.

    `setting("TWILIO_FROM")` reads `DOSSIER_TWILIO_FROM` from the environment the app was
    started with, so each plugin owns its settings without Dossier knowing them.
    """

    env: Mapping[str, str]
    http: httpx.AsyncClient
    pm: pluggy.PluginManager
    public_url: str | None = None

    def setting(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(f"DOSSIER_{name}")
        return value if value not in (None, "") else default

    # Providers, for plugins that act on events (the SMS plugin sends through whichever
    # provider plugin answers first).

    async def send_sms(self, message: OutboundSms) -> SmsReceipt | None:
        return await first_result(self.pm, "send_sms", message=message)

    async def lookup_phone_line(self, phone: str) -> PhoneLine | None:
        return await first_result(self.pm, "lookup_phone_line", phone=phone)

    async def send_email(self, message: OutboundEmail) -> EmailReceipt | None:
        return await first_result(self.pm, "send_email", message=message)

    def provides(self, hook: str) -> bool:
        return has_implementation(self.pm, hook)

    def public_link(self, path: str) -> str | None:
        """An absolute URL the outside world can call back, built from DOSSIER_PUBLIC_URL."""
        return self.public_url.rstrip("/") + path if self.public_url else None

    def __repr__(self) -> str:  # never print settings: they hold secrets
        return f"PluginHost(public_url={self.public_url!r})"


def plugin_name(plugin: Any) -> str:
    return getattr(plugin, "name", None) or getattr(plugin, "__name__", None) or type(plugin).__name__
