"""Quotes, jobs and invoices (B3): what a contact is offered, what is done for them, what they owe.

Money is Decimal(18, 4) with an ISO currency, like deals. A document's totals (subtotal, tax,
total) are stored beside its line items and recomputed by the service whenever the items
change (crm/services/billing.py says how they are rounded), so SQL can sum them (insights, the
root `invoices` list) without reading the items. Numbers ("Q-0001", "INV-0001") come from a
per-account counter (`DocumentCounter`) that only grows: a deleted contact's numbers are never
handed out again.

Other code relies on these columns (Contact.insights): `job.status`, `job.completed_at`,
`job.scheduled_start/end`; `invoice.status`, `currency`, `total`, `amount_paid`, `due_date`,
`issued_at`, `paid_at`.
"""

from tortoise import fields
from tortoise.models import Model


class DocumentCounter(Model):
    """The last number given to an account's quotes ("QUOTE") or invoices ("INVOICE")."""

    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=16)
    last_number = fields.IntField(default=0)

    class Meta:
        table = "document_counter"
        unique_together = (("account", "kind"),)


class Quote(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField("models.Contact", related_name="quotes", on_delete=fields.CASCADE)
    number = fields.CharField(max_length=20)
    title = fields.CharField(max_length=200)
    currency = fields.CharField(max_length=3)
    status = fields.CharField(max_length=10)  # DRAFT | SENT | ACCEPTED | DECLINED | EXPIRED
    valid_until = fields.DateField(null=True)
    notes = fields.TextField(null=True)
    subtotal = fields.DecimalField(max_digits=18, decimal_places=4, default=0)
    tax = fields.DecimalField(max_digits=18, decimal_places=4, default=0)
    total = fields.DecimalField(max_digits=18, decimal_places=4, default=0)
    sent_at = fields.DatetimeField(null=True)
    decided_at = fields.DatetimeField(null=True)  # ACCEPTED, DECLINED or EXPIRED
    created_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "quote"
        unique_together = (("account", "number"),)
        indexes = (("contact_id", "id"), ("account_id", "status", "id"))


class Job(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField("models.Contact", related_name="jobs", on_delete=fields.CASCADE)
    title = fields.CharField(max_length=200)
    status = fields.CharField(max_length=12)  # SCHEDULED | IN_PROGRESS | DONE | CANCELLED
    scheduled_start = fields.DatetimeField()
    scheduled_end = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)  # set on DONE, cleared when it leaves DONE
    assignee = fields.ForeignKeyField("models.User", related_name=False, null=True, on_delete=fields.SET_NULL)
    quote = fields.ForeignKeyField("models.Quote", related_name="jobs", null=True, on_delete=fields.SET_NULL)
    notes = fields.TextField(null=True)
    created_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "job"
        indexes = (("contact_id", "id"), ("contact_id", "status"))


class Invoice(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField("models.Contact", related_name="invoices", on_delete=fields.CASCADE)
    number = fields.CharField(max_length=20)
    title = fields.CharField(max_length=200)
    currency = fields.CharField(max_length=3)
    status = fields.CharField(max_length=16)  # DRAFT | SENT | PAID | PARTIALLY_PAID | VOID
    subtotal = fields.DecimalField(max_digits=18, decimal_places=4, default=0)
    tax = fields.DecimalField(max_digits=18, decimal_places=4, default=0)
    total = fields.DecimalField(max_digits=18, decimal_places=4, default=0)
    amount_paid = fields.DecimalField(max_digits=18, decimal_places=4, default=0)
    due_date = fields.DateField(null=True)
    issued_at = fields.DatetimeField(null=True)  # when it was SENT
    paid_at = fields.DatetimeField(null=True)  # the payment that paid it in full
    voided_at = fields.DatetimeField(null=True)
    quote = fields.ForeignKeyField(
        "models.Quote", related_name="invoices", null=True, on_delete=fields.SET_NULL
    )
    job = fields.ForeignKeyField("models.Job", related_name="invoices", null=True, on_delete=fields.SET_NULL)
    notes = fields.TextField(null=True)
    created_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "invoice"
        unique_together = (("account", "number"),)
        indexes = (("contact_id", "id"), ("account_id", "status", "due_date"), ("account_id", "id"))


class LineItem(Model):
    """One line of a quote or an invoice (exactly one of the two is set), in `position` order."""

    id = fields.IntField(primary_key=True)
    quote = fields.ForeignKeyField(
        "models.Quote", related_name="line_items", null=True, on_delete=fields.CASCADE
    )
    invoice = fields.ForeignKeyField(
        "models.Invoice", related_name="line_items", null=True, on_delete=fields.CASCADE
    )
    position = fields.IntField()
    description = fields.CharField(max_length=500)
    quantity = fields.DecimalField(max_digits=18, decimal_places=4)
    unit_price = fields.DecimalField(max_digits=18, decimal_places=4)
    tax_rate = fields.DecimalField(max_digits=9, decimal_places=4)  # percent, 0..100

    class Meta:
        table = "line_item"
        indexes = (("quote_id", "position"), ("invoice_id", "position"))
