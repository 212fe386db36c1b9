"""The ports services depend on, defined once: the clock, the unit-of-work factory and Stripe.

The facade wires the concrete ones (``observability.utcnow``, ``Database.unit_of_work``,
``stripe_gateway.StripeGateway``); tests pass their own clock. Services never import the
gateway: they see Stripe through this Protocol, in terms of ``stripe_objects``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.stripe_objects import CardDetails, IntentOutcome, Listable, RefundOutcome

Clock = Callable[[], dt.datetime]
NewUnitOfWork = Callable[[], UnitOfWork]


class StripeGateway(Protocol):
    """What the services ask of Stripe. Every call retries what is safe to retry and raises
    the library's errors (ProviderUnavailable, InvalidRequest, NotFound, ...)."""

    def confirm_payment(
        self,
        *,
        amount: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        return_url: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        customer: str | None = None,
        off_session: bool = False,
        save_for_off_session: bool = False,
    ) -> IntentOutcome:
        """Create and confirm a PaymentIntent; a decline is an outcome, not an error."""
        ...

    def create_customer(self, *, user_id: str, idempotency_key: str) -> str:
        """A Stripe Customer for one of our users; its id."""
        ...

    def update_customer_email(self, customer: str, email: str) -> None:
        """Set a Customer's email."""
        ...

    def attach_payment_method(
        self, payment_method: str, *, customer: str, idempotency_key: str
    ) -> CardDetails:
        """Attach a PaymentMethod to a Customer for off-session charges."""
        ...

    def set_up_card(
        self,
        *,
        customer: str,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> IntentOutcome:
        """Save and verify a card for off-session charges (a SetupIntent); no charge."""
        ...

    def set_default_payment_method(
        self, customer: str, payment_method: str, *, idempotency_key: str
    ) -> None:
        """Make an attached PaymentMethod the Customer's invoice default."""
        ...

    def detach_payment_method(self, payment_method: str, *, idempotency_key: str) -> None:
        """Detach a PaymentMethod from its Customer for good (detached already: nothing)."""
        ...

    def retrieve_payment(self, intent_id: str) -> IntentOutcome:
        """The PaymentIntent as Stripe has it now (NotFound if Stripe has none)."""
        ...

    def find_payment_intent(
        self,
        metadata_key: str,
        value: str,
        *,
        created_from: dt.datetime,
        created_to: dt.datetime,
    ) -> IntentOutcome | None:
        """The PaymentIntent whose metadata has ``value`` under ``metadata_key``, if any."""
        ...

    def walk(
        self,
        resource: Listable,
        *,
        created_from: dt.datetime,
        created_to: dt.datetime,
        page_size: int = 100,
    ) -> Iterator[list[dict[str, Any]]]:
        """Every object of ``resource`` created in the window, a page at a time."""
        ...

    def refunds_of(self, payment_intent: str) -> list[dict[str, Any]]:
        """Every refund of a PaymentIntent, oldest first."""
        ...

    def create_refund(
        self,
        *,
        payment_intent: str,
        amount: int,
        idempotency_key: str,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> RefundOutcome:
        """Refund part of a PaymentIntent's charge, once per idempotency key."""
        ...

    def find_refund(self, *, payment_intent: str, key: str, value: str) -> RefundOutcome | None:
        """The PaymentIntent's refund with ``metadata[key] == value``, if any."""
        ...

    def retrieve_refund(self, refund_id: str) -> RefundOutcome:
        """The refund as Stripe has it now."""
        ...

    def retrieve_event(self, event_id: str) -> dict[str, Any]:
        """An event from Stripe's events API (NotFound if unknown)."""
        ...
