"""What a bulk action, import or export could not do, item by item (BulkJob.errors)."""

from tortoise import fields
from tortoise.models import Model


class JobError(Model):
    id = fields.IntField(primary_key=True)
    job = fields.ForeignKeyField("models.BackgroundJob", related_name=False, on_delete=fields.CASCADE)
    # Import: the file's row number (1 = the header row, so data starts at 2); else null.
    row = fields.IntField(null=True)
    # Bulk actions: the contact it concerns; null once that contact is deleted.
    contact = fields.ForeignKeyField(
        "models.Contact", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    column = fields.CharField(max_length=200, null=True)
    code = fields.CharField(max_length=32)  # e.g. INVALID, DUPLICATE, NO_CONSENT, FORBIDDEN
    message = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "job_error"
        indexes = (("job_id", "id"),)
