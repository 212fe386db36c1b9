"""An example host application: the seed's HTTP API as a small FastAPI app over payment_lib,
as a team would deploy it.

Run it (after ``pip install -e '.[example]'`` and ``payment-cli db upgrade``)::

    PAYMENT_STRIPE_API_KEY=sk_test_... HOST_APP_TOKENS_FILE=tokens.json \\
        uvicorn --factory docs.examples.host_app:app_from_env

payment_lib knows nothing of HTTP: this file maps requests to facade calls and library errors
to status codes. The rules it keeps (docs/library.md, "The example host app"):

- Who calls comes from ``Authorization: Bearer <token>`` through ``authenticate`` (a token
  table, ``host_auth.py``); user ids and roles never come from the request. Webhooks are
  authenticated by Stripe's signature instead; /healthz, /metrics and /openapi.json are open.
- A customer sees only their own payments and subscriptions; another's is a 404, word for word
  the 404 of one that does not exist, so ids cannot be probed. ``admin`` reads any, and refunds.
- Every error is ``{"error": payment_lib's PaymentError.to_dict()}`` (``host_errors.py``).
- Until the database schema is current, API requests are a 503 ``schema_behind`` saying to
  run ``payment-cli db upgrade``; /healthz runs ``host_health.health_checks``.
- Bodies are capped (64 KiB, the webhook's 1 MiB): a larger one is a 413 before it is read.
- A card number in any body field, path segment, query or header the library reads is refused
  (400) with payment_lib's own detector, and the server's log lines are scrubbed by it.
- Library calls run in a worker thread, so a slow Stripe call never stalls other requests.

The OpenAPI document is exported to docs/openapi.json: ``python -m docs.examples.export_openapi``.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations, which name
# the local ``Me`` dependency.
import json
import logging
import os
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from docs.examples import host_schemas as schemas
from docs.examples.host_auth import Authenticate, Caller, TokenTable
from docs.examples.host_errors import (
    PayloadTooLarge,
    Unauthenticated,
    error_response,
    install_error_handlers,
)
from docs.examples.host_health import SchemaGate, first_failure, health_checks
from docs.examples.host_openapi import CHARGED, DESCRIPTION, body, errors, install_openapi, ok
from payment_lib import (
    ConfigurationError,
    InvalidRequest,
    NotFound,
    PaymentInfo,
    Payments,
    Settings,
    contains_card_number,
    redact_card_numbers,
    refuse_card_numbers,
)

PAYMENT_FIELDS = ("amount", "currency", "payment_method_id", "idempotency_key")
SUBSCRIPTION_FIELDS = ("plan_id", "payment_method_id", "idempotency_key")
JSON_LIMIT = 64 * 1024  # an API body; far above any real request
WEBHOOK_LIMIT = 1024 * 1024  # Stripe's events are far smaller; payment_lib refuses more too
T = TypeVar("T")


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A facade call (blocking: database, Stripe) in a worker thread."""
    return await run_in_threadpool(function, *args, **kwargs)


async def _read(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to be over ``limit`` bytes, whether it
    says so (Content-Length) or is streamed."""
    too_large = PayloadTooLarge(f"The body is larger than {limit} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def _json(request: Request, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body: a JSON object with ``required`` fields and no user_id, free of card numbers."""
    try:
        parsed = json.loads(await _read(request, JSON_LIMIT))
    except ValueError:
        raise InvalidRequest("The body must be a JSON object.") from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("The body must be a JSON object.")
    refuse_card_numbers(parsed)  # any field, even one this app ignores
    if "user_id" in parsed:
        raise InvalidRequest("user_id comes from your token; do not send it.", param="user_id")
    missing = [name for name in required if name not in parsed]
    if missing:
        raise InvalidRequest(f"Missing field(s): {', '.join(missing)}.", param=missing[0])
    return parsed


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


def _page(listed: list[PaymentInfo], limit: int, cursor: str | None) -> dict[str, Any]:
    """``limit`` payments after ``cursor`` (the last id of the previous page)."""
    start = 0
    if cursor is not None:
        refuse_card_numbers({"cursor": cursor})
        ids = [str(payment.id) for payment in listed]
        if cursor not in ids:
            raise InvalidRequest(
                "cursor must be the next_cursor of a previous page of your payments.",
                param="cursor",
            )
        start = ids.index(cursor) + 1
    page = listed[start : start + limit]
    more = start + limit < len(listed)
    return {
        "payments": [p.to_dict() for p in page],
        "next_cursor": str(page[-1].id) if more else None,
    }


def create_app(payments: Payments, authenticate: Authenticate) -> FastAPI:
    """The app, over a facade the caller built (and closes), trusting ``authenticate`` to
    name the caller of each request (``TokenTable`` or your own callback)."""
    _scrub_server_logs()
    app = FastAPI(
        title="payment_lib example host",
        version="1",
        description=DESCRIPTION,
        responses=errors(500),
    )
    install_error_handlers(app)
    install_openapi(app, schemas.REQUEST_BODIES)
    bearer = HTTPBearer(
        auto_error=False, scheme_name="bearer", description="A token from the app's token table."
    )

    def caller(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        found = authenticate(credentials.credentials) if credentials else None
        if found is None:
            raise Unauthenticated()
        return found

    Me = Annotated[Caller, Depends(caller)]

    def owned(me: Caller, user_id: object, not_found: str) -> None:
        """Someone else's thing is, to a non-admin, a thing that does not exist."""
        if not me.is_admin and str(user_id) != me.user_id:
            raise NotFound(not_found)

    async def charge(
        me: Caller, fields: dict[str, Any], amount: object, currency: object, plan_id: object
    ) -> PaymentInfo:
        return await call(
            payments.pay,
            user_id=me.user_id,
            amount=amount,
            currency=currency,
            payment_method=fields["payment_method_id"],
            idempotency_key=fields["idempotency_key"],
            plan_id=plan_id,
            customer_email=fields.get("customer_email"),
            return_url=fields.get("return_url"),
            description=fields.get("description"),
        )

    api = APIRouter(
        prefix="/api/v1", dependencies=[Depends(SchemaGate(payments))], responses=errors(401, 503)
    )

    @api.post(
        "/payments",
        status_code=201,
        openapi_extra=body(schemas.PaymentCreate),
        responses={
            **ok(schemas.Payment, CHARGED),
            **errors(400, 409, 413, 429),
        },
    )
    async def create_payment(request: Request, me: Me) -> JSONResponse:
        """Charge the caller's card once per idempotency key (seed T011)."""
        fields = await _json(request, PAYMENT_FIELDS)
        payment = await charge(
            me, fields, fields["amount"], fields["currency"], fields.get("plan_id")
        )
        return JSONResponse(payment.to_dict(), _payment_status(payment))

    @api.get("/payments", responses={**ok(schemas.PaymentPage, {200: "A page."}), **errors(400)})
    async def my_payments(
        me: Me,
        limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
        cursor: Annotated[str | None, Query(description="next_cursor of the last page.")] = None,
    ) -> JSONResponse:
        """The caller's payments, newest first, a page at a time (of the newest 100)."""
        return JSONResponse(_page(await call(payments.list_payments, me.user_id), limit, cursor))

    @api.get(
        "/payments/{payment_id}",
        responses={**ok(schemas.Payment, {200: "The payment."}), **errors(400, 404)},
    )
    async def read_payment(payment_id: str, me: Me) -> JSONResponse:
        """One of the caller's payments (any payment, for an admin)."""
        payment = await call(payments.get_payment, payment_id)
        owned(me, payment.user_id, f"No payment {payment.id}.")
        return JSONResponse(payment.to_dict())

    @api.post(
        "/refunds",
        status_code=201,
        openapi_extra=body(schemas.RefundCreate),
        responses={**ok(schemas.Refund, {201: "Refunded."}), **errors(400, 403, 404, 409, 413)},
    )
    async def create_refund(
        request: Request,
        me: Me,
        idempotency_key: Annotated[str | None, Header(description="Names this refund.")] = None,
    ) -> JSONResponse:
        """Refund a payment in full or in part; the caller must be an admin (seed T046)."""
        fields = await _json(request, ("payment_id",))
        refund = await call(
            payments.refund,
            fields["payment_id"],
            actor=me.actor,
            amount=fields.get("amount"),
            reason=fields.get("reason"),
            note=fields.get("note"),
            idempotency_key=idempotency_key,
        )
        return JSONResponse(refund.to_dict(), 201)

    @api.post(
        "/subscriptions",
        status_code=201,
        openapi_extra=body(schemas.SubscriptionCreate),
        responses={
            **ok(schemas.SubscriptionResult, CHARGED),
            **errors(400, 409, 413, 429),
        },
    )
    async def subscribe(request: Request, me: Me) -> JSONResponse:
        """Subscribe the caller to a plan: its first period is paid now."""
        fields = await _json(request, SUBSCRIPTION_FIELDS)
        plans = {plan.id: plan for plan in await call(payments.list_plans)}
        plan = plans.get(fields["plan_id"])
        if plan is None:
            raise InvalidRequest("plan_id names no plan.", param="plan_id")
        payment = await charge(me, fields, plan.price.amount, plan.price.currency, plan.id)
        subscription = None
        if payment.subscription_id is not None:
            subscription = (
                await call(payments.get_subscription, payment.subscription_id)
            ).to_dict()
        result = {"payment": payment.to_dict(), "subscription": subscription}
        return JSONResponse(result, _payment_status(payment))

    @api.get("/subscriptions", responses=ok(schemas.SubscriptionList, {200: "Oldest first."}))
    async def my_subscriptions(me: Me) -> JSONResponse:
        """The caller's subscriptions (seed T029, without a user id in the path)."""
        listed = await call(payments.list_subscriptions, me.user_id)
        return JSONResponse({"subscriptions": [s.to_dict() for s in listed]})

    @api.patch(
        "/subscriptions/{subscription_id}",
        openapi_extra=body(schemas.SubscriptionUpdate),
        responses={**ok(schemas.Subscription, {200: "Changed."}), **errors(400, 404, 409, 413)},
    )
    async def update_subscription(subscription_id: str, request: Request, me: Me) -> JSONResponse:
        """Cancel now, cancel at the period's end, or change the card of renewals."""
        fields = await _json(request)
        subscription = await call(payments.get_subscription, subscription_id)
        owned(me, subscription.user_id, f"No subscription {subscription.id}.")
        if fields.get("status") == "cancelled":
            changed = await call(payments.cancel_subscription, subscription.id)
        elif fields.get("cancel_at_period_end") is True:
            changed = await call(payments.cancel_subscription, subscription.id, at_period_end=True)
        elif "payment_method_id" in fields:
            changed = await call(
                payments.change_payment_method, subscription.id, fields["payment_method_id"]
            )
        else:
            raise InvalidRequest(
                'Send {"status": "cancelled"}, {"cancel_at_period_end": true} '
                'or {"payment_method_id": "pm_..."}.'
            )
        return JSONResponse(changed.to_dict())

    @api.post(
        "/webhooks/stripe",
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "Stripe's event, as sent",
                "content": {"application/json": {"schema": {}}},
            }
        },
        responses={
            **ok(schemas.ReceivedEvent, {200: "Stored (or a duplicate)."}),
            **errors(400, 413),
        },
    )
    async def stripe_webhook(
        request: Request,
        stripe_signature: Annotated[str | None, Header(description="Stripe's signature.")] = None,
    ) -> JSONResponse:
        """Verify and store only; the worker processes it. Duplicates are acknowledged."""
        payload = await _read(request, WEBHOOK_LIMIT)
        received = await call(payments.receive_webhook, payload, stripe_signature)
        return JSONResponse(received.to_dict())

    app.include_router(api)

    @app.get(
        "/healthz",
        responses={
            **ok(schemas.Health, {200: "Ready."}),
            **ok(schemas.HealthFailure, {503: "Not ready."}),
        },
    )
    async def healthz() -> JSONResponse:
        """Ready to serve: the database answers and its schema is current (no token)."""
        checks = await call(health_checks, payments)
        listed = [check.to_dict() for check in checks]
        failure = first_failure(checks)
        if failure is not None:
            return error_response(failure, checks=listed)
        return JSONResponse({"status": "ok", "checks": listed})

    @app.get(
        "/metrics", responses={200: {"content": {"text/plain": {}}, "description": "Prometheus."}}
    )
    async def metrics() -> Response:
        """Prometheus metrics (no token: keep it off the public ingress)."""
        return Response(generate_latest(payments.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory``: settings from PAYMENT_* variables, callers from the token
    table named by HOST_APP_TOKENS_FILE."""
    path = os.environ.get("HOST_APP_TOKENS_FILE")
    if not path:
        raise ConfigurationError("HOST_APP_TOKENS_FILE is not set: name the token table.")
    try:
        table = TokenTable.from_file(path)
    except OSError as error:
        raise ConfigurationError(
            f"HOST_APP_TOKENS_FILE: cannot read it ({error.strerror})."
        ) from None
    return create_app(Payments.from_settings(Settings.from_env()), table)
