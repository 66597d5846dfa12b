"""Deals: what a contact bought or may buy, in Decimal money with an ISO currency."""

from tortoise import fields
from tortoise.models import Model


class Deal(Model):
    id = fields.IntField(primary_key=True)
    contact = fields.ForeignKeyField("models.Contact", related_name="deals", on_delete=fields.CASCADE)
    product_name = fields.CharField(max_length=200)
    amount = fields.DecimalField(max_digits=18, decimal_places=4)
    currency = fields.CharField(max_length=3)
    payment_type = fields.CharField(max_length=16)  # ONE_TIME | RECURRING | PAYMENT_PLAN
    status = fields.CharField(max_length=8)  # OPEN | WON | LOST
    recurring = fields.BooleanField(default=False)
    closed_at = fields.DatetimeField(null=True)
    # Opportunity (A4): how likely an OPEN deal is to be won (percent, 0-100), and when it is
    # expected to close; both optional (Contact.opportunity reads them).
    likelihood = fields.SmallIntField(null=True)
    close_date = fields.DateField(null=True)
    created_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "deal"
        # (status, amount, contact_id): the contacts table's deal filters (migration 0022).
        indexes = (("contact_id",), ("status", "amount", "contact_id"))
