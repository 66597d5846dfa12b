"""The contact card's own columns, and its small per-contact sections (tags, UTMs, form answers)."""

from tortoise import fields
from tortoise.manager import Manager
from tortoise.models import Model
from tortoise.queryset import QuerySet

from crm.models.referrals import REFERRAL_CODE_LENGTH, new_referral_code


class VisibleContacts(Manager):
    """Contact's default manager: a contact absorbed by a merge (`merged_into` set) is hidden
    from every query -- lists, search, counts, lookups by id, email or phone -- until the merge
    is undone. `every_contact()` reaches them (the merge service, deletes)."""

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().filter(merged_into_id__isnull=True)


def every_contact() -> QuerySet:
    """Contacts including those absorbed by a merge (see VisibleContacts)."""
    return QuerySet(Contact)


class Contact(Model):
    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name="contacts", on_delete=fields.CASCADE)
    first_name = fields.CharField(max_length=100, null=True)
    last_name = fields.CharField(max_length=100, null=True)
    business_name = fields.CharField(max_length=200, null=True)
    title = fields.CharField(max_length=120, null=True)
    contact_type = fields.CharField(max_length=50, null=True)
    email = fields.CharField(max_length=254, null=True, db_index=True)
    secondary_email = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=20, null=True, db_index=True)  # E.164
    secondary_phone = fields.CharField(max_length=20, null=True)  # E.164
    street = fields.CharField(max_length=200, null=True)
    city = fields.CharField(max_length=100, null=True)
    state = fields.CharField(max_length=100, null=True)
    zip = fields.CharField(max_length=20, null=True)
    country = fields.CharField(max_length=2, null=True)  # ISO 3166-1 alpha-2
    ip_address = fields.CharField(max_length=45, null=True)
    status = fields.CharField(max_length=50)
    sub_status = fields.CharField(max_length=50, null=True)
    # The header (A4): each one of the account's list of that name, or None (crm/services/header.py).
    lead_source = fields.CharField(max_length=50, null=True)
    action_plan = fields.CharField(max_length=50, null=True)
    sales_cycle = fields.CharField(max_length=50, null=True)
    converted_at = fields.DatetimeField(null=True)
    # Set while archived (archiveContacts); only an archived contact can be deleted.
    archived_at = fields.DatetimeField(null=True)
    # SMS consent (C1-C3): off until a user switches it on or a line check finds a mobile.
    ok_to_sms = fields.BooleanField(default=False, db_default=False)
    sms_blocked_reason = fields.CharField(max_length=200, null=True)
    phone_line_type = fields.CharField(max_length=20, null=True)  # Twilio Lookup v2 line type
    phone_checked_at = fields.DatetimeField(null=True)
    setter_owner = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    closer_owner = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    assigned_to = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    # Set while the contact is absorbed into another by a merge (crm/models/merges.py): hidden,
    # kept whole so unmergeContacts can restore it; deleted with the contact it was merged into.
    merged_into = fields.ForeignKeyField(
        "models.Contact", related_name=False, null=True, on_delete=fields.CASCADE
    )
    # Referrals and opt-ins (E1, E3; crm/services/referrals.py, optins.py). The code is made with
    # the contact (the default) and is unique; null only before migration 0016's backfill.
    inviter = fields.ForeignKeyField(
        "models.Contact", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    referral_code = fields.CharField(
        max_length=REFERRAL_CODE_LENGTH, unique=True, null=True, default=new_referral_code
    )
    preferred_reward = fields.CharField(max_length=100, null=True)
    privacy_opt_in = fields.BooleanField(default=False, db_default=False)
    privacy_opt_in_at = fields.DatetimeField(null=True)
    privacy_opt_in_source = fields.CharField(max_length=16, null=True)
    communication_opt_in = fields.BooleanField(default=False, db_default=False)
    communication_opt_in_at = fields.DatetimeField(null=True)
    communication_opt_in_source = fields.CharField(max_length=16, null=True)
    # Set when an imported row merged into this contact (crm/imports, CONTACTS mode): the table
    # shows a "new data" mark until someone clears it (clearNewData).
    new_data_at = fields.DatetimeField(null=True)
    # Roll-ups the database keeps (migration 0024's triggers on call, message, lead and deal), so
    # the contacts table filters and sorts on them by index (bench/filters.py 16, 19). Declared
    # `generated`: the ORM reads them but never writes them, so saving a Contact loaded before a
    # call was logged cannot put an old value back.
    # - the newest interaction that happened: a call once logged or given an outcome (at
    #   scheduled_at), any message (created_at), a web-form lead (submitted_at); null without.
    last_interaction_at = fields.DatetimeField(null=True, generated=True)
    # - the sum of the OPEN and WON deals' amounts, any currency; null without such a deal.
    deal_total = fields.DecimalField(max_digits=22, decimal_places=4, null=True, generated=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "contact"
        manager = VisibleContacts()
        # The contacts list, newest first within one account.
        # contactByPhone: an incoming caller looked up by either stored E.164 phone (the primary
        # one through `phone`'s own index).
        # Duplicate candidates (crm/services/merges.py) by the other email, also by index.
        indexes = (
            ("account_id", "id"),
            ("account_id", "secondary_phone"),
            ("account_id", "secondary_email"),
            ("inviter_id", "id"),  # a card's invited contacts, and its referral count
        )


class Tag(Model):
    # The account's tag list; contacts point at it through ContactTag.

    id = fields.IntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name="tags", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=50)
    # Lower-cased name: "VIP" and "vip" are one tag, spelled as first entered.
    key = fields.CharField(max_length=50)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tag"
        unique_together = (("account", "key"),)


class ContactTag(Model):
    id = fields.IntField(primary_key=True)
    contact = fields.ForeignKeyField("models.Contact", related_name="contact_tags", on_delete=fields.CASCADE)
    tag = fields.ForeignKeyField("models.Tag", related_name="contact_tags", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "contact_tag"
        unique_together = (("contact", "tag"),)
        indexes = (("tag_id", "contact_id"),)  # the contacts table's tag filters (migration 0022)


class Utm(Model):
    # UTM parameters captured with one lead or booking; a contact collects several.

    id = fields.IntField(primary_key=True)
    contact = fields.ForeignKeyField("models.Contact", related_name="utms", on_delete=fields.CASCADE)
    # The lead that brought these (crm/models/leads.py); None for UTMs given to createContact.
    lead = fields.ForeignKeyField("models.Lead", related_name="utms", null=True, on_delete=fields.CASCADE)
    source = fields.CharField(max_length=200, null=True)
    medium = fields.CharField(max_length=200, null=True)
    campaign = fields.CharField(max_length=200, null=True)
    term = fields.CharField(max_length=200, null=True)
    content = fields.CharField(max_length=200, null=True)
    captured_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "utm"
        # (source | campaign, lead_id): the contacts table's lead UTM filters (migration 0022).
        indexes = (("contact_id",), ("lead_id",), ("source", "lead_id"), ("campaign", "lead_id"))


class FormAnswer(Model):
    # One question a lead answered on a scheduler form or survey.

    id = fields.IntField(primary_key=True)
    contact = fields.ForeignKeyField("models.Contact", related_name="form_answers", on_delete=fields.CASCADE)
    # The lead that gave this answer (crm/models/leads.py); None for answers given to createContact.
    lead = fields.ForeignKeyField("models.Lead", related_name="answers", null=True, on_delete=fields.CASCADE)
    form = fields.CharField(max_length=200, null=True)
    question = fields.CharField(max_length=500)
    answer = fields.TextField()
    answered_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "form_answer"
        indexes = (("contact_id",), ("lead_id",))
