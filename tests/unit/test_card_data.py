"""Detection and redaction of anything that looks like a card number."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_lib.domain.card_data import contains_card_number, redact_card_numbers


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "card 4242 4242 4242 4242 please",
        "4242-4242-4242-4242",
        "378282246310005",  # amex, 15 digits
        "6011111111111117",
        "x4000002760003184y",
        "3782 822463 10005",  # amex as printed
    ],
)
def test_luhn_valid_card_numbers_are_found(text):
    assert contains_card_number(text)
    assert "4242" not in redact_card_numbers(text).replace("[REDACTED]", "") or "4242" not in text


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # fails Luhn
        "12345678901",  # too short
        "order 2000 usd",
        "pm_card_visa",
        "3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b",
        "",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert not contains_card_number(text)
    assert redact_card_numbers(text) == text


def test_redaction_replaces_the_whole_number():
    assert redact_card_numbers("pay 4242 4242 4242 4242 now") == "pay [REDACTED] now"


@given(st.uuids())
def test_uuids_are_never_mistaken_for_card_numbers(value):
    for text in (value.hex, str(value), f"order-{value}", f"key {value.hex} end"):
        assert not contains_card_number(text)
        assert redact_card_numbers(text) == text


def test_a_card_number_next_to_a_uuid_is_still_found():
    assert contains_card_number("3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b 4242424242424242")
