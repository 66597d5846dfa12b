"""The account's region for national phone numbers (issue 11 follow-up, D10).

- account.region: ISO 3166-1 alpha-2 (e.g. "GB"); null means the server's DOSSIER_DEFAULT_REGION,
  so every existing account keeps reading national numbers exactly as before.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0010_merges")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Account",
            name="region",
            field=fields.CharField(max_length=2, null=True),
        ),
    ]
