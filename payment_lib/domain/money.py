"""Exact money: integer minor units, ISO 4217 exponents as Stripe uses them.

Amounts come in as decimal strings in major units ("20.00") and are stored as integers in the
currency's minor unit (2000). Floats are refused outright: 0.1 + 0.2 is not money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from payment_lib.domain.errors import InvalidRequest

MAX_MINOR_UNITS = 99_999_999

ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

# Currencies Stripe can charge in ("supported currencies"), lowercase as Stripe spells them.
SUPPORTED = frozenset(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp
    byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip
    gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt
    lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr
    nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd
    std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
    """.split()
)

# Stripe's published minimum charge amounts, in minor units. For a currency not listed we ask
# for at least one unit of its smallest chargeable step; Stripe then applies its own USD 0.50
# equivalent at charge time, which cannot be known offline.
MINIMUM_CHARGE = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}

_CURRENCY_SHAPE = re.compile(r"[a-z]{3}")
_AMOUNT_SHAPE = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")


def normalize_currency(currency: object) -> str:
    """Return the lowercase ISO 4217 code Stripe uses, or raise InvalidRequest."""
    if type(currency) is str and currency in SUPPORTED:  # already as Stripe spells it
        return currency
    if not isinstance(currency, str) or not _CURRENCY_SHAPE.fullmatch(currency.strip().lower()):
        raise InvalidRequest(
            f"Currency must be a three-letter ISO 4217 code such as 'usd', got {currency!r}.",
            param="currency",
        )
    code = currency.strip().lower()
    if code not in SUPPORTED:
        raise InvalidRequest(f"Currency {code!r} is not supported.", param="currency")
    return code


def exponent(currency: str) -> int:
    """Number of decimal places in the currency's major unit (JPY 0, USD 2, KWD 3)."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def smallest_step(currency: str) -> int:
    """The smallest chargeable increment in minor units (KWD and friends: 10)."""
    return 10 if currency in THREE_DECIMAL else 1


def minimum_charge(currency: str) -> int:
    """The least amount Stripe accepts for a charge, in minor units."""
    return MINIMUM_CHARGE.get(currency, smallest_step(currency))


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: integer minor units and a lowercase currency code."""

    minor: int
    currency: str

    def __str__(self) -> str:
        return f"{format_amount(self.minor, self.currency)} {self.currency.upper()}"

    @property
    def amount(self) -> str:
        """The amount in major units as a decimal string ("20.00")."""
        return format_amount(self.minor, self.currency)


def parse_money(amount: object, currency: object) -> Money:
    """Parse a decimal string in major units into exact Money.

    Args:
        amount: a decimal string such as "20.00" ("500" for JPY); Decimal is accepted too.
        currency: an ISO 4217 code, any case.

    Returns:
        Money in integer minor units.

    Raises:
        InvalidRequest: for floats, NaN, infinities, signs, zero, too many decimals, amounts
            above 99999999 minor units or below the currency's minimum, and bad currencies.
    """
    code = normalize_currency(currency)
    if isinstance(amount, bool) or not isinstance(amount, str | Decimal):
        raise InvalidRequest(
            f"Amount must be a decimal string such as '20.00', got {type(amount).__name__}.",
            param="amount",
        )
    text = str(amount).strip()
    match = _AMOUNT_SHAPE.fullmatch(text)
    if not match:
        raise InvalidRequest(
            f"Amount must be a positive decimal number such as '20.00', got {text[:40]!r}.",
            param="amount",
        )
    whole, fraction = match.group(1), match.group(2) or ""
    places = exponent(code)
    if len(fraction) > places:
        allowed = "no decimals" if places == 0 else f"at most {places} decimals"
        raise InvalidRequest(
            f"{code.upper()} amounts take {allowed}, got {text!r}.", param="amount"
        )
    if len(whole) > 12:
        raise InvalidRequest(f"Amount {text[:40]!r} is too large.", param="amount")
    minor = int(whole) * 10**places + int(fraction.ljust(places, "0") or "0")
    return _checked(minor, code, text)


def _checked(minor: int, currency: str, shown: str) -> Money:
    if minor <= 0:
        raise InvalidRequest(f"Amount must be greater than zero, got {shown!r}.", param="amount")
    if minor > MAX_MINOR_UNITS:
        limit = format_amount(MAX_MINOR_UNITS, currency)
        raise InvalidRequest(
            f"Amount must be at most {limit} {currency.upper()}, got {shown!r}.", param="amount"
        )
    step = smallest_step(currency)
    if minor % step:
        raise InvalidRequest(
            f"{currency.upper()} amounts must end in 0 in the last decimal place, got {shown!r}.",
            param="amount",
        )
    least = minimum_charge(currency)
    if minor < least:
        raise InvalidRequest(
            f"Amount must be at least {format_amount(least, currency)} {currency.upper()}.",
            param="amount",
        )
    return Money(minor, currency)


def format_amount(minor: int, currency: str) -> str:
    """Minor units as a decimal string in major units: (2000, "usd") -> "20.00"."""
    places = exponent(currency)
    if places == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}"


_REFUND_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,11})(?:\.([0-9]+))?")


def refund_minor_units(amount: str | Decimal, currency: str) -> int:
    """A refund amount in major units ("5.00") as minor units of the payment's currency.

    Like ``parse_money`` but with no minimum charge: Stripe refunds any positive amount.
    """
    text = str(amount).strip()
    match = _REFUND_AMOUNT.fullmatch(text)
    places = exponent(currency)
    if match is None or len(match.group(2) or "") > places:
        decimals = "no decimals" if places == 0 else f"at most {places} decimals"
        raise InvalidRequest(
            f"amount must be a positive {currency.upper()} amount with {decimals}, "
            f"got {text[:40]!r}.",
            param="amount",
        )
    minor = int(Decimal(text).scaleb(places))
    if minor <= 0 or minor % smallest_step(currency):
        raise InvalidRequest(
            f"amount must be greater than zero and a multiple of "
            f"{format_amount(smallest_step(currency), currency)} {currency.upper()}, "
            f"got {text[:40]!r}.",
            param="amount",
        )
    return minor
