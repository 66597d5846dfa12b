"""Saved views of the contacts table and segments (saved groups of contacts) -- issue 14, D6 and D12.

A filter is stored in its domain form (crm/contact_filters.py): the ContactFilter input's shape
with camelCase keys and database ids (not global IDs); graph/schema/contact_filter.py converts
both ways, so a view's filter reads back exactly as a client can send it again.
"""

from tortoise import fields
from tortoise.models import Model

DYNAMIC, STATIC = "DYNAMIC", "STATIC"


class SavedView(Model):
    """A user's saved table: filter, sort and columns. `shared` views are listed to every user
    of the account; only the owner (or an admin) changes them."""

    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    user = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    name = fields.CharField(max_length=100)
    filter_spec = fields.JSONField(null=True)
    order_by = fields.JSONField(default=list)
    columns = fields.JSONField(default=list)
    shared = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "saved_view"
        indexes = (("account_id", "user_id"),)


class Segment(Model):
    """A saved group of contacts. DYNAMIC: its members are whoever its filter matches now.
    STATIC: its members are the SegmentMember rows (addToSegment / removeFromSegment)."""

    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    name = fields.CharField(max_length=100)
    kind = fields.CharField(max_length=8)  # DYNAMIC or STATIC
    # DYNAMIC only (the column is `filter_spec`: `filter` is a Model method).
    filter_spec = fields.JSONField(null=True)
    created_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "segment"
        unique_together = (("account", "name"),)


class SegmentMember(Model):
    id = fields.IntField(primary_key=True)
    segment = fields.ForeignKeyField("models.Segment", related_name=False, on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField("models.Contact", related_name=False, on_delete=fields.CASCADE)
    added_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "segment_member"
        unique_together = (("segment", "contact"),)
        # A card's segments (Contact.segments) and "contacts in segment S" both by index.
        indexes = (("contact_id", "segment_id"),)
