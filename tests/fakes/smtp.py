"""The fake SMTP server now lives in the package, for partners too: dossier.plugin.testing.smtp."""

from dossier.plugin.testing.smtp import FakeSmtpServer, Received, RecordingHandler, free_port

__all__ = ["FakeSmtpServer", "Received", "RecordingHandler", "free_port"]
