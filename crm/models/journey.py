"""The journey: an append-only log of every change made to a card."""

from typing import Any

from tortoise import fields
from tortoise.models import Model


class JournalIsAppendOnly(RuntimeError):
    pass


class JourneyEvent(Model):
    id = fields.BigIntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField("models.Contact", related_name="journey", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=40)
    occurred_at = fields.DatetimeField()
    actor_kind = fields.CharField(max_length=8)  # USER | SYSTEM | PLUGIN
    actor_user = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    # Denormalised so the journey still says who did it after the user is renamed or removed.
    actor_name = fields.CharField(max_length=120)
    summary = fields.CharField(max_length=500)
    # {field: [before, after]} with JSON-safe values.
    changes = fields.JSONField(default=dict)
    subject_type = fields.CharField(max_length=16, null=True)  # Call | Deal | Note | Tag ...
    subject_id = fields.IntField(null=True)

    class Meta:
        table = "journey_event"
        indexes = (("contact_id", "id"),)

    async def save(self, *args: Any, **kwargs: Any) -> None:
        # The journey is evidence: once written an entry never changes.
        if self._saved_in_db:
            raise JournalIsAppendOnly("journey events cannot be edited")
        await super().save(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        raise JournalIsAppendOnly("journey events cannot be deleted")
