"""Signed outgoing webhooks (SPEC C8).

Admins register endpoints (`createWebhookEndpoint`); every card event they subscribe to is
POSTed as JSON `{"id", "type", "kind", "createdAt", "data"}` with the headers
`Dossier-Event` (the hook name), `Dossier-Delivery` (the delivery's id in the log) and
`Dossier-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`. A 2xx answer
delivers it; anything else (redirects included), or no answer within
`DOSSIER_WEBHOOKS_TIMEOUT` seconds (10), is retried through the outbox with backoff.
Receivers check the signature with `verify_signature` and dedupe on `id`.
Endpoints resolving to loopback, private or other non-public addresses are refused unless
`DOSSIER_WEBHOOKS_ALLOW_PRIVATE=true` (an admin key must not probe the server's network).
"""

from plugins.webhooks.plugin import WebhooksPlugin, event_body
from plugins.webhooks.signing import SIGNATURE_HEADER, compute_signature, sign, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "WebhooksPlugin",
    "compute_signature",
    "event_body",
    "sign",
    "verify_signature",
]
