"""Accounts (tenants), their users and the users' API keys."""

from tortoise import fields
from tortoise.models import Model

DEFAULT_STATUSES: list[dict[str, object]] = [
    {"name": "lead", "subStatuses": ["new", "working"]},
    {"name": "contacted", "subStatuses": ["attempted", "connected", "follow up"]},
    {"name": "qualified", "subStatuses": ["hot", "warm", "cold"]},
    {"name": "customer", "subStatuses": [], "converts": True},
    {"name": "lost", "subStatuses": ["not interested", "no budget", "unreachable", "duplicate"]},
]


def default_statuses() -> list[dict[str, object]]:
    return [dict(s) for s in DEFAULT_STATUSES]


class Account(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=120, unique=True)
    # [{"name": str, "subStatuses": [str, ...], "converts": bool, "routing": "CLIENT" | "MANAGER"
    # (optional)}, ...]. The first entry is the status of new contacts; reaching a status with
    # "converts" records the conversion date, one with "routing" makes a Conversion.
    statuses = fields.JSONField(default=default_statuses)
    # The account's own SMS number (E.164); inbound texts to it belong to this account.
    sms_number = fields.CharField(max_length=20, null=True, unique=True)
    # Where conversions go (the built-in email plugin mails each one there); admins set it.
    client_email = fields.CharField(max_length=254, null=True)
    # The region of national phone numbers (ISO 3166-1 alpha-2, e.g. "GB"); None: the server's
    # DOSSIER_DEFAULT_REGION. Admins set it (crm/regions.py).
    region = fields.CharField(max_length=2, null=True)
    # ISO 4217: the currency the card's sums (opportunity, insights, rewards) are given in; deals in
    # another currency are left out of them. Admins set it (updateAccountSettings).
    currency = fields.CharField(max_length=3, default="USD", db_default="USD")
    # The header's lists (crm/services/header.py): the values a contact's leadSource, actionPlan
    # and salesCycle may take. None: the default list (DEFAULT_HEADER_LISTS); admins set them.
    lead_sources = fields.JSONField(null=True)
    action_plans = fields.JSONField(null=True)
    sales_cycles = fields.JSONField(null=True)
    # Where GET /r/{code} sends a referred visitor (an https URL; `ref={code}` is added). Admins
    # set it (updateAccountSettings); None: referral links answer 404 until it is set.
    referral_landing_url = fields.CharField(max_length=1000, null=True)
    # Due tasks and coming calls are also texted to users with a phone (C9; the SMS plugin).
    # Admins switch it on (updateAccountSettings); off by default: texts cost money.
    notify_by_sms = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "account"


class User(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name="users", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=120)
    email = fields.CharField(max_length=254)
    role = fields.CharField(max_length=16)  # admin | manager | rep
    # E.164: where reminders are texted when the account has notify_by_sms (setUserPhone, the CLI).
    phone = fields.CharField(max_length=20, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"
        unique_together = (("account", "email"),)


class ApiKey(Model):
    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="api_keys", on_delete=fields.CASCADE)
    # sha256 of the whole key: keys are 256-bit random, so a fast hash is enough and a lookup
    # by hash costs one indexed read per request.
    key_hash = fields.CharField(max_length=64, unique=True)
    prefix = fields.CharField(max_length=16)  # shown to people so they can tell keys apart
    label = fields.CharField(max_length=120, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    # Written at most once a minute per key and process (crm.services.accounts.authenticate):
    # a write on every request would cost the card read path a round trip.
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"
