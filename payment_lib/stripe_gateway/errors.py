"""Stripe's exceptions, through one explicit table, into ours; and which are worth retrying."""

from __future__ import annotations

import stripe

from payment_lib.circuit_breaker import CircuitOpen
from payment_lib.domain.errors import (
    AlreadyRefunded,
    ConfigurationError,
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


def translate(error: Exception) -> PaymentError:
    """Stripe's exceptions, through one explicit table, into ours."""
    request_id = getattr(error, "request_id", None)
    if isinstance(error, CircuitOpen):
        return ProviderUnavailable(
            "Stripe is failing repeatedly; calls are paused for a minute. Please try again."
        )
    if transient(error):
        return ProviderUnavailable(stripe_request_id=request_id)
    if isinstance(error, stripe.IdempotencyError):
        return IdempotencyConflict(stripe_request_id=request_id)
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return ConfigurationError(
            "PAYMENT_STRIPE_API_KEY: Stripe rejected the API key.", stripe_request_id=request_id
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
