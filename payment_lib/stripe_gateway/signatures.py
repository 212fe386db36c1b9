"""Checking a webhook's ``Stripe-Signature`` header, as Stripe documents it.

The header is ``t=<unix time>,v1=<signature>[,v1=<signature>...]`` (other schemes, ``v0``, are
ignored); each ``v1`` is the hex HMAC-SHA256, keyed by an endpoint's signing secret, of
``"<t>.<body>"``. During a secret rotation Stripe sends one ``v1`` per secret. Signatures are
compared in constant time (``hmac.compare_digest``); then the time must be within the tolerance,
past (a replay) and future. Hand-written with ``hmac``: the same checks as the
SDK's ``WebhookSignature.verify_header``, at a fraction of its cost, and a header that is not
ASCII is refused rather than raising ``TypeError`` from the comparison.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence

from payment_lib.domain.errors import InvalidSignature

SCHEME = "v1"


def verify_webhook(
    payload: bytes, header: str | None, secrets: Sequence[str], tolerance: int
) -> None:
    """Check a webhook's ``Stripe-Signature`` header.

    Any one of ``secrets`` may have signed it (several during a rotation). Needs no API key.

    Raises:
        InvalidSignature: no secret configured, no header, a signature none of the secrets
            made (or a header that is not one), a body that is not UTF-8, or a timestamp more
            than ``tolerance`` seconds old (refused as a replay) or ahead (a clock that far
            ahead is not Stripe's). A tolerance of 0 checks no age, as the SDK does.
    """
    if not secrets:
        raise InvalidSignature(
            "PAYMENT_WEBHOOK_SECRETS: no webhook secret is configured; no event can be verified."
        )
    if not header:
        raise InvalidSignature("No Stripe-Signature header: the request is not from Stripe.")
    timestamp, signatures = _parsed(header)
    if timestamp is None or not signatures or not _signed(payload, timestamp, signatures, secrets):
        raise InvalidSignature("The Stripe-Signature header matches none of the webhook secrets.")
    now = time.time()
    if tolerance and timestamp < now - tolerance:
        raise InvalidSignature(
            f"The signature is more than {tolerance} seconds old (outside the tolerance): "
            "refused as a possible replay."
        )
    if timestamp > now + tolerance:
        raise InvalidSignature(
            f"The signature is dated more than {tolerance} seconds in the future (outside "
            "the tolerance): refused."
        )


def _parsed(header: str) -> tuple[int | None, list[bytes]]:
    """The header's first ``t`` (None if missing or not a number) and its ``v1`` values (as
    UTF-8 bytes, so that any text compares safely)."""
    timestamp: int | None = None
    signatures: list[bytes] = []
    for item in header.split(","):
        name, _, value = item.partition("=")
        if name == SCHEME:
            signatures.append(value.encode("utf-8", "replace"))
        elif name == "t" and timestamp is None:
            try:
                timestamp = int(value)
            except ValueError:
                return None, []
    return timestamp, signatures


def _signed(
    payload: bytes, timestamp: int, signatures: list[bytes], secrets: Sequence[str]
) -> bool:
    """Whether any ``v1`` signature is one of the secrets' HMAC of ``"<t>.<body>"``; a body that
    is not UTF-8 is not Stripe's (it signs JSON text)."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    signed = b"%d." % timestamp + payload
    found = False
    for secret in secrets:
        if not secret.strip():
            continue
        expected = hmac.digest(secret.encode(), signed, "sha256").hex().encode()  # one-shot
        for signature in signatures:  # every one compared: the time taken tells nothing
            found |= hmac.compare_digest(expected, signature)
    return found
