"""Plain data exchanged with provider and card plugins (frozen dataclasses, no ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class OutboundSms:
    message_id: int
    account_id: int
    contact_id: int
    to: str  # E.164
    from_: str | None  # E.164; None lets the provider use its default sender
    body: str


@dataclass(frozen=True, slots=True)
class SmsReceipt:
    provider: str  # e.g. "twilio"
    provider_id: str  # the provider's message id (Twilio's SM... sid)
    status: str  # the provider's own word: queued, accepted, sent, ...


@dataclass(frozen=True, slots=True)
class PhoneLine:
    phone: str  # E.164, as looked up
    line_type: str  # Twilio Lookup v2 vocabulary: mobile, landline, fixedVoip, nonFixedVoip, ...
    carrier: str | None = None
    provider: str = ""


@dataclass(frozen=True, slots=True)
class OutboundEmail:
    message_id: int  # the card's Message; 0 for an email that is not one (a conversion to the client)
    account_id: int
    contact_id: int
    to: str
    subject: str
    body: str  # plain text
    html: str | None = None  # an HTML alternative of `body`, when the sender has one
    # The Message-ID every try of this email must carry (a conversion's is fixed by its id);
    # None: the provider picks one and keeps it with the card's Message.
    message_key: str | None = None


@dataclass(frozen=True, slots=True)
class EmailReceipt:
    provider: str
    provider_id: str | None = None  # e.g. the Message-ID header


@dataclass(frozen=True, slots=True)
class CardAddress:
    street: str | None
    city: str | None
    state: str | None
    zip: str | None
    country: str | None

    @property
    def one_line(self) -> str:
        return ", ".join(p for p in (self.street, self.city, self.state, self.zip, self.country) if p)


@dataclass(frozen=True, slots=True)
class CardContact:
    """What card plugins (links, property facts) know about the contact being shown."""

    id: int
    account_id: int
    display_name: str
    email: str | None
    phone: str | None
    ok_to_sms: bool
    address: CardAddress | None


@dataclass(frozen=True, slots=True)
class CardLink:
    kind: str  # DIRECTIONS | PROPERTY | CALL | SMS | EMAIL | OTHER
    label: str
    url: str
    plugin: str = ""


@dataclass(frozen=True, slots=True)
class PropertyFacts:
    source: str
    estimate: Decimal | None = None
    currency: str = "USD"
    beds: float | None = None
    baths: float | None = None
    year_built: int | None = None
    square_feet: int | None = None
    url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class SendRejected(Exception):
    """A provider refused a message for good (retrying cannot help), e.g. Twilio 21610.

    Raised by provider plugins; the SMS and email plugins mark the message FAILED with the
    code instead of retrying, and `unsubscribed` turns the contact's SMS consent off.
    """

    def __init__(self, code: str, message: str, *, unsubscribed: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.unsubscribed = unsubscribed
