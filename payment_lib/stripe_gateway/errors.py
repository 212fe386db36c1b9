"""Stripe's exceptions, through one explicit table, into ours; and which are worth retrying."""

from __future__ import annotations

import socket

import stripe

from payment_lib.circuit_breaker import CircuitOpen
from payment_lib.domain.environment_errors import ProviderUnreachable, StripeKeyRejected
from payment_lib.domain.errors import (
    AlreadyRefunded,
    IdempotencyConflict,
    InvalidRequest,
    PaymentError,
    ProviderError,
    ProviderUnavailable,
)

# Stripe error codes that mean something specific to our callers; other invalid requests
# become InvalidRequest.
_ERRORS_BY_CODE: dict[str, type[PaymentError]] = {
    "charge_already_refunded": AlreadyRefunded,
}


def transient(error: BaseException) -> bool:
    """Worth retrying with the same key: network trouble, 409 in flight, 429, 5xx."""
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return True
    if isinstance(error, stripe.APIError):
        status = error.http_status
        return status is None or status == 409 or status >= 500
    return False


# No connection could be opened at all (as opposed to one lost mid-request).
_NOT_CONNECTED = ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError")
STRIPE_HOST = "api.stripe.com"


def unreachable_address(error: BaseException) -> str | None:
    """Where Stripe was looked for, when no connection could be opened there (refused, no
    such host); None for any other error."""
    address, refused = None, False
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            break
        # urllib3's MaxRetryError knows the address: ``conn`` (urllib3 2), ``pool`` before it
        pool = getattr(seen, "conn", None) or getattr(seen, "pool", None)
        if pool is not None and address is None:
            address = f"{pool.scheme}://{pool.host}:{pool.port}"
        if isinstance(seen, ConnectionRefusedError | socket.gaierror) or any(
            type(seen).__name__ == name for name in _NOT_CONNECTED
        ):
            refused = True
        seen = seen.__cause__ or seen.__context__
    return (address or STRIPE_HOST) if refused else None


def translate(error: Exception) -> PaymentError:
    """Stripe's exceptions, through one explicit table, into ours."""
    request_id = getattr(error, "request_id", None)
    if isinstance(error, CircuitOpen):
        return ProviderUnavailable(
            "Stripe is failing repeatedly; calls are paused for a minute. Please try again."
        )
    address = unreachable_address(error)
    if address is not None:
        named = "" if STRIPE_HOST in address else " (PAYMENT_STRIPE_API_BASE)"
        where = f"{address}{named}"
        return ProviderUnreachable(
            f"Stripe at {where} could not be reached (no connection could be opened): check "
            "the address and the network; nothing was charged."
        )
    if transient(error):
        status = getattr(error, "http_status", None)
        if status is not None and status >= 500:
            return ProviderUnavailable(
                f"Stripe answered HTTP {status} (a failure on its side): try again later with "
                "the same idempotency key; nothing is charged twice.",
                stripe_request_id=request_id,
            )
        return ProviderUnavailable(stripe_request_id=request_id)
    if isinstance(error, stripe.IdempotencyError):
        return IdempotencyConflict(stripe_request_id=request_id)
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return StripeKeyRejected(
            f"PAYMENT_STRIPE_API_KEY: Stripe rejected the API key (HTTP {error.http_status}): "
            "copy a valid secret key from the Stripe dashboard (Developers, API keys).",
            stripe_request_id=request_id,
        )
    if isinstance(error, stripe.CardError):
        return InvalidRequest(
            f"The card was declined: {error.user_message or 'no reason given'}",
            param="payment_method",
            stripe_request_id=request_id,
        )
    if isinstance(error, stripe.InvalidRequestError) and error.code in _ERRORS_BY_CODE:
        return _ERRORS_BY_CODE[error.code](error.user_message, stripe_request_id=request_id)
    if isinstance(error, stripe.InvalidRequestError):
        return InvalidRequest(
            error.user_message or "Stripe refused the request.",
            param=error.param,
            stripe_request_id=request_id,
        )
    return ProviderError(stripe_request_id=request_id)
