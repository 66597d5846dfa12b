"""Referrals, rewards ledger, privacy and communication opt-ins (issue 12: E1-E3)."""

from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("models", "0015_communications")]

    initial = False

    operations = []
