"""Asking Stripe about a payment: the one call that charges, and how an outcome we do not know
is settled.

Stripe is the ledger of record. A payment's Stripe call is built only from its stored row and
sent under a key derived from its id, so sending it again returns the same PaymentIntent, but
only while Stripe remembers the key (24 hours; we stop at 23). Past that, a payment whose
outcome we do not know is never sent again: it is looked up at Stripe, by its PaymentIntent id
when we have it, else by the payment id in the PaymentIntent's metadata (the Search API, or a
bounded list by creation time where search is unavailable). Not found then means it never
reached Stripe: failed with ``not_charged``, known for sure.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from payment_lib.domain.errors import InvalidRequest, NotFound, ProviderUnavailable
from payment_lib.observability import trace
from payment_lib.services.payment_outcomes import OutcomePolicy, record_outcome
from payment_lib.services.payment_requests import parse_uuid
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.services.payment_rows import PaymentRow
from payment_lib.services.ports import NewUnitOfWork
from payment_lib.stripe_objects import IntentOutcome

if TYPE_CHECKING:
    from payment_lib.services.ports import StripeGateway

# Stripe keeps idempotency keys for 24 hours; past 23 a resent call could charge again.
SAFE_RESUME_WINDOW = dt.timedelta(hours=23)
# Where to look for a PaymentIntent by creation time: our row is written just before the call.
SEARCH_BEFORE = dt.timedelta(hours=1)
SEARCH_AFTER = dt.timedelta(hours=25)

NOT_CHARGED = IntentOutcome(
    intent_id=None,
    status="requires_payment_method",
    error_code="not_charged",
    error_message="Stripe has no PaymentIntent for this payment: it never reached Stripe.",
)


def stripe_key_for(payment_id: uuid.UUID) -> str:
    """The idempotency key Stripe sees for a payment: derived, stable across retries."""
    return f"payment_lib-payment-{payment_id}"


def may_resend(payment: PaymentRow, now: dt.datetime) -> bool:
    """Whether Stripe surely still remembers the payment's key, so sending again is safe."""
    return now - payment.created_at < SAFE_RESUME_WINDOW


def confirm(gateway: StripeGateway, payment: PaymentRow) -> IntentOutcome:
    """The Stripe call for a payment, built only from what is stored, so that a resumed or
    recovered attempt sends exactly the same request under the same idempotency key.

    A request Stripe refuses outright (InvalidRequest: nothing was charged) is an outcome too,
    ``payment_refused``, so the payment fails instead of staying unknown. Anything else that
    is not an answer (ProviderUnavailable, ProviderError) leaves the outcome unknown: raised.
    """
    details = payment.details or {}
    try:
        return gateway.confirm_payment(
            amount=payment.amount,
            currency=payment.currency,
            payment_method=str(details["payment_method"]),
            idempotency_key=stripe_key_for(payment.id),
            return_url=details.get("return_url"),
            description=payment.description,
            metadata={
                **details.get("metadata", {}),
                "payment_id": str(payment.id),
                "user_id": str(payment.user_id),
            },
            customer=details.get("customer"),
            off_session=bool(details.get("off_session")),
            save_for_off_session=bool(details.get("save_for_off_session")),
        )
    except InvalidRequest as refusal:
        return IntentOutcome(
            intent_id=None,
            status="requires_payment_method",
            error_code="payment_refused",
            error_message=refusal.message,
            request_id=refusal.stripe_request_id,
        )


def needs_customer(payment: PaymentRow) -> bool:
    """A plan purchase whose Stripe Customer is not recorded yet: it was never sent (the
    customer is recorded before the first call), and must not be sent without one."""
    details = payment.details or {}
    return bool(details.get("save_for_off_session")) and not details.get("customer")


def settle(gateway: StripeGateway, payment: PaymentRow, now: dt.datetime) -> IntentOutcome:
    """What Stripe says about a payment whose outcome we do not know (see the module doc).

    Raises:
        ProviderUnavailable, ProviderError: Stripe could not be asked; still unknown.
    """
    if payment.stripe_transaction_id:
        return gateway.retrieve_payment(payment.stripe_transaction_id)
    if may_resend(payment, now):
        if needs_customer(payment):  # the caller's retry makes the customer, then sends
            raise ProviderUnavailable(
                "The payment's Stripe Customer is not made yet; retry the same request."
            )
        return confirm(gateway, payment)
    found = gateway.find_payment_intent(
        "payment_id",
        str(payment.id),
        created_from=payment.created_at - SEARCH_BEFORE,
        created_to=payment.created_at + SEARCH_AFTER,
    )
    return found or NOT_CHARGED


def refresh_payment(
    payment_id: object, *, new_uow: NewUnitOfWork, gateway: StripeGateway, policy: OutcomePolicy
) -> PaymentInfo:
    """Ask Stripe for the payment's PaymentIntent and record what it says now (a payment with
    no PaymentIntent yet is left to recovery)."""
    wanted = parse_uuid(payment_id, "payment_id")
    with trace():
        with new_uow() as uow:
            payment = uow.payments.get(wanted)
        if payment is None:
            raise NotFound(f"No payment {wanted}.")
        if payment.stripe_transaction_id is None:
            return PaymentInfo.of(payment)
        outcome = gateway.retrieve_payment(payment.stripe_transaction_id)
        return record_outcome(payment.id, outcome, new_uow=new_uow, policy=policy)
