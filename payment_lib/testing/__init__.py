"""Test helpers for apps using payment_lib: a local emulator of Stripe's test mode.

``StripeEmulator`` speaks Stripe's v1 API over HTTP (PaymentMethods, Customers,
PaymentIntents, Charges, Refunds, Disputes, Events, and search) with the documented test
cards, 3-D Secure, disputes, idempotency, signed webhooks and fault injection, so the real
``stripe`` SDK can be tested without a network. Pytest users add
``pytest_plugins = ["payment_lib.testing.pytest_plugin"]`` for the ``stripe_emulator`` and
``stripe_target`` fixtures.

Nothing here imports the ``stripe`` SDK: the emulator stands in for Stripe itself.
"""

from payment_lib.testing.emulator import DEFAULT_API_KEY, StripeEmulator
from payment_lib.testing.faults import FaultPlan
from payment_lib.testing.target import REAL_STRIPE_KEY_VARIABLE, StripeTarget
from payment_lib.testing.webhooks import DeliveryAttempt, signature_header

__all__ = [
    "DEFAULT_API_KEY",
    "REAL_STRIPE_KEY_VARIABLE",
    "DeliveryAttempt",
    "FaultPlan",
    "StripeEmulator",
    "StripeTarget",
    "signature_header",
]
