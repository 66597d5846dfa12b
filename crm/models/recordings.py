"""Share links of call recordings (issue 13: B2).

A call's recording itself is an `Attachment` of kind RECORDING with `call_id` set
(crm/models/attachments.py). A share is a persistent, revocable link to one recording that
works without an API key until it expires: only the SHA-256 of its token is stored, so the
database alone never yields a working link (crm/services/recordings.py derives the token).
"""

from tortoise import fields
from tortoise.models import Model


class RecordingShare(Model):
    id = fields.IntField(primary_key=True)
    # Denormalised from the call's contact: the public route and the loaders scope by it
    # without a join.
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    call = fields.ForeignKeyField("models.Call", related_name=False, on_delete=fields.CASCADE)
    # The recording shared: replacing the call's recording deletes the old attachment and so
    # ends its shares (a link never starts playing other audio than the one that was shared).
    attachment = fields.ForeignKeyField("models.Attachment", related_name=False, on_delete=fields.CASCADE)
    # Random per share; the token is derived from it (crm/services/recordings.share_token).
    salt = fields.CharField(max_length=64)
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    created_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_name = fields.CharField(max_length=120)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_by_name = fields.CharField(max_length=120, null=True)

    class Meta:
        table = "recording_share"
        # A page of calls' newest active share: by call, newest first.
        indexes = (("call_id", "id"),)
