"""Referrals, rewards ledger, privacy and communication opt-ins (issue 12: E1-E3).

- contact.inviter_id: who invited the contact (setInviter, or a lead carrying a referral code);
  SET NULL when the inviter is deleted. (inviter_id, id) serves a card's invited contacts and its
  referral count.
- contact.referral_code: 16 URL-safe characters (secrets.token_urlsafe(12), 96 bits), unique;
  made with every new contact (the model's default) and backfilled here for existing ones, in
  batches, from Python's `secrets` (neither database has a portable random source as strong).
- contact.preferred_reward; contact.privacy_opt_in / communication_opt_in (false for every
  existing contact) with the time and source of each.
- account.referral_landing_url: where GET /r/{code} sends a referred visitor.
- reward_entry: the append-only rewards ledger; amounts as whole ten-thousandths (BIGINT) so
  sums are exact on SQLite too. (contact_id, id) serves a card's ledger and sums; (account_id, id)
  the account's.
- reward_entry.direct: an EARNED line given as a direct reward (issuable before the contact
  converts); false for every other line.
"""

import secrets

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

BATCH = 1000


async def backfill_referral_codes(apps, schema_editor) -> None:
    client = schema_editor.client
    mark = "$1" if client.capabilities.dialect == "postgres" else "?"
    mark2 = "$2" if client.capabilities.dialect == "postgres" else "?"
    while True:
        rows = await client.execute_query_dict(
            f"SELECT id FROM contact WHERE referral_code IS NULL ORDER BY id LIMIT {BATCH}"
        )
        if not rows:
            return
        for row in rows:
            await client.execute_query(
                f"UPDATE contact SET referral_code = {mark} WHERE id = {mark2}",
                [secrets.token_urlsafe(12), row["id"]],
            )


class Migration(migrations.Migration):
    dependencies = [("models", "0015_communications")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Contact",
            name="inviter",
            field=fields.ForeignKeyField(
                "models.Contact",
                source_field="inviter_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name=False,
                on_delete=OnDelete.SET_NULL,
            ),
        ),
        ops.AddField(
            model_name="Contact",
            name="referral_code",
            field=fields.CharField(max_length=16, unique=True, null=True),
        ),
        ops.RunPython(backfill_referral_codes, ops.RunPython.noop),
        ops.AddIndex(model_name="Contact", index=Index(fields=["inviter_id", "id"])),
        ops.AddField(
            model_name="Contact", name="preferred_reward", field=fields.CharField(max_length=100, null=True)
        ),
        ops.AddField(
            model_name="Contact",
            name="privacy_opt_in",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(model_name="Contact", name="privacy_opt_in_at", field=fields.DatetimeField(null=True)),
        ops.AddField(
            model_name="Contact",
            name="privacy_opt_in_source",
            field=fields.CharField(max_length=16, null=True),
        ),
        ops.AddField(
            model_name="Contact",
            name="communication_opt_in",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name="Contact", name="communication_opt_in_at", field=fields.DatetimeField(null=True)
        ),
        ops.AddField(
            model_name="Contact",
            name="communication_opt_in_source",
            field=fields.CharField(max_length=16, null=True),
        ),
        ops.AddField(
            model_name="Account",
            name="referral_landing_url",
            field=fields.CharField(max_length=1000, null=True),
        ),
        ops.CreateModel(
            name="RewardEntry",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "account",
                    fields.ForeignKeyField(
                        "models.Account",
                        source_field="account_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "contact",
                    fields.ForeignKeyField(
                        "models.Contact",
                        source_field="contact_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="reward_entries",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("kind", fields.CharField(max_length=16)),
                ("amount_units", fields.BigIntField()),
                ("currency", fields.CharField(max_length=3)),
                ("reason", fields.CharField(null=True, max_length=500)),
                ("promo_code", fields.CharField(null=True, max_length=100)),
                (
                    "created_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="created_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("created_by_name", fields.CharField(max_length=120)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "reward_entry",
                "app": "models",
                "indexes": [Index(fields=["contact_id", "id"]), Index(fields=["account_id", "id"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="RewardEntry",
            name="direct",
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
