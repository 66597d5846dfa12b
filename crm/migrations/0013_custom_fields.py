"""Custom field definitions and values; background jobs (issue 12: A6)."""

from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("models", "0012_card_header_profile")]

    initial = False

    operations = []
