"""Money parsing and formatting: exact minor units, ISO 4217 exponents, strict refusals."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_lib.domain.errors import InvalidRequest
from payment_lib.domain.money import (
    MAX_MINOR_UNITS,
    SUPPORTED,
    Money,
    exponent,
    format_amount,
    minimum_charge,
    parse_money,
    smallest_step,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("20.00", "usd", Money(2000, "usd")),
        ("20", "USD", Money(2000, "usd")),
        ("20.5", "eur", Money(2050, "eur")),
        ("500", "jpy", Money(500, "jpy")),
        ("1.230", "kwd", Money(1230, "kwd")),
        ("1.23", "kwd", Money(1230, "kwd")),
        ("999999.99", "usd", Money(MAX_MINOR_UNITS, "usd")),
        (Decimal("9.99"), "usd", Money(999, "usd")),
    ],
)
def test_decimal_strings_become_exact_minor_units(amount, currency, expected):
    assert parse_money(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        (20.0, "usd", "decimal string"),
        (20, "usd", "decimal string"),
        (True, "usd", "decimal string"),
        (None, "usd", "decimal string"),
        ("NaN", "usd", "positive decimal number"),
        ("Infinity", "usd", "positive decimal number"),
        ("-5.00", "usd", "positive decimal number"),
        ("+5.00", "usd", "positive decimal number"),
        ("1e3", "usd", "positive decimal number"),
        ("", "usd", "positive decimal number"),
        ("0", "usd", "greater than zero"),
        ("0.00", "usd", "greater than zero"),
        ("20.001", "usd", "at most 2 decimals"),
        ("500.0", "jpy", "no decimals"),
        ("1.235", "kwd", "end in 0"),
        ("1000000.00", "usd", "at most 999999.99 USD"),
        ("0.49", "usd", "at least 0.50 USD"),
        ("49", "jpy", "at least 50 JPY"),
        ("0.29", "gbp", "at least 0.30 GBP"),
        ("20.00", "xyz", "not supported"),
        ("20.00", "usdollar", "three-letter"),
        ("20.00", "", "three-letter"),
        ("20.00", 840, "three-letter"),
    ],
)
def test_bad_amounts_and_currencies_get_one_clear_message(amount, currency, message):
    with pytest.raises(InvalidRequest) as caught:
        parse_money(amount, currency)
    assert message in caught.value.message
    assert caught.value.code == "invalid_request"


def test_exponents_follow_stripe():
    assert (exponent("jpy"), exponent("usd"), exponent("kwd")) == (0, 2, 3)


def test_format_amount_writes_every_decimal_place():
    assert format_amount(2000, "usd") == "20.00"
    assert format_amount(5, "usd") == "0.05"
    assert format_amount(500, "jpy") == "500"
    assert format_amount(1230, "kwd") == "1.230"


currencies = st.sampled_from(sorted(SUPPORTED))


@st.composite
def valid_money(draw):
    currency = draw(currencies)
    step = smallest_step(currency)
    minor = draw(st.integers(minimum_charge(currency), MAX_MINOR_UNITS)) // step * step
    return Money(max(minor, minimum_charge(currency)), currency)


@given(valid_money())
def test_format_then_parse_round_trips_in_every_currency(money):
    assert parse_money(format_amount(money.minor, money.currency), money.currency) == money


@given(st.floats(allow_nan=True, allow_infinity=True), currencies)
def test_no_float_is_ever_accepted(amount, currency):
    with pytest.raises(InvalidRequest):
        parse_money(amount, currency)


@given(currencies, st.integers(1, 4))
def test_more_decimals_than_the_exponent_are_refused(currency, extra):
    places = exponent(currency)
    text = "1." + "1" * (places + extra)
    with pytest.raises(InvalidRequest):
        parse_money(text, currency)
