"""The example host app's OpenAPI document: FastAPI generates it from the routes; this module
adds the request bodies (the app parses them itself, see ``host_schemas``) and the one error
shape, and removes FastAPI's 422, which this app never answers (a bad parameter is a 400)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from docs.examples.host_schemas import ErrorBody

DESCRIPTION = """\
payment_lib's example host application.

**Callers** send `Authorization: Bearer <token>`; the app maps the token to a user id and roles
(its token table). User ids never come from a request: a payment or subscription is the
caller's. Someone else's payment or subscription is a 404, exactly like one that does not
exist. The `admin` role reads any payment and may refund. Stripe's webhook is authenticated by
its `Stripe-Signature` instead; `/healthz` and `/metrics` need no token.

**Errors** all have one body: `{"error": {"code", "message", "param"?, "retry_after"?}}`
(payment_lib's `PaymentError.to_dict()`), with `Retry-After` when `retry_after` is set. A
declined card is not an error of the request: its 402 body is the failed payment, whose `error`
says why. Until the database schema is current every `/api/v1` request is a 503
`schema_behind` whose message says to run `payment-cli db upgrade`.

**Amounts** are decimal strings in major units (`"20.00"`). Card numbers are refused anywhere.
"""

WHY = {
    400: "Invalid request: `param` names the field.",
    401: "No valid bearer token (or, for the webhook, no valid Stripe signature).",
    403: "The caller's roles do not allow this.",
    404: "Not found (or not the caller's).",
    409: "Conflicts with the current state or an earlier use of the idempotency key.",
    413: "The body is over 64 KiB (the webhook's: 1 MiB).",
    429: "Too many attempts: wait `retry_after` seconds.",
    500: "A bug on the app's side; logged, never detailed.",
    503: "The database, Stripe, or the schema is not ready: retry later.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Responses documenting ``statuses`` with the one error body."""
    return {status: {"model": ErrorBody, "description": WHY[status]} for status in statuses}


def ok(model: type[BaseModel], descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """Responses with ``model`` as body, one per status: ``ok(Payment, {201: "Succeeded."})``."""
    return {status: {"model": model, "description": text} for status, text in descriptions.items()}


# What a charge can answer (POST /payments, POST /subscriptions).
CHARGED = {
    201: "Succeeded.",
    200: "Needs 3-D Secure: send the customer to the payment's redirect_url.",
    202: "The outcome is not known yet (Stripe did not answer): read it back later.",
    402: "Declined: the failed payment; its error says why.",
}


def body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` naming ``model`` as the JSON request body."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def install_openapi(app: FastAPI, request_bodies: Sequence[type[BaseModel]]) -> None:
    """Make ``app.openapi()`` (served at /openapi.json, exported to docs/) the full document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in request_bodies:
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            for operations in document["paths"].values():
                for operation in operations.values():
                    operation["responses"].pop("422", None)
            document["components"]["schemas"] = dict(sorted(schemas.items()))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
