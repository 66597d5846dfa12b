"""Property facts from the configured property-data provider, cached per normalised address."""

from tortoise import fields
from tortoise.models import Model


class PropertyFacts(Model):
    id = fields.IntField(primary_key=True)
    address_key = fields.CharField(max_length=400, unique=True)
    facts = fields.JSONField()  # {"estimate": "412000", "beds": 3, "baths": 2.5, "yearBuilt": 1987, ...}
    fetched_at = fields.DatetimeField()

    class Meta:
        table = "property_facts"
