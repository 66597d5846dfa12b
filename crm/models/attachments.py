"""Files on a card (B8) and call recordings (B2): rows that point at objects in storage.

The object is written first and the row second (crm/services/attachments.py), so a row always
has its object; an object without a row is an orphan that `dossier storage sweep` removes.
"""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AttachmentKind(StrEnum):
    FILE = "FILE"  # uploaded to a card (addAttachment, POST /attachments)
    RECORDING = "RECORDING"  # a call's recording (the recordings part: attachRecording, plugins)


class Attachment(Model):
    id = fields.IntField(primary_key=True)
    # The account is denormalised (the contact has it too) so the download route and the sweep
    # check ownership without a join, and a merge (same account) never has to touch it.
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField("models.Contact", related_name="attachments", on_delete=fields.CASCADE)
    call = fields.ForeignKeyField("models.Call", related_name=False, null=True, on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=12, default=AttachmentKind.FILE.value, db_default="FILE")
    title = fields.CharField(max_length=200)
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=127)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    storage_key = fields.CharField(max_length=255, unique=True)
    duration_seconds = fields.IntField(null=True)
    uploaded_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "attachment"
        indexes = (("contact_id", "id"), ("call_id",))
