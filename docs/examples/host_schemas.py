"""The example host app's bodies, as OpenAPI schemas (docs/openapi.json is generated from them).

They document; they do not parse. Requests are checked by payment_lib itself (its messages
name the field), and responses are the library's ``to_dict()``. The contract tests validate
real responses against these models (``extra="forbid"``), so the document cannot drift from
what the app sends.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


Amount = Field(description='Decimal string in major units, e.g. "20.00" (never a float).')


class ErrorDetail(Schema):
    """payment_lib's ``PaymentError.to_dict()``."""

    code: str = Field(description="Stable, machine-readable: invalid_request, not_found, ...")
    message: str = Field(description="What went wrong and what to do; never a card number.")
    param: str | None = Field(None, description="The request field at fault, when one is.")
    retry_after: int | None = Field(None, description="Seconds to wait before retrying.")


class ErrorBody(Schema):
    """Every error response, whatever the status."""

    error: ErrorDetail


class PaymentCreate(Schema):
    amount: str = Amount
    currency: str = Field(description="ISO 4217, lower case: usd, eur, jpy, ...")
    payment_method_id: str = Field(description="A Stripe PaymentMethod id (pm_...).")
    idempotency_key: str = Field(description="Names this payment; a retry sends the same key.")
    plan_id: str | None = Field(None, description="Also start this plan's subscription.")
    customer_email: str | None = None
    return_url: str | None = Field(None, description="Where 3-D Secure returns the customer.")
    description: str | None = None


class Failure(Schema):
    code: str
    message: str
    retry_helps: bool


class Payment(Schema):
    id: str
    user_id: str
    status: str = Field(description="succeeded, requires_action, failed, pending, unknown, ...")
    amount: str
    currency: str
    amount_refunded: str
    stripe_transaction_id: str | None
    redirect_url: str | None = Field(description="For requires_action: send the customer here.")
    subscription_id: str | None
    plan_id: str | None
    error: Failure | None = Field(description="Why a failed payment failed.")
    created_at: str
    replayed: bool = Field(description="True when this answers a repeated idempotency key.")
    dispute_status: str | None
    amount_lost: str | None


class PaymentPage(Schema):
    payments: list[Payment] = Field(description="The caller's payments, newest first.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: done.")


class RefundCreate(Schema):
    payment_id: str
    amount: str | None = Field(None, description="Default: everything that remains.")
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    note: str | None = Field(None, description="Kept with the refund (at most 500 characters).")


class Refund(Schema):
    id: str
    payment_id: str
    status: str
    amount: str
    currency: str
    reason: str | None
    note: str | None
    requested_by: str
    stripe_refund_id: str | None
    failure_message: str | None
    created_at: str
    payment_status: str
    amount_refunded: str
    remaining_refundable: str
    subscription_id: str | None
    subscription_status: str | None
    replayed: bool


class SubscriptionCreate(Schema):
    plan_id: str
    payment_method_id: str = Field(description="A Stripe PaymentMethod id (pm_...).")
    idempotency_key: str
    customer_email: str | None = None
    return_url: str | None = None
    description: str | None = None


class SubscriptionUpdate(Schema):
    """Exactly one of the three."""

    status: Literal["cancelled"] | None = Field(None, description="Cancel now.")
    cancel_at_period_end: Literal[True] | None = Field(None, description="Do not renew.")
    payment_method_id: str | None = Field(None, description="Charge renewals to this card.")


class Subscription(Schema):
    id: str
    user_id: str
    plan_id: str
    status: str
    start_date: str
    next_billing_date: str | None
    end_date: str | None
    cancel_at_period_end: bool
    failed_attempts: int
    next_retry_at: str | None
    scheduled_plan_id: str | None = Field(
        default=None, description="The plan a change moves it to at the period's end."
    )
    trial_ends_at: str | None = Field(default=None, description="While trialing: its end.")
    paused_at: str | None = Field(default=None, description="While paused: since when.")
    pause_until: str | None = Field(
        default=None, description="While paused: until when (null: until resumed)."
    )


class SubscriptionList(Schema):
    subscriptions: list[Subscription]


class SubscriptionResult(Schema):
    payment: Payment = Field(description="The first period's payment.")
    subscription: Subscription | None = Field(description="null unless the payment succeeded.")


class ReceivedEvent(Schema):
    stripe_event_id: str
    event_type: str
    duplicate: bool


class HealthCheck(Schema):
    name: str
    ok: bool
    detail: str


class Health(Schema):
    status: Literal["ok"]
    checks: list[HealthCheck]


class HealthFailure(Schema):
    """A 503 from /healthz: the first failing check's error, and every check."""

    error: ErrorDetail
    checks: list[HealthCheck]


REQUEST_BODIES: list[type[Schema]] = [
    PaymentCreate,
    RefundCreate,
    SubscriptionCreate,
    SubscriptionUpdate,
]
