"""Header lists, opportunity fields on deals, the expanded profile, the account's currency (issue 12: A4, A5).

- account.currency: ISO 4217, "USD" for every existing account; the card's sums are in it.
- account.lead_sources / action_plans / sales_cycles: the header's lists (JSON arrays of names);
  null means the default list (crm/services/header.py), so existing accounts need no backfill.
- contact.lead_source / action_plan / sales_cycle: a value of the account's list, or null.
- deal.likelihood (percent) and deal.close_date (expected close): the opportunity summary.
- contact_profile: the expanded profile, one row per contact (unique contact_id), made by the
  first write; its columns follow crm/models/profile.py's PROFILE_FIELDS as of this migration.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0011_account_region")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Account",
            name="currency",
            field=fields.CharField(max_length=3, default="USD", db_default="USD"),
        ),
        ops.AddField(model_name="Account", name="lead_sources", field=fields.JSONField(null=True)),
        ops.AddField(model_name="Account", name="action_plans", field=fields.JSONField(null=True)),
        ops.AddField(model_name="Account", name="sales_cycles", field=fields.JSONField(null=True)),
        ops.AddField(
            model_name="Contact", name="lead_source", field=fields.CharField(max_length=50, null=True)
        ),
        ops.AddField(
            model_name="Contact", name="action_plan", field=fields.CharField(max_length=50, null=True)
        ),
        ops.AddField(
            model_name="Contact", name="sales_cycle", field=fields.CharField(max_length=50, null=True)
        ),
        ops.AddField(model_name="Deal", name="likelihood", field=fields.SmallIntField(null=True)),
        ops.AddField(model_name="Deal", name="close_date", field=fields.DateField(null=True)),
        ops.CreateModel(
            name="ContactProfile",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "contact",
                    fields.OneToOneField(
                        "models.Contact",
                        source_field="contact_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="profile",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("net_worth_amount", fields.DecimalField(max_digits=18, decimal_places=4, null=True)),
                ("net_worth_currency", fields.CharField(max_length=3, null=True)),
                ("home_owner_status", fields.CharField(max_length=32, null=True)),
                ("household_income_amount", fields.DecimalField(max_digits=18, decimal_places=4, null=True)),
                ("household_income_currency", fields.CharField(max_length=3, null=True)),
                ("length_of_residence", fields.IntField(null=True)),
                ("marital_status", fields.CharField(max_length=32, null=True)),
                ("market_value_amount", fields.DecimalField(max_digits=18, decimal_places=4, null=True)),
                ("market_value_currency", fields.CharField(max_length=3, null=True)),
                ("occupation", fields.CharField(max_length=120, null=True)),
                ("birth_date", fields.DateField(null=True)),
                ("age", fields.IntField(null=True)),
                ("education", fields.CharField(max_length=32, null=True)),
                ("gender", fields.CharField(max_length=32, null=True)),
                ("children", fields.BooleanField(null=True)),
                ("pets", fields.BooleanField(null=True)),
                ("facebook_url", fields.CharField(max_length=1000, null=True)),
                ("linkedin_url", fields.CharField(max_length=1000, null=True)),
                ("twitter_url", fields.CharField(max_length=1000, null=True)),
                ("anniversary1_date", fields.DateField(null=True)),
                ("anniversary1_label", fields.CharField(max_length=60, null=True)),
                ("anniversary2_date", fields.DateField(null=True)),
                ("anniversary2_label", fields.CharField(max_length=60, null=True)),
                ("next_contact_date", fields.DateField(null=True)),
                ("last_contact_date", fields.DateField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "contact_profile", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
