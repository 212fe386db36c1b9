"""SetupIntents: save a card for later (off-session) payments without charging it.

Confirming one verifies the card as the test card says: a card that declines fails the setup
(402 card_error, the SetupIntent back in ``requires_payment_method`` with
``last_setup_error``); a card that asks for 3-D Secure leaves it in ``requires_action`` until
authenticated (``StripeEmulator.authenticate``); otherwise it ``succeeded``, the card is
attached to the SetupIntent's customer and counts as set up, so later off-session payments
need no authentication. Cards never enter ``processing``. Runs under the store's lock.
"""

from __future__ import annotations

import copy
from urllib.parse import urlencode

from payment_lib.testing import objects
from payment_lib.testing.cards import TestCard
from payment_lib.testing.errors import ApiError, invalid
from payment_lib.testing.lists import listed
from payment_lib.testing.payments import check_method_usable, given_method
from payment_lib.testing.store import Call, Obj, Store
from payment_lib.testing.validation import boolean, one_of

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELLATION_REASONS = ("abandoned", "duplicate", "requested_by_customer")
RETURN_URL_NEEDED = (
    "This SetupIntent is configured to accept payment methods enabled in your Dashboard. "
    "Because some of these payment methods might redirect your customer off of your page, you "
    "must provide a `return_url`. If you don't want to accept redirect-based payment methods, "
    "set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
    "Payment Intents."
)
AUTHENTICATION_FAILED = (
    "The latest attempt to set up the payment method has failed because authentication failed."
)
_NULLS = objects.nulls(
    """
    application cancellation_reason customer_account description excluded_payment_method_types
    flow_directions last_setup_error latest_attempt managed_payments mandate next_action
    on_behalf_of payment_method payment_method_configuration_details single_use_mandate
    """
)
_CARD_OPTIONS = {
    "card": {
        **objects.nulls("mandate_options network setup_credential_usage"),
        "request_three_d_secure": "automatic",
    }
}


def _setup_intent(params: Obj, *, created: int) -> Obj:
    setup_id = objects.new_id("seti")
    automatic = params.get("automatic_payment_methods")
    return {
        "id": setup_id,
        "object": "setup_intent",
        **_NULLS,
        "allowed_payment_method_types": params.get("allowed_payment_method_types") or None,
        "attach_to_self": None,
        "automatic_payment_methods": (
            {
                "allow_redirects": automatic.get("allow_redirects") or "always",
                "enabled": automatic.get("enabled") == "true",
            }
            if isinstance(automatic, dict)
            else None
        ),
        "client_secret": f"{setup_id}_secret_{objects.random_token(25)}",
        "created": created,
        "customer": params.get("customer") or None,
        "description": params.get("description") or None,
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "payment_method_options": _CARD_OPTIONS,
        "payment_method_types": ["card"],
        "status": "requires_payment_method",
        "usage": params.get("usage") or "off_session",
    }


def create_setup_intent(store: Store, call: Call) -> Obj:
    params = call.params
    one_of(params, "usage", ("off_session", "on_session"))
    customer = None
    if params.get("customer"):
        customer = store.find("customer", params["customer"], param="customer", status=400)
    confirm = boolean(params, "confirm")
    if confirm:
        _check_confirmable(params, params.get("automatic_payment_methods"))
    elif params.get("return_url"):
        raise invalid(
            "You may only specify return_url when confirming the SetupIntent (confirm=true).",
            param="return_url",
        )
    method = given_method(store, call)
    if method is not None:
        check_method_usable(store, method, customer)
    elif confirm:
        raise _missing_method()
    call.executing = True
    setup = store.add(_setup_intent(params, created=call.now))
    store.record(call, "setup_intent.created", setup)
    if method is not None:
        setup.update(payment_method=method["id"], status="requires_confirmation")
    if confirm and method is not None:
        _attempt(store, call, setup, method)
    return setup


def retrieve_setup_intent(store: Store, call: Call, setup_id: str) -> Obj:
    return store.find("setup_intent", setup_id)


def list_setup_intents(store: Store, call: Call) -> Obj:
    filters = ("customer", "payment_method")
    return listed(store, call.params, "setup_intent", "/v1/setup_intents", filters)


def confirm_setup_intent(store: Store, call: Call, setup_id: str) -> Obj:
    setup = store.find("setup_intent", setup_id)
    status = setup["status"]
    if status == "succeeded":
        raise _unexpected(
            "You cannot confirm this SetupIntent because it has already succeeded after being "
            "previously confirmed."
        )
    if status not in CONFIRMABLE:
        raise _unexpected(
            f"You cannot confirm this SetupIntent because it has a status of {status}."
        )
    _check_confirmable(call.params, setup["automatic_payment_methods"])
    method = given_method(store, call)
    if method is None and setup["payment_method"]:
        method = store.objects[setup["payment_method"]]
    elif method is None:
        raise _missing_method()
    customer = store.objects.get(setup["customer"]) if setup["customer"] else None
    check_method_usable(store, method, customer, setup["id"])
    call.executing = True
    setup["payment_method"] = method["id"]
    _attempt(store, call, setup, method)
    return setup


def cancel_setup_intent(store: Store, call: Call, setup_id: str) -> Obj:
    setup = store.find("setup_intent", setup_id)
    reason = one_of(call.params, "cancellation_reason", CANCELLATION_REASONS)
    if setup["status"] not in CONFIRMABLE:
        raise _unexpected(
            f"You cannot cancel this SetupIntent because it has a status of {setup['status']}."
        )
    call.executing = True
    setup.update(status="canceled", cancellation_reason=reason, next_action=None)
    store.record(call, "setup_intent.canceled", setup)
    return setup


def authenticate(store: Store, call: Call, setup: Obj, *, success: bool) -> None:
    """Finish 3-D Secure for a SetupIntent in requires_action."""
    method = store.objects[setup["payment_method"]]
    if success:
        _succeed(store, call, setup, method)
        return
    setup.update(
        status="requires_payment_method",
        payment_method=None,
        next_action=None,
        last_setup_error={
            "code": "setup_intent_authentication_failure",
            "doc_url": "https://stripe.com/docs/error-codes/setup-intent-authentication-failure",
            "message": AUTHENTICATION_FAILED,
            "payment_method": copy.deepcopy(method),
            "type": "invalid_request_error",
        },
    )
    store.record(call, "setup_intent.setup_failed", setup)


def _attempt(store: Store, call: Call, setup: Obj, method: Obj) -> None:
    """Verify the card: decline, ask for 3-D Secure, or set it up."""
    facts = store.hidden[method["id"]]
    card: TestCard = facts["card"]
    facts["used_by"] = setup["id"]
    setup.update(last_setup_error=None, latest_attempt=objects.new_id("setatt"))
    if card.decline is not None and not card.declines_only_charges:
        setup.update(
            status="requires_payment_method",
            payment_method=None,
            last_setup_error=card.decline.as_error(payment_method=copy.deepcopy(method)).body()[
                "error"
            ],
        )
        store.record(call, "setup_intent.setup_failed", setup)
        raise card.decline.as_error(
            payment_method=copy.deepcopy(method), setup_intent=copy.deepcopy(setup)
        )
    if card.authentication.value != "never":
        url = f"{call.base_url}/3ds/authenticate/{setup['id']}?" + urlencode(
            {"client_secret": setup["client_secret"]}
        )
        return_url = call.params.get("return_url")
        next_action: Obj = (
            {"type": "redirect_to_url", "redirect_to_url": {"return_url": return_url, "url": url}}
            if return_url
            else {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url},
            }
        )
        setup.update(status="requires_action", next_action=next_action)
        store.record(call, "setup_intent.requires_action", setup)
        return
    _succeed(store, call, setup, method)


def _succeed(store: Store, call: Call, setup: Obj, method: Obj) -> None:
    """The card is set up: attached to the SetupIntent's customer, and off-session ready."""
    if setup["customer"] and method["customer"] is None:
        method["customer"] = setup["customer"]
        store.record(call, "payment_method.attached", method)
    if method["customer"] is not None and setup["usage"] == "off_session":
        store.hidden[method["id"]]["set_up"] = True
    setup.update(status="succeeded", next_action=None)
    store.record(call, "setup_intent.succeeded", setup)


def _check_confirmable(params: Obj, automatic: object) -> None:
    no_redirects = isinstance(automatic, dict) and automatic.get("allow_redirects") == "never"
    if not params.get("return_url") and not no_redirects:
        raise invalid(RETURN_URL_NEEDED, param="return_url")


def _missing_method() -> ApiError:
    return _unexpected(
        "You cannot confirm this SetupIntent because it's missing a payment method. You can "
        "either update the SetupIntent with a payment method and then confirm it again, or "
        "confirm it again directly with a payment method."
    )


def _unexpected(message: str) -> ApiError:
    return invalid(message, code="setup_intent_unexpected_state")
