"""One error hierarchy for everything payment_lib raises to its callers.

Each error carries a stable machine-readable ``code`` and a ``message`` a person can act on.
Codes never change once published; messages may be reworded. A message never carries a card
number: whatever looks like one is replaced by ``[REDACTED]`` (the inputs are refused before
any message could repeat them; this is the net under that rule).
"""

from __future__ import annotations

from payment_lib.domain.card_data import redact_card_numbers


class PaymentError(Exception):
    """Base of every error payment_lib raises on purpose."""

    code = "payment_error"
    default_message = "The payment operation failed."
    retryable = False

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int | None = None,
        stripe_request_id: str | None = None,
        param: str | None = None,
    ) -> None:
        self.message = redact_card_numbers(message or self.default_message)
        self.retry_after = retry_after
        self.stripe_request_id = stripe_request_id
        self.param = param
        super().__init__(self.message)

    def to_dict(self) -> dict[str, object]:
        """The error as a JSON-ready object: code, message and whatever else is known."""
        data: dict[str, object] = {"code": self.code, "message": self.message}
        if self.retry_after is not None:
            data["retry_after"] = self.retry_after
        if self.param is not None:
            data["param"] = self.param
        return data


class InvalidRequest(PaymentError):
    """The input is malformed or breaks a rule; nothing was changed."""

    code = "invalid_request"
    default_message = "The request is invalid."


class InvalidSignature(PaymentError):
    """A webhook's Stripe-Signature is missing, wrong or too old; a host app answers 401."""

    code = "invalid_signature"
    default_message = "The webhook signature could not be verified."


class ConfigurationError(PaymentError):
    """A setting is missing or invalid; the message names it."""

    code = "invalid_configuration"
    default_message = "The configuration is invalid."


class NotFound(PaymentError):
    """The thing asked for does not exist."""

    code = "not_found"
    default_message = "Not found."


class Forbidden(PaymentError):
    """The actor is not allowed to do this."""

    code = "forbidden"
    default_message = "You are not allowed to do this."


class IllegalTransition(PaymentError):
    """A state change the state machine does not allow; nothing was changed."""

    code = "illegal_transition"
    default_message = "This change is not allowed in the current state."


class RateLimited(PaymentError):
    """Too many attempts in the window; ``retry_after`` says when to try again."""

    code = "rate_limited"
    default_message = "Too many payment attempts. Please try again later."
    retryable = True


class IdempotencyConflict(PaymentError):
    """The idempotency key was already used with a different request."""

    code = "idempotency_conflict"
    default_message = "This idempotency key was already used with a different request."


class AlreadyRefunded(PaymentError):
    """Nothing (or not that much) remains to refund."""

    code = "already_refunded"
    default_message = "This payment has already been refunded."


class ProviderUnavailable(PaymentError):
    """Stripe could not be reached or kept failing; safe to retry with the same key."""

    code = "provider_unavailable"
    default_message = "The payment provider is unavailable. Please try again."
    retryable = True


class ProviderError(PaymentError):
    """Stripe answered with an error this library does not expect; not retried."""

    code = "provider_error"
    default_message = "The payment provider reported an unexpected error."


class DatabaseUnavailable(PaymentError):
    """The database could not be reached or dropped the connection (a restart, a failover,
    the network); nothing unsafe was done: retry the same call, with the same key, later."""

    code = "database_unavailable"
    default_message = "The database is unavailable. Please try again shortly."
    retryable = True
