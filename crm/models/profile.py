"""The expanded profile (A5): one declaration of its fields, and the 1:1 `contact_profile` table.

`PROFILE_FIELDS` is the one place the profile's fields are listed. The table's columns, the
service's validation (crm/services/profile.py), the journey's change keys ("profile.netWorth")
and the GraphQL input and type (graph/schema/profile.py) are all derived from it.

Why a table of its own rather than columns on `contact`: the profile is ~25 columns that only
the card's `profile` field reads, while the contact row is read by every list, search and
lookup. Kept apart, those reads stay narrow; the card loads the profile through one batched
statement (a DataLoader keyed by contact id). The row is created by the first write.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class ProfileKind(StrEnum):
    TEXT = "TEXT"
    INT = "INT"  # whole number within [minimum, maximum]
    BOOL = "BOOL"
    DATE = "DATE"
    ENUM = "ENUM"  # one of `choices`
    URL = "URL"  # http(s) URL whose host is one of `hosts` (or a subdomain of one)
    MONEY = "MONEY"  # amount + currency columns
    ANNIVERSARY = "ANNIVERSARY"  # date + label columns


HOME_OWNER_STATUSES = ("OWNER", "RENTER", "OTHER")
MARITAL_STATUSES = ("SINGLE", "MARRIED", "DOMESTIC_PARTNERSHIP", "SEPARATED", "DIVORCED", "WIDOWED")
EDUCATIONS = ("HIGH_SCHOOL", "SOME_COLLEGE", "VOCATIONAL", "ASSOCIATE", "BACHELOR", "MASTER", "DOCTORATE")
GENDERS = ("FEMALE", "MALE", "NON_BINARY", "OTHER")

ANNIVERSARY_LABEL_MAX = 60


@dataclass(frozen=True, slots=True)
class ProfileField:
    name: str  # the Python and column name (columns get suffixes for MONEY and ANNIVERSARY)
    api: str  # the GraphQL name; the journey's change key is "profile.<api>"
    kind: ProfileKind
    description: str
    choices: tuple[str, ...] = ()  # ENUM
    enum: str = ""  # ENUM: the GraphQL enum's name
    hosts: tuple[str, ...] = ()  # URL
    max_length: int = 0  # TEXT
    minimum: int = 0  # INT
    maximum: int = 0  # INT

    @property
    def journey_key(self) -> str:
        return f"profile.{self.api}"

    def columns(self) -> dict[str, Any]:
        """The table's column name(s) for this field, with their tortoise fields."""
        kind = self.kind
        if kind is ProfileKind.MONEY:
            return {
                f"{self.name}_amount": fields.DecimalField(max_digits=18, decimal_places=4, null=True),
                f"{self.name}_currency": fields.CharField(max_length=3, null=True),
            }
        if kind is ProfileKind.ANNIVERSARY:
            return {
                f"{self.name}_date": fields.DateField(null=True),
                f"{self.name}_label": fields.CharField(max_length=ANNIVERSARY_LABEL_MAX, null=True),
            }
        column: Any
        if kind is ProfileKind.TEXT:
            column = fields.CharField(max_length=self.max_length, null=True)
        elif kind is ProfileKind.INT:
            column = fields.IntField(null=True)
        elif kind is ProfileKind.BOOL:
            column = fields.BooleanField(null=True)
        elif kind is ProfileKind.DATE:
            column = fields.DateField(null=True)
        elif kind is ProfileKind.ENUM:
            column = fields.CharField(max_length=32, null=True)
        else:  # URL
            column = fields.CharField(max_length=1000, null=True)
        return {self.name: column}


_K = ProfileKind
PROFILE_FIELDS: tuple[ProfileField, ...] = (
    ProfileField("net_worth", "netWorth", _K.MONEY, "Net worth: an amount (0 or more) in a currency."),
    ProfileField(
        "home_owner_status", "homeOwnerStatus", _K.ENUM, "Owns or rents the home.",
        choices=HOME_OWNER_STATUSES, enum="HomeOwnerStatus",
    ),
    ProfileField("household_income", "householdIncome", _K.MONEY, "Yearly household income (0 or more)."),
    ProfileField(
        "length_of_residence", "lengthOfResidence", _K.INT, "Years at the current address (0 to 150).",
        minimum=0, maximum=150,
    ),
    ProfileField(
        "marital_status", "maritalStatus", _K.ENUM, "Marital status.",
        choices=MARITAL_STATUSES, enum="MaritalStatus",
    ),
    ProfileField("market_value", "marketValue", _K.MONEY, "Market value of the home (0 or more)."),
    ProfileField("occupation", "occupation", _K.TEXT, "Occupation; at most 120 characters.", max_length=120),
    ProfileField(
        "birth_date", "birthDate", _K.DATE,
        "Date of birth (YYYY-MM-DD, not in the future); `age` is derived from it when set.",
    ),
    ProfileField(
        "age", "age", _K.INT,
        "Age in years (0 to 150) for a contact whose birth date is unknown; refused while a "
        "birthDate is set (age is then derived from it).",
        minimum=0, maximum=150,
    ),
    ProfileField(
        "education", "education", _K.ENUM, "Highest education reached.", choices=EDUCATIONS, enum="Education"
    ),
    ProfileField("gender", "gender", _K.ENUM, "Gender.", choices=GENDERS, enum="Gender"),
    ProfileField("children", "children", _K.BOOL, "Presence of children in the household."),
    ProfileField("pets", "pets", _K.BOOL, "Presence of pets in the household."),
    ProfileField(
        "facebook_url", "facebookUrl", _K.URL, "Facebook profile: an http(s) URL on facebook.com.",
        hosts=("facebook.com", "fb.com"),
    ),
    ProfileField(
        "linkedin_url", "linkedinUrl", _K.URL, "LinkedIn profile: an http(s) URL on linkedin.com.",
        hosts=("linkedin.com",),
    ),
    ProfileField(
        "twitter_url", "twitterUrl", _K.URL, "Twitter/X profile: an http(s) URL on twitter.com or x.com.",
        hosts=("twitter.com", "x.com"),
    ),
    ProfileField("anniversary1", "anniversary1", _K.ANNIVERSARY, "A date to remember, with its label."),
    ProfileField("anniversary2", "anniversary2", _K.ANNIVERSARY, "Another date to remember, with its label."),
    ProfileField("next_contact_date", "nextContactDate", _K.DATE, "When to contact the person next."),
    ProfileField("last_contact_date", "lastContactDate", _K.DATE, "When the person was last contacted."),
)  # fmt: skip
PROFILE_BY_API: dict[str, ProfileField] = {f.api: f for f in PROFILE_FIELDS}
PROFILE_COLUMNS: tuple[str, ...] = tuple(column for f in PROFILE_FIELDS for column in f.columns())


def _profile_model() -> type[Model]:
    attributes: dict[str, Any] = {
        "__module__": __name__,
        "__qualname__": "ContactProfile",
        "__doc__": "A contact's expanded profile (at most one row per contact, made by its first write).",
        "id": fields.IntField(primary_key=True),
        "contact": fields.OneToOneField("models.Contact", related_name="profile", on_delete=fields.CASCADE),
    }
    for field in PROFILE_FIELDS:
        attributes.update(field.columns())
    attributes["created_at"] = fields.DatetimeField(auto_now_add=True)
    attributes["updated_at"] = fields.DatetimeField(auto_now=True)
    attributes["Meta"] = type("Meta", (), {"table": "contact_profile"})
    return type(Model)("ContactProfile", (Model,), attributes)  # type: ignore[return-value]


ContactProfile = _profile_model()
