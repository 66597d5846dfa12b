"""Merges (D2): which contacts were absorbed into which, and exactly what moved, so it can be undone.

An absorbed contact is not deleted: `Contact.merged_into` points at the primary and hides it
(the default manager of Contact leaves it out of every query), so `unmergeContacts` can give it
back with what was its own and its id keeps answering (NOT_FOUND naming the primary).
"""

from tortoise import fields
from tortoise.models import Model


class Merge(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    # Not named `contact`: the merge moves every row whose `contact` points at an absorbed
    # contact, and this row is about the merge, not one of the card's sections.
    primary = fields.ForeignKeyField("models.Contact", related_name="merges", on_delete=fields.CASCADE)
    # The absorbed contacts, in the order given: [id, ...].
    absorbed_ids = fields.JSONField(default=list)
    # Each absorbed contact's own columns at the merge (API names), and its display name:
    # [{"id": 7, "displayName": "Ann Lee", "fields": {"email": "ann@...", ...}}, ...].
    absorbed = fields.JSONField(default=list)
    # Rows moved to the primary: {table: {absorbed id (text): [row id, ...]}}.
    moved = fields.JSONField(default=dict)
    # Rows left on the absorbed contact because the primary already had their like (a tag it
    # already carried): {table: {absorbed id (text): [row id, ...]}}.
    kept = fields.JSONField(default=dict)
    # Primary columns that were empty and were filled: {column: {"from": id, "before": old,
    # "after": new}} with JSON-safe values (datetimes as ISO text).
    filled = fields.JSONField(default=dict)
    actor_kind = fields.CharField(max_length=8)  # USER | SYSTEM | PLUGIN
    actor_user = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    actor_name = fields.CharField(max_length=120)
    created_at = fields.DatetimeField(auto_now_add=True)
    undone_at = fields.DatetimeField(null=True)
    undone_by_name = fields.CharField(max_length=120, null=True)

    class Meta:
        table = "contact_merge"
        indexes = (("primary_id", "id"), ("account_id", "id"))
