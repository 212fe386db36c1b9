"""The 3-D Secure test page: "Complete" or "Fail", like Stripe's own, then back to return_url.

``GET /3ds/authenticate/<pi>?client_secret=...`` shows the page; adding ``action=complete`` or
``action=fail`` to the query does it at once (for scripts). Either way the PaymentIntent moves
on and the browser is redirected to the return_url with payment_intent,
payment_intent_client_secret and redirect_status in its query.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import parse_qs

from payment_lib.testing import charging
from payment_lib.testing.store import Call, Store

PREFIX = "/3ds/authenticate/"


@dataclass(frozen=True, slots=True)
class PageAnswer:
    status: int
    body: str = ""
    location: str | None = None


def handle(store: Store, path: str, query: str, call: Call) -> PageAnswer:
    """Show the page or apply the chosen action (call it under the store's lock)."""
    intent_id = path.removeprefix(PREFIX)
    fields = parse_qs(query)
    secret = (fields.get("client_secret") or [""])[0]
    action = (fields.get("action") or [""])[0]
    intent = store.objects.get(intent_id)
    if intent is None or intent["object"] != "payment_intent" or intent["client_secret"] != secret:
        return PageAnswer(404, _page("Unknown authentication", "<p>No such payment.</p>"))
    if action not in ("", "complete", "fail"):
        return PageAnswer(400, _page("Unknown action", "<p>Choose complete or fail.</p>"))
    if intent["status"] == "requires_action" and action:
        outcome = charging.authenticate(store, call, intent, success=action == "complete")
    elif action:
        outcome = "succeeded" if intent["status"] == "succeeded" else "failed"
    else:
        return PageAnswer(
            200, _choices(intent_id, secret, intent["amount"], intent["currency"], intent["status"])
        )
    location = charging.return_url_for(store, intent, outcome)
    if location is None:
        return PageAnswer(200, _page("Authentication finished", f"<p>Result: {outcome}.</p>"))
    return PageAnswer(302, "", location)


def _choices(intent_id: str, secret: str, amount: int, currency: str, status: str) -> str:
    if status != "requires_action":
        return _page(
            "3D Secure test payment",
            f"<p>This payment is {html.escape(status)}; there is nothing to authenticate.</p>",
        )
    hidden = f'<input type="hidden" name="client_secret" value="{html.escape(secret)}">'
    buttons = "".join(
        f'<form method="get" action="{PREFIX}{html.escape(intent_id)}">{hidden}'
        f'<input type="hidden" name="action" value="{value}">'
        f'<button type="submit">{label}</button></form>'
        for value, label in (("complete", "Complete"), ("fail", "Fail"))
    )
    body = (
        f"<p>This is a test 3D Secure page for a payment of {amount} "
        f"({html.escape(currency.upper())}, minor units).</p>"
        "<p>Complete or fail the authentication:</p>" + buttons
    )
    return _page("3D Secure test payment", body)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    )
