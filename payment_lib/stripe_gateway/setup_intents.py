"""SetupIntents: save a card to a Customer for off-session charges, verified, without a charge.

A mixin of ``StripeGateway`` (kept apart so the gateway module stays small); it uses the
gateway's client and its ``_call`` (retries, breaker, error translation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import stripe

from payment_lib.stripe_objects import IntentOutcome
from payment_lib.stripe_objects import intent_outcome as _outcome

T = TypeVar("T")


class SetupIntentCalls:
    """``set_up_card``: the gateway's SetupIntent call."""

    client: stripe.StripeClient

    def _call(self, operation: str, function: Callable[[], T]) -> T:
        raise NotImplementedError  # StripeGateway's

    def set_up_card(
        self,
        *,
        customer: str,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
    ) -> IntentOutcome:
        """Create and confirm an off-session SetupIntent for ``customer``: the card is verified
        and attached, nothing is charged. A decline, or a card asking for authentication, is an
        outcome (``requires_payment_method`` with the error, or ``requires_action``), not an
        error. The same key always answers the same SetupIntent.

        Raises:
            ProviderUnavailable: Stripe unreachable or failing after retries (same key: safe).
            InvalidRequest, IdempotencyConflict, ConfigurationError, ProviderError.
        """
        params: dict[str, Any] = {
            "customer": customer,
            "payment_method": payment_method,
            "usage": "off_session",
            "confirm": True,
            # Cards only: no redirect-based payment method could be confirmed here.
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "expand": ["payment_method"],
            "metadata": metadata or {},
        }

        def create() -> IntentOutcome:
            try:
                setup = self.client.v1.setup_intents.create(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": idempotency_key},
                )
            except stripe.CardError as declined:
                json_body: Any = declined.json_body or {}
                body = json_body.get("error") or {}
                return _outcome(
                    body.get("setup_intent") or {}, request_id=declined.request_id, error=body
                )
            response = setup.last_response
            return _outcome(setup.to_dict(), request_id=response.request_id if response else None)

        return self._call("setup_intents.create", create)
