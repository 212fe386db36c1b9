"""The only package that imports ``stripe``: SDK calls, retries, the circuit breaker, webhook
signatures, and the translation of Stripe's errors into ours."""

from payment_lib.stripe_gateway.gateway import StripeGateway
from payment_lib.stripe_gateway.signatures import verify_webhook

__all__ = ["StripeGateway", "verify_webhook"]
