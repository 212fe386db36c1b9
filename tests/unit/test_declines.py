"""One explicit table turns Stripe's decline codes into stable codes and messages people act on."""

import pytest

from payment_lib.domain.declines import FALLBACK, explain_decline


@pytest.mark.parametrize(
    ("stripe_code", "decline_code", "code", "message", "retry_helps"),
    [
        (
            "card_declined",
            "insufficient_funds",
            "insufficient_funds",
            "Card declined due to insufficient funds",
            True,
        ),
        (
            "expired_card",
            "expired_card",
            "expired_card",
            "Card expired. Please use a valid card",
            False,
        ),
        (
            "processing_error",
            "processing_error",
            "processing_error",
            "Payment processing failed. Please try again",
            True,
        ),
        (
            "incorrect_cvc",
            "incorrect_cvc",
            "incorrect_cvc",
            "Card security code (CVC) is incorrect. Please check it and try again",
            True,
        ),
        (
            "card_declined",
            "generic_decline",
            "card_declined",
            "Card declined. Please use a different card or contact your bank",
            False,
        ),
        (
            "authentication_required",
            "authentication_required",
            "authentication_required",
            "Your bank requires you to confirm this payment. Please complete authentication",
            True,
        ),
    ],
)
def test_known_declines_map_to_their_entry(stripe_code, decline_code, code, message, retry_helps):
    decline = explain_decline(stripe_code, decline_code)
    assert (decline.code, decline.message, decline.retry_helps) == (code, message, retry_helps)


@pytest.mark.parametrize("decline_code", ["lost_card", "stolen_card", "fraudulent", "pickup_card"])
def test_lost_and_stolen_cards_leak_no_detail_to_the_payer(decline_code):
    decline = explain_decline("card_declined", decline_code)
    assert decline.code == "card_declined"
    assert not any(word in decline.message.lower() for word in ("lost", "stolen", "fraud"))
    assert decline.retry_helps is False
    assert decline.hard is True


def test_unknown_codes_fall_back_to_a_generic_decline():
    assert explain_decline("something_new", "never_seen") == FALLBACK
    assert explain_decline(None, None) == FALLBACK


def test_authentication_failure_after_3ds_has_its_own_entry():
    decline = explain_decline("payment_intent_authentication_failure", None)
    assert decline.code == "authentication_failed"
    assert decline.retry_helps is True
