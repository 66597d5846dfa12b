"""Background jobs: long work (apply a custom field to all, bulk actions, imports, exports) run in
batches by the outbox dispatcher (crm/jobs.py), resumable from `cursor`."""

from tortoise import fields
from tortoise.models import Model


class BackgroundJob(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=64)  # a key of crm.jobs.JOB_KINDS
    status = fields.CharField(max_length=16, default="QUEUED")  # QUEUED RUNNING DONE FAILED CANCELLED
    params = fields.JSONField(default=dict)  # what the kind needs, fixed when queued
    cursor = fields.JSONField(default=dict)  # where the next batch starts (the kind's own shape)
    # The number of the next step expected: a step delivered twice (a worker died after its
    # commit, before the outbox row was marked delivered) finds it moved on and does nothing.
    step = fields.IntField(default=0)
    total = fields.IntField(default=0)
    done = fields.IntField(default=0)
    skipped = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    error = fields.TextField(null=True)
    # Kind-specific outcome, e.g. skipped counts by reason, an import's created/merged/duplicate
    # counts (issue 14). Written by the kind's steps; shown through BulkJob.
    result = fields.JSONField(null=True)
    # The object in the attachments storage (crm/storage) the job produced: an export's file, an
    # import's report. Null until there is one.
    file_key = fields.CharField(max_length=300, null=True)
    file_name = fields.CharField(max_length=200, null=True)
    file_content_type = fields.CharField(max_length=100, null=True)
    file_size = fields.BigIntField(null=True)
    dry_run = fields.BooleanField(default=False, db_default=False)
    started_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "background_job"
        indexes = (("account_id", "id"),)
