"""Checking a webhook's ``Stripe-Signature`` header with the SDK's verifier."""

from __future__ import annotations

from collections.abc import Sequence

import stripe

from payment_lib.domain.errors import (
    InvalidSignature,
)
from payment_lib.stripe_objects import CardDetails as CardDetails
from payment_lib.stripe_objects import IntentOutcome as IntentOutcome


def verify_webhook(
    payload: bytes, header: str | None, secrets: Sequence[str], tolerance: int
) -> None:
    """Check a webhook's ``Stripe-Signature`` header with the SDK's verifier.

    Any one of ``secrets`` may have signed it (several during a rotation). Needs no API key.

    Raises:
        InvalidSignature: no secret configured, no header, a signature none of the secrets
            made, or a timestamp older than ``tolerance`` seconds (refused as a replay).
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
        return
    raise InvalidSignature("The Stripe-Signature header matches none of the webhook secrets.")
