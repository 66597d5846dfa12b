"""Deals: what a contact bought or may buy, in Decimal money with an ISO currency."""

from tortoise import fields
from tortoise.models import Model


class Deal(Model):
    id = fields.IntField(primary_key=True)
    contact = fields.ForeignKeyField("models.Contact", related_name="deals", on_delete=fields.CASCADE)
    # The contact's account, kept on the deal like a lead's or a task's: the contacts table counts
    # a deal filter's matches from the account's deals, not by looking up each deal's contact
    # (crm/contact_count.py; bench/filters.py 16).
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
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
        # (account_id, status, amount, contact_id): the contacts table's deal filters (0022, 0025).
        indexes = (("contact_id",), ("account_id", "status", "amount", "contact_id"))
