"""A Customer's saved cards at Stripe: attach one, make one the invoice default, detach one.

Part of ``StripeGateway`` (a base class of it): every call goes through its ``_call``, with
its retries, circuit breaker and error translation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import stripe

from payment_lib.stripe_objects import CardDetails
from payment_lib.stripe_objects import card_details as _card

T = TypeVar("T")


class CardCalls:
    """The saved-card calls of ``StripeGateway``."""

    client: stripe.StripeClient

    def _call(self, operation: str, function: Callable[[], T]) -> T:
        raise NotImplementedError  # StripeGateway's

    def attach_payment_method(
        self, payment_method: str, *, customer: str, idempotency_key: str
    ) -> CardDetails:
        """Attach a PaymentMethod to a Customer so it can be charged off-session later."""

        def attach() -> CardDetails:
            attached = self.client.v1.payment_methods.attach(
                payment_method,
                params={"customer": customer},
                options={"idempotency_key": idempotency_key},
            )
            card = _card(attached.to_dict())
            assert card is not None
            return card

        return self._call("payment_methods.attach", attach)

    def set_default_payment_method(
        self, customer: str, payment_method: str, *, idempotency_key: str
    ) -> None:
        """Make an attached PaymentMethod the Customer's ``invoice_settings`` default."""
        self._call(
            "customers.update",
            lambda: self.client.v1.customers.update(
                customer,
                params={"invoice_settings": {"default_payment_method": payment_method}},
                options={"idempotency_key": idempotency_key},
            ),
        )

    def detach_payment_method(self, payment_method: str, *, idempotency_key: str) -> None:
        """Detach a PaymentMethod from its Customer: it can never be charged again. One that
        is detached already (an earlier answer was lost) is left as it is."""

        def detach() -> None:
            try:
                self.client.v1.payment_methods.detach(
                    payment_method, options={"idempotency_key": idempotency_key}
                )
            except stripe.InvalidRequestError as error:
                if error.code != "payment_method_unexpected_state":
                    raise
                found = self.client.v1.payment_methods.retrieve(payment_method)
                if found.to_dict().get("customer") is not None:
                    raise

        self._call("payment_methods.detach", detach)
