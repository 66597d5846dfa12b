"""The contact card's lifecycle (issue 11, D4/D5/D10/C6).

- contact.archived_at: set while a contact is archived (archiveContacts), cleared by
  restoreContacts; an archived contact leaves the contacts list and refuses new calls and
  messages, and only an archived contact can be deleted.
- (account_id, secondary_phone) on contact: contactByPhone looks an incoming caller up by the
  stored E.164 of either phone, each side an index lookup. The primary phone has had an index
  of its own since 0001 (`phone`, db_index), which PostgreSQL prefers at 1M contacts
  (bench/contact_by_phone.py); an (account_id, phone) index beside it went unused, so there
  is none.
- call.direction, call.duration_seconds, call.summary: logCall records a call that already
  happened (INBOUND or OUTBOUND, how long it lasted, what was said). Booked calls keep
  direction NULL.
- outbox (contact_id): deleteContacts erases the outbox rows of a deleted card's earlier
  events (they hold copies of it) without scanning the whole outbox.
"""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0007_leads")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Contact",
            name="archived_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(model_name="Contact", index=Index(fields=["account_id", "secondary_phone"])),
        ops.AddIndex(model_name="OutboxRow", index=Index(fields=["contact_id"])),
        ops.AddField(
            model_name="Call",
            name="direction",
            field=fields.CharField(max_length=16, null=True),
        ),
        ops.AddField(
            model_name="Call",
            name="duration_seconds",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="Call",
            name="summary",
            field=fields.TextField(null=True),
        ),
    ]
