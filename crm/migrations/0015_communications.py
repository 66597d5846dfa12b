"""One communication history and insights (issue 12: B9, A9)."""

from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("models", "0014_jobs_quotes_invoices")]

    initial = False

    operations = []
