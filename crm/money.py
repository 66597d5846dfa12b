"""Money amounts in their currency's minor units (ISO 4217): USD 1999.50, JPY 2000, BHD 12.345.

The minor units come from the `iso4217` package (ISO's own table, kept current). An amount is
stored exactly as given (`Deal.amount`, four decimal places at most) and shown with its
currency's decimal places: "1999.5" USD reads back "1999.50", never "1999.5". A currency with
no minor unit in ISO 4217 (gold XAU, the SDR XDR, test codes) shows the amount as given, without
trailing zeros. Input with more decimal places than the currency has is refused (`check`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from iso4217 import Currency

from crm.errors import BadInput

STORED_DECIMALS = 4  # Deal.amount's column scale


@cache
def minor_units(currency: str) -> int | None:
    """Decimal places of the currency's minor unit (USD 2, JPY 0, BHD 3, CLF 4), or None when
    ISO 4217 gives it none (XAU, XDR, XXX) or does not know the code."""
    member = Currency.__members__.get(currency.upper())
    exponent = member.exponent if member is not None else None
    return exponent if isinstance(exponent, int) else None


def decimal_places(amount: Decimal) -> int:
    """The decimal places the value needs: 1999.50 needs 1, 2000 and 2E+3 need 0."""
    exponent = amount.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def places(amount: Decimal, currency: str) -> int:
    """The decimal places `amount` is shown with in `currency`: the minor units, or more for an
    amount stored with more (from before amounts were checked against their currency)."""
    units = minor_units(currency)
    needed = decimal_places(amount)
    return needed if units is None else max(units, needed)


def for_api(amount: Decimal, currency: str) -> Decimal:
    """The amount with exactly its currency's decimal places (a Decimal whose str() is what the
    API shows: "1999.50", "2000", never an exponent)."""
    return amount.quantize(Decimal(1).scaleb(-places(amount, currency)))


def text(amount: Decimal, currency: str) -> str:
    """The amount as the API and the journey write it: "1999.50" for USD, "2000" for JPY."""
    return f"{for_api(amount, currency):f}"


def display(amount: Decimal, currency: str) -> str:
    """For people (journey summaries): "1,999.50 USD", "2,000 JPY"."""
    return f"{for_api(amount, currency):,f} {currency}"


def check(amount: Decimal, currency: str, field: str = "amount") -> None:
    """Refuse an amount with more decimal places than the currency has (1999.995 USD, 10.5 JPY),
    saying how to round it."""
    units = minor_units(currency)
    given = decimal_places(amount)
    if units is None or given <= units:
        return
    rounded = amount.quantize(Decimal(1).scaleb(-units), rounding=ROUND_HALF_UP)
    has = f"{field} {amount.normalize():f} has {given} decimal place{'s' if given > 1 else ''}"
    if units == 0:
        message = f"{has} but {currency} has none: give a whole amount, e.g. {rounded:f}"
    else:
        message = f"{has} but {currency} has {units}: round it, e.g. to {rounded:f}"
    raise BadInput(message, field=field)
