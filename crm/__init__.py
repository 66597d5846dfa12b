"""Dossier's domain core: tortoise models, services (the only writers), journey and outbox.

`crm` depends on neither `graph` nor `plugins`; they depend on it.
"""
