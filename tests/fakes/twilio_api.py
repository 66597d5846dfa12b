"""The fake Twilio API now lives in the package, for partners too: dossier.plugin.testing.twilio."""

from dossier.plugin.testing.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    PUBLIC_URL,
    FakeTwilio,
    Recorded,
    Served,
    fresh,
    serve_twilio,
    signature,
    signed_headers,
)

__all__ = [
    "ACCOUNT_SID",
    "AUTH_TOKEN",
    "FROM_NUMBER",
    "PUBLIC_URL",
    "FakeTwilio",
    "Recorded",
    "Served",
    "fresh",
    "serve_twilio",
    "signature",
    "signed_headers",
]
