"""One rule for card numbers (issue 15): any 12-19 digits passing Luhn, whatever the separators,
found inside any text, refused on input, scrubbed everywhere else."""

import uuid

import pytest
from card_numbers import card_layouts, embedded_cards, luhn_check_digit
from hypothesis import given
from hypothesis import strategies as st

from payment_lib import InvalidRequest, PaymentError
from payment_lib.domain.card_data import (
    REDACTED,
    contains_card_number,
    redact_card_numbers,
    redact_value,
)
from payment_lib.domain.card_input import refuse_card_numbers


@pytest.mark.parametrize(
    "text",
    [
        "4945.8073.0215.7365",  # the idempotency key of the fault-injection run
        "4242/4242/4242/4242",
        "4242_4242_4242_4242",
        "4242  4242  4242  4242",  # double spaces
        "42 424 24242 424242",  # uneven groups
        "4242-4242.4242 4242",  # mixed separators
        "4242\t4242\u00a04242 4242",
        "pm_4242424242424242",  # a payment method id made of a card number
        "order 12 4242-4242-4242-4242",  # digits before, a separator between
        "4242 4242 4242 4242 123",  # the CVC after it
        "card=4242424242424242;exp=12/27",
        "378282246310005",
        "3782-822463-10005",
        "6011 1111 1111 1117",
        "4000 0566 5566 5556",
        "5555555555554444",
        "4222222222222",  # 13 digits
        "6062 8288 8866 6688 887",  # 19 digits
    ],
)
def test_card_numbers_in_any_layout_are_found_and_redacted(text):
    assert contains_card_number(text)
    redacted = redact_card_numbers(text)
    assert REDACTED in redacted and not contains_card_number(redacted)


@pytest.mark.parametrize(
    "text",
    [
        "4945.8073.0215.7366",  # fails Luhn
        "2026-11-30 20:01:00.123456",  # a timestamp
        "2026-11-30T20:01:00.123456+00:00",
        "127.0.0.1:8025",
        "pi_3MtwBwLkdIwHu7ix28a3tqPa",
        "order-1042",
        "20.00 usd",
        "a" * 64,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # sha256 hex
        "4242 4242",
        "12345678901",
        "1234    5678    9012    3456",  # groups more than three separators apart
    ],
)
def test_ordinary_text_is_not_a_card_number(text):
    assert not contains_card_number(text)
    assert redact_card_numbers(text) == text


@given(embedded_cards())
def test_a_card_number_in_any_layout_and_any_embedding_is_found(text):
    assert contains_card_number(text)
    assert not contains_card_number(redact_card_numbers(text))


@given(card_layouts(), st.uuids())
def test_a_card_number_next_to_a_uuid_is_found_and_the_uuid_kept(card, value):
    text = f"{value} {card} {value.hex}"
    redacted = redact_card_numbers(text)
    assert contains_card_number(text)
    assert redacted == f"{value} {REDACTED} {value.hex}"


@given(st.uuids(), st.sampled_from(["{}", "order-{}", "key {} end", "{}_{}", "x{}/{}"]))
def test_uuids_in_any_company_are_not_card_numbers(value, shape):
    for form in (str(value), value.hex):
        text = shape.format(form, form)
        assert not contains_card_number(text)


# A reference detector, written the slow and obvious way, on texts without hex letters (so no
# identifier masking applies): every maximal sequence of digit groups parted by 1-3 separator
# characters; any consecutive groups holding 12-19 digits that pass Luhn are a card number.
_SEPARATOR_CHARS = " \t\u00a0-./_"


def _reference(text):
    groups, runs, index = [], [], 0
    while index < len(text):
        if text[index].isascii() and text[index].isdigit():
            end = index
            while end < len(text) and text[end].isascii() and text[end].isdigit():
                end += 1
            groups.append(text[index:end])
            gap = end
            while gap < len(text) and text[gap] in _SEPARATOR_CHARS:
                gap += 1
            joined = gap < len(text) and text[gap].isdigit() and 1 <= gap - end <= 3
            if not joined:
                runs.append(groups)
                groups = []
            index = gap if joined else end
        else:
            index += 1
    for run in runs:
        for first in range(len(run)):
            for last in range(first, len(run)):
                digits = "".join(run[first : last + 1])
                if 12 <= len(digits) <= 19 and luhn_check_digit(digits[:-1]) == digits[-1]:
                    return True
    return False


@given(st.text(alphabet="0123456789 -./_\tghkz:#", max_size=80))
def test_the_detector_agrees_with_the_slow_reference(text):
    assert contains_card_number(text) == _reference(text)


@given(embedded_cards(), embedded_cards())
def test_redaction_leaves_nothing_that_the_detector_finds(first, second):
    assert not contains_card_number(redact_card_numbers(f"{first} and {second}"))


def test_values_of_any_shape_are_scrubbed_at_any_depth():
    value = {
        "note": "card 4945.8073.0215.7365",
        "4242424242424242": "a key that is a card",
        "number": 4242424242424242,
        "float": 0.4242424242424242,
        "items": ["4242_4242_4242_4242", 12, None, True],
        "nested": ({"uuid": uuid.UUID(int=0)},),
        "amount": 2000,
    }
    assert redact_value(value) == {
        "note": f"card {REDACTED}",
        REDACTED: "a key that is a card",
        "number": REDACTED,
        "float": REDACTED,
        "items": [REDACTED, 12, None, True],
        "nested": ({"uuid": uuid.UUID(int=0)},),
        "amount": 2000,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"note": "4242 4242 4242 4242"},
        {"metadata": {"order": "4242.4242.4242.4242"}},
        {"metadata": {"4242424242424242": "x"}},
        {"amount": "4242424242424242"},
        {"tags": ["a", "4242-4242-4242-4242"]},
    ],
)
def test_refusing_names_the_field_and_never_repeats_the_number(fields):
    with pytest.raises(InvalidRequest) as refused:
        refuse_card_numbers({"first": "fine", **fields})
    [name] = fields
    assert refused.value.param == name
    assert refused.value.message.startswith(f"{name} looks like")
    assert not contains_card_number(str(refused.value.to_dict()))


def test_an_error_message_never_carries_a_card_number():
    error = PaymentError("No stored webhook event evt_4242424242424242.")
    assert error.message == f"No stored webhook event evt_{REDACTED}."
    assert not contains_card_number(str(error))
