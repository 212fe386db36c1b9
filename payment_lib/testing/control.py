"""The control endpoint under ``/_emulator/``: steer an emulator running in another process.

JSON in, JSON out, no API key (it only listens where the emulator does):

- ``GET  /_emulator/health``                     -> ``{"ok": true}``
- ``POST /_emulator/reset``                      forget everything
- ``GET  /_emulator/faults``                     the fault plan in force
- ``POST /_emulator/faults``  ``{"error_status": 500, "share": 0.5}``  set it
- ``DELETE /_emulator/faults``                   clear it
- ``GET  /_emulator/objects/<kind>``             e.g. ``payment_intent``, ``refund``
- ``POST /_emulator/webhooks`` ``{"url": ..., "secret": ..., "retry_delays": [...]}``
- ``POST /_emulator/webhooks/hold`` / ``release`` ``{"reverse": true, "duplicates": true}``
- ``POST /_emulator/events/<id>/resend``         deliver it again (404 unknown, 400 no endpoint)
- ``POST /_emulator/payment_intents/<id>/authenticate`` ``{"success": true}`` (or setup_intents)
- ``POST /_emulator/idempotency/expire``         -> ``{"expired": N}`` keys forgotten
- ``POST /_emulator/payment_intents/<id>/dispute`` (or ``charges/<id>/dispute``)
  ``{"reason": "fraudulent", "inquiry": false}`` -> the new Dispute
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from payment_lib.testing.errors import ApiError
from payment_lib.testing.faults import Faults
from payment_lib.testing.webhooks import WebhookDelivery

PREFIX = "/_emulator/"


class Controlled(Protocol):
    """What the control endpoint steers: the emulator (named here, not imported, so the
    emulator can import this module without a cycle)."""

    faults: Faults
    webhooks: WebhookDelivery

    def reset(self) -> None: ...

    def objects(self, kind: str) -> list[dict[str, Any]]: ...

    def authenticate(self, intent_id: str, *, success: bool = True) -> None: ...

    def expire_idempotency_keys(self) -> int: ...

    def resend_event(self, event_id: str) -> None: ...

    def open_dispute(
        self, charge_or_payment_intent_id: str, *, reason: str = ..., inquiry: bool = ...
    ) -> dict[str, Any]: ...


def handle(emulator: Controlled, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """Answer one control request: (HTTP status, JSON-ready body)."""
    try:
        options = json.loads(body) if body else {}
        if not isinstance(options, dict):
            raise ValueError("The body must be a JSON object.")
        return 200, _dispatch(emulator, method, path.removeprefix(PREFIX).split("/"), options)
    except (ValueError, TypeError) as problem:
        return 400, {"error": {"message": str(problem), "type": "invalid_request_error"}}
    except ApiError as error:
        return error.status, error.body()
    except LookupError:
        return 404, {
            "error": {
                "message": f"Unknown control request {method} {path}",
                "type": "invalid_request_error",
            }
        }


def _dispatch(emulator: Controlled, method: str, parts: list[str], options: dict[str, Any]) -> Any:
    match method, parts:
        case "GET", ["health"]:
            return {"ok": True}
        case "POST", ["reset"]:
            emulator.reset()
            return {"ok": True}
        case "GET", ["faults"]:
            return Faults.describe(emulator.faults.plan)
        case "POST", ["faults"]:
            return Faults.describe(emulator.faults.set(**options))
        case "DELETE", ["faults"]:
            emulator.faults.clear()
            return Faults.describe(emulator.faults.plan)
        case "GET", ["objects", kind]:
            return {"data": emulator.objects(kind)}
        case "POST", ["webhooks"]:
            emulator.webhooks.configure(
                url=options.get("url"),
                secret=options.get("secret") or (),
                retry_delays=options.get("retry_delays"),
            )
            return {"ok": True}
        case "POST", ["webhooks", "hold"]:
            emulator.webhooks.hold()
            return {"ok": True}
        case "POST", ["webhooks", "release"]:
            emulator.webhooks.release(
                reverse=bool(options.get("reverse")), duplicates=bool(options.get("duplicates"))
            )
            return {"ok": True}
        case "POST", ["events", event_id, "resend"]:
            emulator.resend_event(event_id)
            return {"ok": True}
        case "POST", ["payment_intents" | "setup_intents", intent_id, "authenticate"]:
            emulator.authenticate(intent_id, success=bool(options.get("success", True)))
            return {"ok": True}
        case "POST", ["payment_intents" | "charges", object_id, "dispute"]:
            return emulator.open_dispute(
                object_id,
                reason=str(options.get("reason", "fraudulent")),
                inquiry=bool(options.get("inquiry")),
            )
        case "POST", ["idempotency", "expire"]:
            return {"expired": emulator.expire_idempotency_keys()}
    raise LookupError(parts)
