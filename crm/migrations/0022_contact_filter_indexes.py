"""Indexes for the contacts table's filters and sorts (issue 14, D6) -- filled by the filters work."""

from tortoise import migrations


class Migration(migrations.Migration):
    dependencies = [("models", "0021_segments_views_job_results")]

    initial = False

    operations: list = []
