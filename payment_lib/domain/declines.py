"""Why a card payment failed, in words a payer can act on: one explicit table.

Keys are Stripe's ``decline_code`` first, then its error ``code``. Lost, stolen and fraud
declines deliberately say no more than "declined": telling a thief why helps the thief.
``hard`` declines are not retried until the payment method changes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decline:
    code: str
    message: str
    retry_helps: bool
    hard: bool = False


FALLBACK = Decline(
    "card_declined", "Card declined. Please use a different card or contact your bank", False
)
_NO_DETAIL = Decline(
    "card_declined", "Card declined. Please use a different card", False, hard=True
)

DECLINES: dict[str, Decline] = {
    "generic_decline": FALLBACK,
    "card_declined": FALLBACK,
    "do_not_honor": FALLBACK,
    "insufficient_funds": Decline(
        "insufficient_funds", "Card declined due to insufficient funds", True
    ),
    "expired_card": Decline(
        "expired_card", "Card expired. Please use a valid card", False, hard=True
    ),
    "incorrect_cvc": Decline(
        "incorrect_cvc",
        "Card security code (CVC) is incorrect. Please check it and try again",
        True,
    ),
    "incorrect_number": Decline(
        "incorrect_number",
        "Card number is incorrect. Please check it and try again",
        False,
        hard=True,
    ),
    "processing_error": Decline(
        "processing_error", "Payment processing failed. Please try again", True
    ),
    "authentication_required": Decline(
        "authentication_required",
        "Your bank requires you to confirm this payment. Please complete authentication",
        True,
        hard=True,
    ),
    "payment_intent_authentication_failure": Decline(
        "authentication_failed",
        "Authentication with your bank failed. Please try again or use another card",
        True,
    ),
    "card_velocity_exceeded": Decline(
        "card_declined",
        "Card declined: its spending limit was reached. Please try later",
        True,
    ),
    # Stripe refused the request itself (a PaymentMethod or Customer that no longer exists,
    # ...): nothing was charged, and retrying the same thing cannot help.
    "payment_refused": Decline(
        "payment_refused",
        "The payment was refused. Please use a different payment method",
        False,
        hard=True,
    ),
    # Asked after Stripe's idempotency window, Stripe has no PaymentIntent for the payment: it
    # never reached Stripe and nothing was charged. Trying again is safe.
    "not_charged": Decline(
        "not_charged",
        "The payment did not go through and nothing was charged. Please try again",
        True,
    ),
    # Our own stand-in while an attempt's outcome is unknown: counts as a soft failure for a
    # renewal's retry schedule, never shown as a payment's failure.
    "outcome_unknown": Decline("outcome_unknown", "The payment's outcome is not known yet", True),
    "lost_card": _NO_DETAIL,
    "stolen_card": _NO_DETAIL,
    "fraudulent": _NO_DETAIL,
    "pickup_card": _NO_DETAIL,
    "restricted_card": _NO_DETAIL,
    "merchant_blacklist": _NO_DETAIL,
    "security_violation": _NO_DETAIL,
}


def explain_decline(code: str | None, decline_code: str | None) -> Decline:
    """The table's entry for a Stripe error, by decline_code, then code, else FALLBACK."""
    for key in (decline_code, code):
        if key and key in DECLINES:
            return DECLINES[key]
    return FALLBACK
