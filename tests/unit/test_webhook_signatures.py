"""The Stripe-Signature header, checked as Stripe documents it: ``t=<unix time>`` and one or more
``v1=<hex HMAC-SHA256 of "<t>.<body>">`` (one per signing secret during a rotation); other
schemes (``v0``) are ignored; the time must be within the tolerance, past and future."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from payment_lib.domain.errors import InvalidSignature
from payment_lib.stripe_gateway.signatures import verify_webhook

SECRET = "whsec_unit_current_0123456789"
OLD = "whsec_unit_previous_0123456789"
BODY = b'{"id": "evt_1", "type": "charge.succeeded", "data": {"object": {}}}'


def digest(secret: str, timestamp: int, body: bytes = BODY) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def now() -> int:
    return int(time.time())


def test_a_signature_made_with_the_secret_is_accepted():
    t = now()
    verify_webhook(BODY, f"t={t},v1={digest(SECRET, t)}", [SECRET], 300)


def test_any_one_of_several_v1_signatures_may_match():
    t = now()
    header = f"t={t},v1={digest(OLD, t)},v1={'0' * 64},v1={digest(SECRET, t)}"
    verify_webhook(BODY, header, [SECRET], 300)


def test_any_one_of_several_secrets_may_have_signed_it():
    t = now()
    verify_webhook(BODY, f"t={t},v1={digest(OLD, t)}", [SECRET, OLD], 300)


def test_a_v0_signature_is_not_accepted():
    t = now()
    with pytest.raises(InvalidSignature, match="none of the webhook secrets"):
        verify_webhook(BODY, f"t={t},v0={digest(SECRET, t)}", [SECRET], 300)


def test_a_signature_made_with_another_secret_is_refused():
    t = now()
    with pytest.raises(InvalidSignature, match="none of the webhook secrets"):
        verify_webhook(BODY, f"t={t},v1={digest('whsec_not_ours', t)}", [SECRET], 300)


def test_a_signature_of_another_body_or_time_is_refused():
    t = now()
    with pytest.raises(InvalidSignature):
        verify_webhook(BODY + b" ", f"t={t},v1={digest(SECRET, t)}", [SECRET], 300)
    with pytest.raises(InvalidSignature):
        verify_webhook(BODY, f"t={t - 1},v1={digest(SECRET, t)}", [SECRET], 300)


def test_the_tolerance_is_inclusive_and_older_is_refused_as_a_replay():
    t = now() - 250
    verify_webhook(BODY, f"t={t},v1={digest(SECRET, t)}", [SECRET], 300)
    old = now() - 301
    with pytest.raises(InvalidSignature, match="more than 300 seconds old"):
        verify_webhook(BODY, f"t={old},v1={digest(SECRET, old)}", [SECRET], 300)


def test_a_wrong_signature_that_is_also_old_is_refused_as_wrong():
    old = now() - 1000
    with pytest.raises(InvalidSignature, match="none of the webhook secrets"):
        verify_webhook(BODY, f"t={old},v1={'ab' * 32}", [SECRET], 300)


def test_a_time_beyond_the_tolerance_in_the_future_is_refused():
    ahead = now() + 400
    with pytest.raises(InvalidSignature, match="future"):
        verify_webhook(BODY, f"t={ahead},v1={digest(SECRET, ahead)}", [SECRET], 300)
    soon = now() + 30
    verify_webhook(BODY, f"t={soon},v1={digest(SECRET, soon)}", [SECRET], 300)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "v1=abc",  # no time
        "t=,v1=abc",
        "t=yesterday,v1=abc",
        "t=1700000000",  # no signature
        "t=1700000000,v1=",
        ",,,",
        "t=1700000000,v1=\u00e9\u00e9",  # not ASCII
    ],
)
def test_a_malformed_header_is_refused(header):
    with pytest.raises(InvalidSignature, match="none of the webhook secrets"):
        verify_webhook(BODY, header, [SECRET], 300)


def test_no_header_or_no_secret_is_refused_with_its_own_message():
    t = now()
    for header in (None, ""):
        with pytest.raises(InvalidSignature, match="No Stripe-Signature header"):
            verify_webhook(BODY, header, [SECRET], 300)
    with pytest.raises(InvalidSignature, match="PAYMENT_WEBHOOK_SECRETS"):
        verify_webhook(BODY, f"t={t},v1={digest(SECRET, t)}", [], 300)


def test_a_body_that_is_not_utf8_is_refused_even_if_signed():
    body = b'{"id": "\xff"}'
    t = now()
    with pytest.raises(InvalidSignature):
        verify_webhook(body, f"t={t},v1={digest(SECRET, t, body)}", [SECRET], 300)


def test_the_message_never_repeats_the_header():
    card = "4242424242424242"
    with pytest.raises(InvalidSignature) as refused:
        verify_webhook(BODY, f"t=1,v1={card}", [SECRET], 300)
    assert card not in str(refused.value.to_dict())
