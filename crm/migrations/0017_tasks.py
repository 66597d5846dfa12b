"""(issue 13) -- filled in by the part that owns it; empty until then."""

from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("models", "0016_referrals_rewards")]

    initial = False

    operations: list = []
