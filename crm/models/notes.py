"""Notes (remarks): sanitised rich text written by users."""

from tortoise import fields
from tortoise.models import Model


class Note(Model):
    id = fields.IntField(primary_key=True)
    contact = fields.ForeignKeyField("models.Contact", related_name="notes", on_delete=fields.CASCADE)
    body = fields.TextField()  # sanitised HTML, see crm.richtext
    text_length = fields.IntField()  # visible characters, the quantity the 1500 limit is about
    author = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "note"
        indexes = (("contact_id",),)
