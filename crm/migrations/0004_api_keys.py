"""API keys listed and revoked through the API and the CLI: when each was last used."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0003_scale_indexes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ApiKey",
            name="last_used_at",
            field=fields.DatetimeField(null=True),
        ),
    ]
