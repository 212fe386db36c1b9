"""Stripe's test cards: numbers, ``pm_card_*`` / ``tok_*`` names and what charging them does.

Sources: STRIPE_TEST_MODE.md and docs.stripe.com/testing. A card either succeeds, declines
with a fixed code/decline_code/message, or needs 3-D Secure first (and may decline after it);
a dispute card succeeds and is then disputed.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from enum import Enum
from typing import Any

from payment_lib.testing.errors import ApiError


@dataclass(frozen=True, slots=True)
class Decline:
    """How a charge on the card fails (HTTP 402, type card_error)."""

    code: str
    decline_code: str
    message: str
    outcome_type: str = "issuer_declined"

    @property
    def network_status(self) -> str:
        return "not_sent_to_network" if self.outcome_type == "blocked" else "declined_by_network"

    def as_error(self, **related: Any) -> ApiError:
        """The 402 card_error for this decline; ``related`` adds charge, payment_intent..."""
        return ApiError(
            402,
            self.message,
            type="card_error",
            code=self.code,
            decline_code=self.decline_code,
            extra=related,
        )


@dataclass(frozen=True, slots=True)
class Disputed:
    """The dispute that follows a successful charge on the card."""

    reason: str
    inquiry: bool = False


class Authentication(Enum):
    """When the card asks for 3-D Secure."""

    NEVER = "never"
    ALWAYS = "always"
    # On-session payments authenticate; off-session ones too unless the card was set up
    # (authenticated with setup_future_usage) before.
    UNLESS_SET_UP = "unless_set_up"


GENERIC = Decline("card_declined", "generic_decline", "Your card was declined.")
INSUFFICIENT_FUNDS = Decline(
    "card_declined", "insufficient_funds", "Your card has insufficient funds."
)
LOST = Decline("card_declined", "lost_card", "Your card was declined.")
STOLEN = Decline("card_declined", "stolen_card", "Your card was declined.")
# (unconfirmed) Stripe's docs give the decline code only; the message is the generic one.
VELOCITY = Decline("card_declined", "card_velocity_exceeded", "Your card was declined.")
EXPIRED = Decline("expired_card", "expired_card", "Your card has expired.")
INCORRECT_CVC = Decline("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.")
PROCESSING = Decline(
    "processing_error",
    "processing_error",
    "An error occurred while processing your card. Try again in a little bit.",
)
FRAUDULENT = Decline("card_declined", "fraudulent", "Your card was declined.", "blocked")
AUTHENTICATION_REQUIRED = Decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)
LIVE_CARD = Decline(
    "card_declined",
    "live_mode_test_card",
    "Your card was declined. Your request was in test mode, but used a non test (live) card. "
    "For a list of valid test cards, visit: https://stripe.com/docs/testing.",
)


@dataclass(frozen=True, slots=True)
class TestCard:
    """One test card and its behaviour."""

    __test__ = False  # not a pytest test class, despite the name

    number: str
    brand: str
    funding: str = "credit"
    country: str = "US"
    decline: Decline | None = None
    authentication: Authentication = Authentication.NEVER
    decline_after_authentication: Decline | None = None
    refund_fails: bool = False
    dispute: Disputed | None = None
    # The card verifies fine (a SetupIntent succeeds, attaching works); only charges decline.
    declines_only_charges: bool = False

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.number)


_A = Authentication

# name (as in pm_card_<name> and tok_<name>) -> card
_NAMED: dict[str, TestCard] = {
    "visa": TestCard("4242424242424242", "visa"),
    "visa_debit": TestCard("4000056655665556", "visa", "debit"),
    "mastercard": TestCard("5555555555554444", "mastercard"),
    "mastercard_debit": TestCard("5200828282828210", "mastercard", "debit"),
    "mastercard_prepaid": TestCard("5105105105105100", "mastercard", "prepaid"),
    "amex": TestCard("378282246310005", "amex"),
    "discover": TestCard("6011111111111117", "discover"),
    "diners": TestCard("3056930009020004", "diners"),
    "jcb": TestCard("3566002020360505", "jcb", country="JP"),
    "unionpay": TestCard("6200000000000005", "unionpay", country="CN"),
    "us": TestCard("4000000760000002", "visa"),
    "ca": TestCard("4000001240000000", "visa", country="CA"),
    "gb": TestCard("4000008260000000", "visa", country="GB"),
    "de": TestCard("4000002760000016", "visa", country="DE"),
    "fr": TestCard("4000002500000003", "visa", country="FR"),
    "au": TestCard("4000000360000006", "visa", country="AU"),
    "jp": TestCard("4000003920000003", "visa", country="JP"),
    "bypassPending": TestCard("4000000000000077", "visa"),
    "domesticPricing": TestCard("4000000000000093", "visa"),
    "avsFail": TestCard("4000000000000010", "visa"),
    "avsLine1Fail": TestCard("4000000000000028", "visa"),
    "avsZipFail": TestCard("4000000000000036", "visa"),
    "avsUnchecked": TestCard("4000000000000044", "visa"),
    "createDispute": TestCard("4000000000000259", "visa", dispute=Disputed("fraudulent")),
    "createDisputeProductNotReceived": TestCard(
        "4000000000002685", "visa", dispute=Disputed("product_not_received")
    ),
    "createDisputeInquiry": TestCard(
        "4000000000001976", "visa", dispute=Disputed("fraudulent", inquiry=True)
    ),
    "refundFail": TestCard("4000000000005126", "visa", refund_fails=True),
    "visa_chargeDeclined": TestCard("4000000000000002", "visa", decline=GENERIC),
    "visa_chargeDeclinedInsufficientFunds": TestCard(
        "4000000000009995", "visa", decline=INSUFFICIENT_FUNDS
    ),
    "visa_chargeDeclinedLostCard": TestCard("4000000000009987", "visa", decline=LOST),
    "visa_chargeDeclinedStolenCard": TestCard("4000000000009979", "visa", decline=STOLEN),
    "visa_chargeDeclinedVelocityLimitExceeded": TestCard(
        "4000000000006975", "visa", decline=VELOCITY
    ),
    "chargeDeclinedExpiredCard": TestCard("4000000000000069", "visa", decline=EXPIRED),
    "chargeDeclinedIncorrectCvc": TestCard("4000000000000127", "visa", decline=INCORRECT_CVC),
    "chargeDeclinedProcessingError": TestCard("4000000000000119", "visa", decline=PROCESSING),
    "chargeCustomerFail": TestCard(
        "4000000000000341", "visa", decline=GENERIC, declines_only_charges=True
    ),
    # (unconfirmed) the CVC check fails; we assume the default Radar rule that blocks it.
    "cvcCheckFail": TestCard("4000000000000101", "visa", decline=INCORRECT_CVC),
    "radarBlock": TestCard("4100000000000019", "visa", decline=FRAUDULENT),
    "authenticationRequired": TestCard("4000002760003184", "visa", authentication=_A.ALWAYS),
    "authenticationRequiredOnSetup": TestCard(
        "4000002500003155", "visa", authentication=_A.UNLESS_SET_UP
    ),
    "authenticationRequiredChargeDeclinedInsufficientFunds": TestCard(
        "4000008260003178",
        "visa",
        authentication=_A.ALWAYS,
        decline_after_authentication=INSUFFICIENT_FUNDS,
    ),
    "threeDSecure2Required": TestCard("4000000000003220", "visa", authentication=_A.ALWAYS),
    "threeDSecureRequired": TestCard("4000000000003063", "visa", authentication=_A.ALWAYS),
    "threeDSecureRequiredChargeDeclined": TestCard(
        "4000008400001629",
        "visa",
        authentication=_A.ALWAYS,
        decline_after_authentication=GENERIC,
    ),
    "threeDSecureOptional": TestCard("4000000000003055", "visa"),
}

_BY_NUMBER: dict[str, TestCard] = {card.number: card for card in _NAMED.values()}
_BY_NUMBER.update(
    {
        "4012888888881881": TestCard("4012888888881881", "visa"),
        "2223003122003222": TestCard("2223003122003222", "mastercard"),
        "371449635398431": TestCard("371449635398431", "amex"),
        "6011000990139424": TestCard("6011000990139424", "discover"),
        "36227206271667": TestCard("36227206271667", "diners"),
    }
)


@functools.cache
def _fingerprint(number: str) -> str:
    """Stable per card number, as Stripe's fingerprint is."""
    return hashlib.sha256(number.encode()).hexdigest()[:16]


def card_for_name(name: str) -> TestCard | None:
    """The card behind ``pm_card_<name>`` or ``tok_<name>``; ``visa_`` may be added or left out."""
    if name in _NAMED:
        return _NAMED[name]
    if name.startswith("visa_"):
        return _NAMED.get(name.removeprefix("visa_"))
    return _NAMED.get("visa_" + name)


def card_for_number(number: str) -> TestCard | None:
    """The test card with this number, or None (a real or invalid number)."""
    return _BY_NUMBER.get(number)


def passes_luhn(number: str) -> bool:
    """The card-number checksum every real and test number satisfies."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def card_names() -> list[str]:
    """Every name usable as ``pm_card_<name>`` (for documentation and tests)."""
    return sorted(_NAMED)
