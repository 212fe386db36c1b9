"""The charge attempt behind a confirmation: charge the card, ask for 3-D Secure, or decline,
as the test card says; and the end of 3-D Secure (complete or fail, then back to the shop).

Runs under the store's lock, from the PaymentIntent endpoints and the authentication page.
"""

from __future__ import annotations

import copy
from urllib.parse import urlencode

from payment_lib.testing import disputes, objects, payment_objects
from payment_lib.testing.cards import AUTHENTICATION_REQUIRED, Authentication, Decline, TestCard
from payment_lib.testing.errors import ApiError
from payment_lib.testing.store import Call, Obj, Store
from payment_lib.testing.validation import boolean

AUTHENTICATION_FAILED = (
    "The provided PaymentMethod has failed authentication. You can provide "
    "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
)


def attempt(store: Store, call: Call, intent: Obj, method: Obj) -> None:
    """Confirm: charge the card, ask for 3-D Secure, or decline, as the test card says."""
    facts = store.hidden[method["id"]]
    card: TestCard = facts["card"]
    facts["used_by"] = intent["id"]
    off_session = boolean(call.params, "off_session")
    intent["last_payment_error"] = None
    if facts.get("authenticated_for") == intent["id"]:  # manual confirmation after 3-D Secure
        facts["authenticated_for"] = None
        decline = card.decline_after_authentication or card.decline
        _charge(store, call, intent, method, decline, authenticated=True)
        return
    needs_authentication = card.authentication is Authentication.ALWAYS or (
        card.authentication is Authentication.UNLESS_SET_UP
        and not (off_session and facts["set_up"])
    )
    if needs_authentication and (off_session or boolean(call.params, "error_on_requires_action")):
        _charge(store, call, intent, method, AUTHENTICATION_REQUIRED)
    elif needs_authentication:
        _require_action(store, call, intent, method)
    else:
        _charge(store, call, intent, method, card.decline)


def _require_action(store: Store, call: Call, intent: Obj, method: Obj) -> None:
    return_url = call.params.get("return_url")
    url = f"{call.base_url}/3ds/authenticate/{intent['id']}?" + urlencode(
        {"client_secret": intent["client_secret"]}
    )
    if return_url:
        next_action: Obj = {
            "type": "redirect_to_url",
            "redirect_to_url": {"return_url": return_url, "url": url},
        }
    else:
        next_action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {
                "type": "three_d_secure_redirect",
                "stripe_js": url,
                "source": objects.new_id("src"),
            },
        }
    intent.update(status="requires_action", next_action=next_action)
    store.hidden[intent["id"]]["return_url"] = return_url
    store.record(call, "payment_intent.requires_action", intent)


def _charge(
    store: Store,
    call: Call,
    intent: Obj,
    method: Obj,
    decline: Decline | None,
    *,
    authenticated: bool = False,
) -> None:
    card_capture = intent["payment_method_options"]["card"]["capture_method"]
    manual = "manual" in (intent["capture_method"], card_capture)
    charge = store.add(
        payment_objects.charge(
            intent,
            method,
            created=call.now,
            decline=decline,
            captured=not manual,
            authenticated=authenticated,
        )
    )
    intent.update(latest_charge=charge["id"], next_action=None)
    if decline is None:
        if intent["setup_future_usage"] and intent["customer"] and method["customer"] is None:
            # Stripe attaches the card to the PaymentIntent's customer once it is confirmed.
            method["customer"] = intent["customer"]
            store.record(call, "payment_method.attached", method)
        if intent["setup_future_usage"] and method["customer"]:
            store.hidden[method["id"]]["set_up"] = True
        store.record(call, "charge.succeeded", charge)
        if manual:
            intent.update(status="requires_capture", amount_capturable=intent["amount"])
            store.record(call, "payment_intent.amount_capturable_updated", intent)
        else:
            intent.update(status="succeeded", amount_received=intent["amount"])
            store.record(call, "payment_intent.succeeded", intent)
            disputes.dispute_after_charge(store, call, charge)
        return
    intent.update(
        status="requires_payment_method",
        payment_method=None,
        last_payment_error=decline.as_error(
            charge=charge["id"], payment_method=copy.deepcopy(method)
        ).body()["error"],
    )
    store.record(call, "charge.failed", charge)
    store.record(call, "payment_intent.payment_failed", intent)
    raise decline.as_error(
        charge=charge["id"],
        payment_intent=copy.deepcopy(intent),
        payment_method=copy.deepcopy(method),
    )


def authenticate(store: Store, call: Call, intent: Obj, *, success: bool) -> str:
    """Finish 3-D Secure for an intent in requires_action; returns the redirect_status."""
    method = store.objects[intent["payment_method"]]
    card: TestCard = store.hidden[method["id"]]["card"]
    if not success:
        intent.update(
            status="requires_payment_method",
            payment_method=None,
            next_action=None,
            last_payment_error={
                "code": "payment_intent_authentication_failure",
                "doc_url": "https://stripe.com/docs/error-codes/"
                "payment-intent-authentication-failure",
                "message": AUTHENTICATION_FAILED,
                "payment_method": copy.deepcopy(method),
                "type": "invalid_request_error",
            },
        )
        store.record(call, "payment_intent.payment_failed", intent)
        return "failed"
    if intent["confirmation_method"] == "manual":
        # The server confirms again; only then is the card charged.
        store.hidden[method["id"]]["authenticated_for"] = intent["id"]
        intent.update(status="requires_confirmation", next_action=None)
        return "succeeded"
    try:
        _charge(
            store,
            call,
            intent,
            method,
            card.decline_after_authentication or card.decline,
            authenticated=True,
        )
    except ApiError:
        return "failed"
    return "succeeded"


def return_url_for(store: Store, intent: Obj, redirect_status: str) -> str | None:
    """Where the browser goes after the authentication page, with Stripe's query."""
    return_url = store.hidden[intent["id"]].get("return_url")
    if not return_url:
        return None
    query = urlencode(
        {
            "payment_intent": intent["id"],
            "payment_intent_client_secret": intent["client_secret"],
            "redirect_status": redirect_status,
        }
    )
    return f"{return_url}{'&' if '?' in return_url else '?'}{query}"
