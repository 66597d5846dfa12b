"""Custom fields (A6): an account's field definitions and each contact's typed values.

A value is one row per (contact, field) with one typed column filled according to the field's
type, so the contacts table can filter and sort through an index on PostgreSQL:

- TEXT, URL, EMAIL, PHONE, SELECT: `value_text` -- index (field_id, value_text);
- NUMBER: `value_number`; MONEY: `value_number` + `value_currency` -- index (field_id, value_number);
- DATE: `value_date` -- index (field_id, value_date);
- DATETIME: `value_ts` -- index (field_id, value_ts);
- BOOLEAN: `value_bool` -- index (field_id, value_bool);
- MULTI_SELECT: `value_json`, the chosen options as a JSON array -- a GIN index (jsonb_path_ops)
  on PostgreSQL answers "holds option x" (`value_json @> '["x"]'`).
"""

from tortoise import fields
from tortoise.models import Model


class CustomField(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    key = fields.CharField(max_length=63)  # [a-z][a-z0-9_]{0,62}, unique per account, never changes
    label = fields.CharField(max_length=120)
    type = fields.CharField(max_length=16)  # CustomFieldType; never changes
    options = fields.JSONField(default=list)  # SELECT / MULTI_SELECT choices, in display order
    required = fields.BooleanField(default=False)
    # {"value": the default in its API (JSON) form}, already validated by the type; null: none.
    default_value = fields.JSONField(null=True)
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "custom_field"
        unique_together = (("account", "key"),)


class CustomFieldValue(Model):
    id = fields.IntField(primary_key=True)
    field = fields.ForeignKeyField("models.CustomField", related_name=False, on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField("models.Contact", related_name=False, on_delete=fields.CASCADE)
    value_text = fields.CharField(max_length=2000, null=True)
    value_number = fields.DecimalField(max_digits=30, decimal_places=10, null=True)
    value_currency = fields.CharField(max_length=3, null=True)
    value_date = fields.DateField(null=True)
    value_ts = fields.DatetimeField(null=True)
    value_bool = fields.BooleanField(null=True)
    value_json = fields.JSONField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "custom_field_value"
        # (field_id, contact_id): "which of these contacts have a value" (apply to all) by range.
        unique_together = (("field", "contact"),)
        indexes = (
            ("contact_id",),  # a card's values
            ("field_id", "value_text"),
            ("field_id", "value_number"),
            ("field_id", "value_date"),
            ("field_id", "value_ts"),
            ("field_id", "value_bool"),
        )
