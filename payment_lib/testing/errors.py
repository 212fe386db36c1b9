"""Errors the emulator answers with, shaped like Stripe's ``{"error": {...}}`` bodies.

An endpoint raises ``ApiError``; the server turns it into the HTTP status and JSON body the
SDK maps to its exception classes (400/404 InvalidRequestError or IdempotencyError,
401 AuthenticationError, 402 CardError, 429 RateLimitError, others APIError).
"""

from __future__ import annotations

import json
from typing import Any

DOC_BASE = "https://stripe.com/docs/error-codes/"


class ApiError(Exception):
    """A Stripe API error: HTTP status plus the fields of the error object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        """The JSON body Stripe sends for this error (absent fields omitted)."""
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOC_BASE + self.code.replace("_", "-")
        if self.decline_code:
            error["decline_code"] = self.decline_code
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}

    def json(self) -> bytes:
        return json.dumps(self.body()).encode()


UNKNOWN_ERROR = ApiError(500, "An unknown error occurred", type="api_error")


def invalid(message: str, *, code: str | None = None, param: str | None = None) -> ApiError:
    """A 400 invalid_request_error."""
    return ApiError(400, message, code=code, param=param)


def missing_param(param: str) -> ApiError:
    return invalid(f"Missing required param: {param}.", code="parameter_missing", param=param)


def unknown_param(param: str) -> ApiError:
    return invalid(f"Received unknown parameter: {param}", code="parameter_unknown", param=param)


# How Stripe names a kind in "No such ..." where it is not the object's own name.
_NAMED = {"payment_method": "PaymentMethod"}


def no_such(kind: str, object_id: str, *, param: str = "id") -> ApiError:
    """404 resource_missing, worded as Stripe words it ("No such payment_intent: 'pi_x'",
    "No such PaymentMethod: 'pm_x'")."""
    shown = _NAMED.get(kind, kind)
    return ApiError(404, f"No such {shown}: '{object_id}'", code="resource_missing", param=param)


def unexpected_state(message: str) -> ApiError:
    return invalid(message, code="payment_intent_unexpected_state")
