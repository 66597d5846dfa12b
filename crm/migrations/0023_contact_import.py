"""Imports (issue 14, D7): a contact's "new data" flag, set when an imported row merged into it
(article 001: "a new icon will appear next to it") and cleared by clearNewData."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0022_contact_filter_indexes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Contact",
            name="new_data_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
