"""Imports (issue 14, D7): a contact's "new data" flag, set when an imported row merged into it
(article 001: "a new icon will appear next to it") and cleared by clearNewData; an index on the
lowered email and one on the phone, for matching rows to contacts."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0022_contact_filter_indexes")]

    initial = False

    operations = [
        # An imported row matches a contact by email, case aside, or by phone, a batch at a time
        # (crm/imports/writing.py): indexes that lead with the account keep each lookup on its
        # own index whatever the planner's statistics say.
        ops.RunSQL(
            'CREATE INDEX "idx_contact_account_lower_email" ON "contact" ("account_id", LOWER("email"))',
            reverse_sql='DROP INDEX "idx_contact_account_lower_email"',
        ),
        ops.RunSQL(
            'CREATE INDEX "idx_contact_account_phone" ON "contact" ("account_id", "phone")',
            reverse_sql='DROP INDEX "idx_contact_account_phone"',
        ),
        ops.AddField(
            model_name="Contact",
            name="new_data_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
