"""(issue 13) -- filled in by the part that owns it; empty until then."""

from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("models", "0019_attachments")]

    initial = False

    operations: list = []
