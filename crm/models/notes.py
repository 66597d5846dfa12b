"""Notes (remarks): sanitised rich text written by users or by plugins."""

from tortoise import fields
from tortoise.models import Model


class Note(Model):
    id = fields.IntField(primary_key=True)
    contact = fields.ForeignKeyField("models.Contact", related_name="notes", on_delete=fields.CASCADE)
    body = fields.TextField()  # sanitised HTML, see crm.richtext
    text_length = fields.IntField()  # visible characters, the quantity the 1500 limit is about
    author = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    # Who wrote it, as the journey names actors: USER (then `author` is the user, while they
    # exist), PLUGIN or SYSTEM, and the user's or plugin's name at the time.
    author_kind = fields.CharField(max_length=16, default="USER", db_default="USER")
    author_name = fields.CharField(max_length=120, default="", db_default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "note"
        indexes = (("contact_id",),)
