"""Card links: Google Maps directions, the property on Zillow, tel:, sms:, mailto: (C5, C6).

URL shapes (public, no API key):

- Directions: Google Maps URLs, `https://www.google.com/maps/dir/?api=1&destination=<address>`,
  the one-line address form-encoded (spaces as `+`, `,` `#` `&` and non-ASCII as `%XX` UTF-8).
- Zillow: the address search page, `https://www.zillow.com/homes/<address>_rb/`, where the
  address is "street, city, state zip" with each run of spaces turned into `-` (so
  `123 Main St, Springfield, IL 62704` gives `123-Main-St,-Springfield,-IL-62704_rb/`), and any
  other character that is not a letter, digit, `,` or `-` percent-encoded (`#` -> `%23`).
  Zillow lists US homes only, so the link is given for addresses in the US (or with no country).
- `tel:` and `sms:` take the E.164 number as stored (RFC 3966 / RFC 5724 global numbers);
  `mailto:` percent-encodes what RFC 6068 requires.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from crm.contracts import CardAddress, CardContact, CardLink

GOOGLE_DIRECTIONS = "https://www.google.com/maps/dir/?"
ZILLOW_HOMES = "https://www.zillow.com/homes/"
ZILLOW_COUNTRIES = frozenset({"US", "PR"})  # Zillow's coverage
# RFC 6068 "some-delims" that may stay as they are in a mailto: address.
_MAILTO_SAFE = "@!$'()*+,;:"


def routable(address: CardAddress | None) -> bool:
    """Enough of an address to route to: a street, or at least a city."""
    return address is not None and bool(address.street or address.city)


def locates_property(address: CardAddress | None) -> bool:
    """Enough to name one property: a street plus its city or zip."""
    return address is not None and bool(address.street and (address.city or address.zip))


def directions_url(address: CardAddress) -> str:
    return GOOGLE_DIRECTIONS + urlencode({"api": "1", "destination": address.one_line})


def zillow_url(address: CardAddress) -> str:
    state_zip = " ".join(p for p in (address.state, address.zip) if p)
    text = ", ".join(p for p in (address.street, address.city, state_zip) if p)
    slug = "-".join(text.split())
    return f"{ZILLOW_HOMES}{quote(slug, safe=',-')}_rb/"


def card_links(contact: CardContact, plugin: str) -> list[CardLink]:
    """The links whose data exist on the card, in the order a card shows them."""
    links: list[CardLink] = []
    address = contact.address
    if address is not None and routable(address):
        links.append(CardLink("DIRECTIONS", "Directions (Google Maps)", directions_url(address), plugin))
    if (
        address is not None
        and locates_property(address)
        and (address.country or "US").upper() in ZILLOW_COUNTRIES
    ):
        links.append(CardLink("PROPERTY", "Property on Zillow", zillow_url(address), plugin))
    if contact.phone:
        links.append(CardLink("CALL", f"Call {contact.phone}", f"tel:{contact.phone}", plugin))
        if contact.ok_to_sms:
            links.append(CardLink("SMS", f"Text {contact.phone}", f"sms:{contact.phone}", plugin))
    if contact.email:
        links.append(
            CardLink(
                "EMAIL", f"Email {contact.email}", f"mailto:{quote(contact.email, safe=_MAILTO_SAFE)}", plugin
            )
        )
    return links
