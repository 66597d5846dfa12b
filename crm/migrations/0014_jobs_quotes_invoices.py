"""Quotes, jobs and invoices beside deals (issue 12: B3).

Tables: `quote`, `job`, `invoice`, their `line_item`s and the per-account `document_counter`
that numbers quotes and invoices. Indexes: a card's documents newest first (contact_id, id);
the root `invoices` list (account_id, id) and its status/overdue filter (account_id, status,
due_date); quotes by status (account_id, status, id); done jobs per card (contact_id, status);
a document's lines in order (quote_id / invoice_id, position).
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


def _fk(
    model: str, column: str, related_name: str | bool, on_delete: str, null: bool = False
) -> fields.Field:
    return fields.ForeignKeyField(
        model,
        source_field=column,
        null=null,
        db_constraint=True,
        to_field="id",
        related_name=related_name,
        on_delete=on_delete,
    )


def _id() -> tuple[str, fields.Field]:
    return ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True))


def _money(name: str) -> tuple[str, fields.Field]:
    return (name, fields.DecimalField(max_digits=18, decimal_places=4, default=0))


def _time(name: str, null: bool = True) -> tuple[str, fields.Field]:
    return (name, fields.DatetimeField(null=null, auto_now=False, auto_now_add=False))


def _stamps() -> list[tuple[str, fields.Field]]:
    return [
        ("created_by", _fk("models.User", "created_by_id", False, OnDelete.SET_NULL, null=True)),
        ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
        ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
    ]


def _options(table: str, indexes: list[list[str]], unique: tuple[tuple[str, ...], ...] = ()) -> dict:
    options: dict = {
        "table": table,
        "app": "models",
        "indexes": [Index(fields=columns) for columns in indexes],
        "pk_attr": "id",
    }
    if unique:
        options["unique_together"] = unique
    return options


class Migration(migrations.Migration):
    dependencies = [("models", "0013_custom_fields")]

    initial = False

    operations = [
        ops.CreateModel(
            name="DocumentCounter",
            fields=[
                _id(),
                ("account", _fk("models.Account", "account_id", False, OnDelete.CASCADE)),
                ("kind", fields.CharField(max_length=16)),
                ("last_number", fields.IntField(default=0)),
            ],
            options=_options("document_counter", [], (("account", "kind"),)),
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Quote",
            fields=[
                _id(),
                ("account", _fk("models.Account", "account_id", False, OnDelete.CASCADE)),
                ("contact", _fk("models.Contact", "contact_id", "quotes", OnDelete.CASCADE)),
                ("number", fields.CharField(max_length=20)),
                ("title", fields.CharField(max_length=200)),
                ("currency", fields.CharField(max_length=3)),
                ("status", fields.CharField(max_length=10)),
                ("valid_until", fields.DateField(null=True)),
                ("notes", fields.TextField(null=True, unique=False)),
                _money("subtotal"),
                _money("tax"),
                _money("total"),
                _time("sent_at"),
                _time("decided_at"),
                *_stamps(),
            ],
            options=_options(
                "quote", [["contact_id", "id"], ["account_id", "status", "id"]], (("account", "number"),)
            ),
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Job",
            fields=[
                _id(),
                ("account", _fk("models.Account", "account_id", False, OnDelete.CASCADE)),
                ("contact", _fk("models.Contact", "contact_id", "jobs", OnDelete.CASCADE)),
                ("title", fields.CharField(max_length=200)),
                ("status", fields.CharField(max_length=12)),
                _time("scheduled_start", null=False),
                _time("scheduled_end", null=False),
                _time("completed_at"),
                ("assignee", _fk("models.User", "assignee_id", False, OnDelete.SET_NULL, null=True)),
                ("quote", _fk("models.Quote", "quote_id", "jobs", OnDelete.SET_NULL, null=True)),
                ("notes", fields.TextField(null=True, unique=False)),
                *_stamps(),
            ],
            options=_options("job", [["contact_id", "id"], ["contact_id", "status"]]),
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Invoice",
            fields=[
                _id(),
                ("account", _fk("models.Account", "account_id", False, OnDelete.CASCADE)),
                ("contact", _fk("models.Contact", "contact_id", "invoices", OnDelete.CASCADE)),
                ("number", fields.CharField(max_length=20)),
                ("title", fields.CharField(max_length=200)),
                ("currency", fields.CharField(max_length=3)),
                ("status", fields.CharField(max_length=16)),
                _money("subtotal"),
                _money("tax"),
                _money("total"),
                _money("amount_paid"),
                ("due_date", fields.DateField(null=True)),
                _time("issued_at"),
                _time("paid_at"),
                _time("voided_at"),
                ("quote", _fk("models.Quote", "quote_id", "invoices", OnDelete.SET_NULL, null=True)),
                ("job", _fk("models.Job", "job_id", "invoices", OnDelete.SET_NULL, null=True)),
                ("notes", fields.TextField(null=True, unique=False)),
                *_stamps(),
            ],
            options=_options(
                "invoice",
                [["contact_id", "id"], ["account_id", "status", "due_date"], ["account_id", "id"]],
                (("account", "number"),),
            ),
            bases=["Model"],
        ),
        ops.CreateModel(
            name="LineItem",
            fields=[
                _id(),
                ("quote", _fk("models.Quote", "quote_id", "line_items", OnDelete.CASCADE, null=True)),
                ("invoice", _fk("models.Invoice", "invoice_id", "line_items", OnDelete.CASCADE, null=True)),
                ("position", fields.IntField()),
                ("description", fields.CharField(max_length=500)),
                ("quantity", fields.DecimalField(max_digits=18, decimal_places=4)),
                ("unit_price", fields.DecimalField(max_digits=18, decimal_places=4)),
                ("tax_rate", fields.DecimalField(max_digits=9, decimal_places=4)),
            ],
            options=_options("line_item", [["quote_id", "position"], ["invoice_id", "position"]]),
            bases=["Model"],
        ),
    ]
