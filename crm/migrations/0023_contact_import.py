"""Imports (issue 14, D7) -- filled by the import work."""

from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("models", "0022_contact_filter_indexes")]

    initial = False

    operations: list = []
