"""Checking a webhook's ``Stripe-Signature`` header with the SDK's verifier."""

from __future__ import annotations

import time
from collections.abc import Sequence

import stripe

from payment_lib.domain.errors import InvalidSignature


def verify_webhook(
    payload: bytes, header: str | None, secrets: Sequence[str], tolerance: int
) -> None:
    """Check a webhook's ``Stripe-Signature`` header with the SDK's verifier.

    Any one of ``secrets`` may have signed it (several during a rotation). Needs no API key.

    Raises:
        InvalidSignature: no secret configured, no header, a signature none of the secrets
            made, or a timestamp more than ``tolerance`` seconds old (refused as a replay) or
            ahead (the SDK checks only the past; a clock that far ahead is not Stripe's).
    """
    if not secrets:
        raise InvalidSignature(
            "PAYMENT_WEBHOOK_SECRETS: no webhook secret is configured; no event can be verified."
        )
    if not header:
        raise InvalidSignature("No Stripe-Signature header: the request is not from Stripe.")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        except stripe.SignatureVerificationError as error:
            if "tolerance" in str(error):
                raise InvalidSignature(
                    f"The signature is more than {tolerance} seconds old (outside the "
                    "tolerance): refused as a possible replay."
                ) from None
            continue
        except ValueError:  # not UTF-8: Stripe never signed it
            break
        if _timestamp(header) > time.time() + tolerance:
            raise InvalidSignature(
                f"The signature is dated more than {tolerance} seconds in the future (outside "
                "the tolerance): refused."
            )
        return
    raise InvalidSignature("The Stripe-Signature header matches none of the webhook secrets.")


def _timestamp(header: str) -> int:
    """The ``t=`` of a Stripe-Signature header the SDK accepted (so it has one)."""
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            return int(value)
    return 0
