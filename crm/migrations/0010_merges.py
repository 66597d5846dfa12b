"""Merge and unmerge (issue 11, D2).

- contact.merged_into: set while a contact is absorbed into another by a merge. The contact is
  kept (hidden) so the merge can be undone; deleting the primary deletes it too (CASCADE).
- contact_merge: one row per merge with exactly what moved, what was filled and the absorbed
  contacts' own values (crm/models/merges.py); a card's merges by (primary_id, id).
- (account_id, secondary_email) on contact: duplicate candidates are found by either email
  or either phone of the other contacts through an index, never a scan of the account.
"""

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0009_conversions")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Contact",
            name="merged_into",
            field=fields.ForeignKeyField(
                "models.Contact",
                source_field="merged_into_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name=False,
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.AddIndex(model_name="Contact", index=Index(fields=["account_id", "secondary_email"])),
        ops.CreateModel(
            name="Merge",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("account", fields.ForeignKeyField("models.Account", source_field="account_id", db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.CASCADE)),
                ("primary", fields.ForeignKeyField("models.Contact", source_field="primary_id", db_constraint=True, to_field="id", related_name="merges", on_delete=OnDelete.CASCADE)),
                ("absorbed_ids", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("absorbed", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("moved", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("kept", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("filled", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("actor_kind", fields.CharField(max_length=8)),
                ("actor_user", fields.ForeignKeyField("models.User", source_field="actor_user_id", null=True, db_constraint=True, to_field="id", related_name=False, on_delete=OnDelete.SET_NULL)),
                ("actor_name", fields.CharField(max_length=120)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("undone_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("undone_by_name", fields.CharField(null=True, max_length=120)),
            ],
            options={
                "table": "contact_merge",
                "app": "models",
                "indexes": [Index(fields=["primary_id", "id"]), Index(fields=["account_id", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
