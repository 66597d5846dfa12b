"""Leads (D1): one row per form submission, held by the contact it was matched to or made.

A `Form` is a public intake endpoint (`POST /forms/{key}`): its key is the only credential a
web page holds, so it is unguessable and can be revoked. A `Lead` keeps what the submission
said (form, variant, answers and UTMs through their `lead` link, where it came from) and how
it was matched; the contact it points at is a normal `contact` foreign key, so a merge that
moves every row pointing at a contact moves the leads too.
"""

from tortoise import fields
from tortoise.models import Model


class Form(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name="forms", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=200)
    # secrets.token_urlsafe(24): 32 characters, 192 bits. Unique, so the intake finds it by index.
    key = fields.CharField(max_length=64, unique=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "lead_form"
        indexes = (("account_id", "id"),)


class Lead(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name="leads", on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField("models.Contact", related_name="leads", on_delete=fields.CASCADE)
    form = fields.ForeignKeyField("models.Form", related_name="leads", null=True, on_delete=fields.SET_NULL)
    form_name = fields.CharField(max_length=200)
    variant = fields.CharField(max_length=200, null=True)
    ip_address = fields.CharField(max_length=45, null=True)
    referrer = fields.CharField(max_length=1000, null=True)
    submitted_at = fields.DatetimeField()
    status = fields.CharField(max_length=12)  # NEW | DUPLICATE
    match_reason = fields.CharField(max_length=16)  # EMAIL | PHONE | EMAIL_AND_PHONE | NEW
    # SHA-256 of the form name and the answers (crm.services.leads.fingerprint): equal
    # submissions of one contact within the duplicate window are found by index.
    fingerprint = fields.CharField(max_length=64)
    # The identity fields the submission gave, by their API names, as normalised.
    identity = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "lead"
        indexes = (
            ("contact_id", "id"),  # a card's leads, and its first and latest touch
            ("account_id", "form_name", "status", "id"),  # the root `leads` list and its filters
            ("contact_id", "fingerprint", "submitted_at"),  # the duplicate check
            ("account_id", "id"),  # the root `leads` list unfiltered, newest first
            ("contact_id", "submitted_at"),  # the communication history, newest first
            # The contacts table's lead filters (migration 0022): by form, ids for the UTM join.
            ("account_id", "form_id", "id", "contact_id"),
            ("submitted_at", "contact_id"),  # ... and lastInteraction
        )
