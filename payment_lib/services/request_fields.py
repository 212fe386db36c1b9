"""What a caller may say in a request, once: the facade's keyword arguments and the
validators' parameters are these fields (``Unpack[PayFields]``), so they are never repeated.

Values are ``object``: anything may arrive from a host app, a form or the CLI, and the
validators say precisely what is wrong with it.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class PayFields(TypedDict):
    """The fields of a payment request (``Payments.pay``)."""

    user_id: object
    amount: object  # a decimal string in major units, e.g. "20.00"
    currency: object  # ISO 4217, e.g. "usd"
    payment_method: object  # a Stripe PaymentMethod id, pm_...
    idempotency_key: object  # names this payment: the same key never charges twice
    plan_id: NotRequired[object]
    customer_email: NotRequired[object]
    return_url: NotRequired[object]
    description: NotRequired[object]
    metadata: NotRequired[object]
    off_session: NotRequired[bool]


class RefundFields(TypedDict, total=False):
    """The optional fields of a refund request (``Payments.refund``)."""

    amount: object  # a decimal string; default: everything that remains
    reason: object  # duplicate, fraudulent or requested_by_customer
    note: object
    idempotency_key: object
