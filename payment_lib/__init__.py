"""payment_lib: card payments, subscriptions, Stripe webhooks and refunds.

Host applications and the CLI use only the names listed in ``__all__``.
"""

from payment_lib.config import Settings
from payment_lib.domain.errors import (
    AlreadyRefunded,
    ConfigurationError,
    Forbidden,
    IdempotencyConflict,
    IllegalTransition,
    InvalidRequest,
    NotFound,
    PaymentError,
    ProviderUnavailable,
    RateLimited,
)
from payment_lib.domain.money import Money, format_amount, parse_money

__all__ = [
    "AlreadyRefunded",
    "ConfigurationError",
    "Forbidden",
    "IdempotencyConflict",
    "IllegalTransition",
    "InvalidRequest",
    "Money",
    "NotFound",
    "PaymentError",
    "ProviderUnavailable",
    "RateLimited",
    "Settings",
    "format_amount",
    "parse_money",
]
