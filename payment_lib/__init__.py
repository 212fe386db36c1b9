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
from payment_lib.facade import Payments
from payment_lib.metrics import Metrics
from payment_lib.observability import configure_logging
from payment_lib.services.plans import PlanInfo

__all__ = [
    "AlreadyRefunded",
    "ConfigurationError",
    "Forbidden",
    "IdempotencyConflict",
    "IllegalTransition",
    "InvalidRequest",
    "Metrics",
    "Money",
    "NotFound",
    "PaymentError",
    "Payments",
    "PlanInfo",
    "ProviderUnavailable",
    "RateLimited",
    "Settings",
    "configure_logging",
    "format_amount",
    "parse_money",
]
