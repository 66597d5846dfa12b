"""Referrals, rewards and opt-ins (E1-E3): the rewards ledger, and the referral code maker.

The contact's own referral columns (inviter, referral code, preferred reward, the two opt-ins)
live on `Contact` (crm/models/contacts.py); the ledger is its own append-only table.
"""

from __future__ import annotations

import secrets

from tortoise import fields
from tortoise.models import Model

# 12 random bytes -> 16 URL-safe characters, 96 bits: short enough for a link a person shares,
# far too many to guess one (a unique index catches the 1-in-2^36 collision of a billion codes).
REFERRAL_CODE_BYTES = 12
REFERRAL_CODE_LENGTH = 16


def new_referral_code() -> str:
    """A fresh referral code. Every contact gets one where it is made: this is `Contact`'s
    column default, so createContact, leads, duplicateContact and imports all share it."""
    return secrets.token_urlsafe(REFERRAL_CODE_BYTES)


# Amounts are stored as whole ten-thousandths (crm.money.STORED_DECIMALS places): integer sums
# are exact on both databases (SQLite has no decimal type; SUM over text would be a float).
AMOUNT_SCALE = 10_000


class RewardEntry(Model):
    """One line of a contact's rewards ledger. Services only ever insert: never updated or
    deleted (a merge moves lines to the primary like every other section, and back on unmerge)."""

    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name=False, on_delete=fields.CASCADE)
    contact = fields.ForeignKeyField(
        "models.Contact", related_name="reward_entries", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=16)  # EARNED | ISSUED | PROMO_REDEEMED
    amount_units = fields.BigIntField()  # the amount x AMOUNT_SCALE, >= 0
    currency = fields.CharField(max_length=3)  # ISO 4217; one currency per contact's ledger
    reason = fields.CharField(max_length=500, null=True)  # why earned / the note
    promo_code = fields.CharField(max_length=100, null=True)
    # EARNED only: a direct reward (article 004 point 4) can be issued at once; a non-direct one
    # waits until the contact converts (convertedAt set). False on every other kind.
    direct = fields.BooleanField(default=False, db_default=False)
    created_by = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_name = fields.CharField(max_length=120)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reward_entry"
        indexes = (("contact_id", "id"), ("account_id", "id"))
