"""An example host application: the seed's HTTP API as a small FastAPI app over payment_lib.

Run it (after ``pip install -e '.[example]'``)::

    PAYMENT_STRIPE_API_KEY=sk_test_... uvicorn --factory docs.examples.host_app:app_from_env

payment_lib knows nothing of HTTP: this file maps requests to facade calls and library errors
to status codes. Authentication is a stand-in (X-Actor / X-Roles headers); use your own.
A body holding a card number in any field is refused (400) with payment_lib's own detector, and
the server's log lines (uvicorn's access log names each path) are scrubbed by it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from payment_lib import (
    Actor,
    InvalidRequest,
    PaymentError,
    PaymentInfo,
    Payments,
    Settings,
    contains_card_number,
    redact_card_numbers,
    refuse_card_numbers,
)

STATUS_BY_CODE = {
    "invalid_request": 400,
    "invalid_signature": 401,
    "forbidden": 403,
    "not_found": 404,
    "idempotency_conflict": 409,
    "illegal_transition": 409,
    "already_refunded": 409,
    "payload_too_large": 413,
    "rate_limited": 429,
    "provider_unavailable": 503,
    "database_unavailable": 503,
}
PAYMENT_FIELDS = ("user_id", "amount", "currency", "payment_method_id", "idempotency_key")


def _error(error: PaymentError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return JSONResponse(
        {"error": error.to_dict()}, STATUS_BY_CODE.get(error.code, 502), headers=headers
    )


def _actor(request: Request) -> Actor:
    """Stand-in authentication: trust X-Actor and X-Roles. Replace with your own."""
    roles = frozenset(r.strip() for r in request.headers.get("x-roles", "").split(",") if r)
    return Actor(request.headers.get("x-actor", "anonymous"), roles)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidRequest("The body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    refuse_card_numbers(body)  # any field, even one this app ignores
    return body


class RedactCardNumbers(logging.Filter):
    """Log records (e.g. uvicorn's access log, which names the path) without card numbers."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if contains_card_number(message):
            record.msg, record.args = redact_card_numbers(message), ()
        return True


def _scrub_server_logs() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCardNumbers) for f in logger.filters):
            logger.addFilter(RedactCardNumbers())


def _payment_status(payment: PaymentInfo) -> int:
    return {"succeeded": 201, "requires_action": 200, "failed": 402}.get(payment.status, 202)


def create_app(payments: Payments) -> FastAPI:
    """The app, over a facade the caller built (and closes)."""
    _scrub_server_logs()
    app = FastAPI(title="payment_lib example host")

    @app.exception_handler(PaymentError)
    async def library_error(_request: Request, error: PaymentError) -> JSONResponse:
        return _error(error)

    @app.post("/api/v1/payments")
    async def create_payment(request: Request) -> JSONResponse:
        body = await _json(request)
        missing = [name for name in PAYMENT_FIELDS if name not in body]
        if missing:
            raise InvalidRequest(f"Missing field(s): {', '.join(missing)}.", param=missing[0])
        payment = payments.pay(
            user_id=body["user_id"],
            amount=body["amount"],
            currency=body["currency"],
            payment_method=body["payment_method_id"],
            idempotency_key=body["idempotency_key"],
            plan_id=body.get("plan_id"),
            customer_email=body.get("customer_email"),
            return_url=body.get("return_url"),
            description=body.get("description"),
        )
        return JSONResponse(payment.to_dict(), _payment_status(payment))

    @app.get("/api/v1/subscriptions/{user_id}")
    async def user_subscriptions(user_id: str) -> dict[str, Any]:
        return {"subscriptions": [s.to_dict() for s in payments.list_subscriptions(user_id)]}

    @app.patch("/api/v1/subscriptions/{subscription_id}")
    async def update_subscription(subscription_id: str, request: Request) -> dict[str, Any]:
        body = await _json(request)
        if body.get("status") == "cancelled":
            return payments.cancel_subscription(subscription_id).to_dict()
        if body.get("cancel_at_period_end") is True:
            return payments.cancel_subscription(subscription_id, at_period_end=True).to_dict()
        if "payment_method_id" in body:
            changed = payments.change_payment_method(subscription_id, body["payment_method_id"])
            return changed.to_dict()
        raise InvalidRequest(
            'Send {"status": "cancelled"}, {"cancel_at_period_end": true} '
            'or {"payment_method_id": "pm_..."}.'
        )

    @app.post("/api/v1/refunds")
    async def create_refund(request: Request) -> JSONResponse:
        body = await _json(request)
        refund = payments.refund(
            body.get("payment_id"),
            actor=_actor(request),
            amount=body.get("amount"),
            reason=body.get("reason"),
            note=body.get("note"),
            idempotency_key=request.headers.get("idempotency-key"),
        )
        return JSONResponse(refund.to_dict(), 201)

    @app.post("/api/v1/webhooks/stripe")
    async def stripe_webhook(request: Request) -> dict[str, Any]:
        """Verify and store only; the worker processes it. Duplicates are acknowledged."""
        received = payments.receive_webhook(
            await request.body(), request.headers.get("stripe-signature")
        )
        return received.to_dict()

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(payments.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory``: settings from PAYMENT_* variables."""
    return create_app(Payments.from_settings(Settings.from_env()))
