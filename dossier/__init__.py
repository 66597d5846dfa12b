"""Dossier: the composition root. `create_app()` wires settings, database, plugins and API."""

from dossier.app import create_app
from dossier.settings import Settings

__all__ = ["Settings", "create_app"]
