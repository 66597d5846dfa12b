"""One communication history and insights (issue 12: B9, A9).

`Contact.communications` reads each table's newest items of a card by its own time
(graph/resolvers/communications_loaders.py): calls by scheduled_at, messages by created_at,
leads by submitted_at. These indexes give one card's page by an index walk that stops after
`first` + 1 rows per table, however long the card's history. Chat messages need no schema
change: a message's channel column (8 characters) holds CHAT.
"""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0014_jobs_quotes_invoices")]

    initial = False

    operations = [
        ops.AddIndex(model_name="Call", index=Index(fields=["contact_id", "scheduled_at"])),
        ops.AddIndex(model_name="Message", index=Index(fields=["contact_id", "created_at"])),
        ops.AddIndex(model_name="Lead", index=Index(fields=["contact_id", "submitted_at"])),
    ]
