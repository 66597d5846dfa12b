"""Leads and intake forms (D1, A7, A11): a `lead` per form submission, held by a contact; the
contact's UTMs and form answers point at the lead that brought them (null for those given to
createContact before or without a lead).

Indexes: a card's leads (contact_id, id); the root `leads` list, newest first, unfiltered
(account_id, id) and by form and status (account_id, form_name, status, id); the duplicate
check (contact_id, fingerprint, submitted_at); a form by its key (unique); the answers and UTMs
of a lead (lead_id).
"""

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0006_note_author")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Form",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "account",
                    fields.ForeignKeyField(
                        "models.Account",
                        source_field="account_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="forms",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("key", fields.CharField(unique=True, max_length=64)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "lead_form",
                "app": "models",
                "indexes": [Index(fields=["account_id", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Lead",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "account",
                    fields.ForeignKeyField(
                        "models.Account",
                        source_field="account_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="leads",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "contact",
                    fields.ForeignKeyField(
                        "models.Contact",
                        source_field="contact_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="leads",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "form",
                    fields.ForeignKeyField(
                        "models.Form",
                        source_field="form_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="leads",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("form_name", fields.CharField(max_length=200)),
                ("variant", fields.CharField(null=True, max_length=200)),
                ("ip_address", fields.CharField(null=True, max_length=45)),
                ("referrer", fields.CharField(null=True, max_length=1000)),
                ("submitted_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("status", fields.CharField(max_length=12)),
                ("match_reason", fields.CharField(max_length=16)),
                ("fingerprint", fields.CharField(max_length=64)),
                ("identity", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "lead",
                "app": "models",
                "indexes": [
                    Index(fields=["contact_id", "id"]),
                    Index(fields=["account_id", "form_name", "status", "id"]),
                    Index(fields=["contact_id", "fingerprint", "submitted_at"]),
                    Index(fields=["account_id", "id"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Utm",
            name="lead",
            field=fields.ForeignKeyField(
                "models.Lead",
                source_field="lead_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="utms",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.AddField(
            model_name="FormAnswer",
            name="lead",
            field=fields.ForeignKeyField(
                "models.Lead",
                source_field="lead_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="answers",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.AddIndex(model_name="Utm", index=Index(fields=["lead_id"])),
        ops.AddIndex(model_name="FormAnswer", index=Index(fields=["lead_id"])),
    ]
