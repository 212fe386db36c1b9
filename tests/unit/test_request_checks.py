"""A payment request's checks, pinned: a card number in any field refused, naming the first
field (in the order the request lists them) that holds one; and the fingerprint of a request
is the digest stored with payments made by earlier versions (a key used before an upgrade
still matches its request after it)."""

import pytest

from payment_lib import InvalidRequest
from payment_lib.services.payment_requests import validate_payment_request

USER = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
CARD = "4242-4242-4242-4242"
FIELDS = dict(user_id=USER, amount="20.00", currency="usd", payment_method="pm_card_visa",
              idempotency_key="order-1042")
ORDER = ["user_id", "amount", "currency", "payment_method", "idempotency_key", "plan_id",
         "customer_email", "return_url", "description", "metadata"]


def shaped(field, card):
    return {"card": card} if field == "metadata" else card


@pytest.mark.parametrize("field", ORDER)
def test_a_card_number_in_any_field_is_refused_naming_it(field):
    with pytest.raises(InvalidRequest) as refused:
        validate_payment_request(**{**FIELDS, field: shaped(field, f"x {CARD} y")})
    assert refused.value.param == field
    assert "4242" not in str(refused.value)


@pytest.mark.parametrize("later", range(1, len(ORDER)))
def test_with_cards_in_two_fields_the_first_is_named(later):
    first = ORDER[later - 1]
    fields = {**FIELDS, first: shaped(first, CARD), ORDER[later]: shaped(ORDER[later], CARD)}
    with pytest.raises(InvalidRequest) as refused:
        validate_payment_request(**fields)
    assert refused.value.param == first


def test_a_card_number_in_a_metadata_key_is_refused():
    with pytest.raises(InvalidRequest) as refused:
        validate_payment_request(**FIELDS, metadata={CARD: "x"})
    assert refused.value.param == "metadata"


def test_fingerprints_are_the_digests_earlier_versions_stored():
    plain = validate_payment_request(**FIELDS)
    full = validate_payment_request(
        user_id=USER, amount="12.34", currency="EUR", payment_method="pm_card_visa",
        idempotency_key="order-1043", plan_id="basic", customer_email="ada@example.com",
        return_url="https://shop.example/r", description='Ünïcode "quoted"',
        metadata={"z": "1", "a": "é"}, off_session=True,
    )
    assert plain.fingerprint() == (
        "36a3b551b7f5b3f6f52bbb9f9456e337087b389d6d931905b9507bf346f99571")
    assert full.fingerprint() == (
        "cfed7e388cd4939b9c22c24f79164b57ccaeb85c4d923377ba746d3a9f30b1ca")
