"""One error body for every failure of the example host app: ``{"error": {...}}`` holding
payment_lib's ``PaymentError.to_dict()`` (``code``, ``message``, and ``param`` /
``retry_after`` when known). The app's own failures (no token, no such endpoint, wrong method,
schema behind, a bug) are ``PaymentError`` subclasses too, so they serialise the same way;
FastAPI's ``{"detail": ...}`` bodies never reach a client."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from payment_lib import InvalidRequest, NotFound, PaymentError

log = structlog.get_logger("host_app")


class Unauthenticated(PaymentError):
    """No bearer token, or one the app does not know (the same answer for both)."""

    code = "unauthenticated"
    default_message = "Send a valid bearer token: Authorization: Bearer <token>."


class MethodNotAllowed(PaymentError):
    code = "method_not_allowed"
    default_message = "This endpoint does not answer that method."


class PayloadTooLarge(PaymentError):
    code = "payload_too_large"
    default_message = "The body is too large."


class SchemaBehind(PaymentError):
    """The database's schema is not the one this app's payment_lib needs."""

    code = "schema_behind"
    default_message = "The database schema is not current. Run `payment-cli db upgrade`."
    retryable = True


class InternalError(PaymentError):
    code = "internal_error"
    default_message = "Something went wrong on our side; it has been logged."


STATUS_BY_CODE = {
    "invalid_request": 400,
    "unauthenticated": 401,
    "invalid_signature": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "idempotency_conflict": 409,
    "illegal_transition": 409,
    "already_refunded": 409,
    "payload_too_large": 413,
    "rate_limited": 429,
    "internal_error": 500,
    "provider_error": 502,
    "provider_unavailable": 503,
    "database_unavailable": 503,
    "schema_behind": 503,
    # The environment faults of payment_lib (its subclasses of the errors above).
    "unknown_revision": 400,
    "provider_unreachable": 503,
    "database_file_missing": 503,
    "database_file_unwritable": 503,
    "database_file_corrupt": 503,
    "schema_out_of_date": 503,
}


def error_body(error: PaymentError) -> dict[str, object]:
    return {"error": error.to_dict()}


def error_response(error: PaymentError, **extra: object) -> JSONResponse:
    """The response for ``error``: its status, the one body shape, and the headers it needs."""
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    status = STATUS_BY_CODE.get(error.code, 500)
    return JSONResponse({**error_body(error), **extra}, status, headers=headers)


def _http_error(request: Request, error: HTTPException) -> PaymentError:
    route = f"{request.method} {request.url.path[:200]}"
    if error.status_code == 404:
        return NotFound(f"No such endpoint: {route}.")
    if error.status_code == 405:
        return MethodNotAllowed(f"{route}: this endpoint does not answer {request.method}.")
    return InternalError()


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed(request: Request) -> str:
    """Every method the path answers (Starlette's own Allow names only the first route's)."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure, the library's and the framework's, to ``error_response``."""

    @app.exception_handler(PaymentError)
    async def library_error(_request: Request, error: PaymentError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        response = error_response(_http_error(request, error))
        if error.status_code == 405:
            response.headers["Allow"] = _allowed(request)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        param = str(first["loc"][-1])
        return error_response(InvalidRequest(f"{param}: {first['msg']}.", param=param))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, _error: Exception) -> JSONResponse:
        log.exception("unexpected error", method=request.method, path=request.url.path)
        return error_response(InternalError())
