"""PaymentIntents and Charges: the endpoints of test mode's card payment flow (the charge
attempt itself, 3-D Secure included, is in ``charging``).

Each endpoint function takes the store and the call (and ids from the path), validates, sets
``call.executing`` once it starts changing state, and returns the object to answer with or
raises ``ApiError``. They run under the store's lock.
"""

from __future__ import annotations

from typing import Any

from payment_lib.testing import charging, disputes, objects, payment_objects
from payment_lib.testing.customers import payment_method_from, resolve_method
from payment_lib.testing.errors import ApiError, invalid, unexpected_state
from payment_lib.testing.lists import listed
from payment_lib.testing.store import Call, Obj, Store
from payment_lib.testing.validation import (
    boolean,
    charge_amount,
    currency,
    integer,
    one_of,
)

CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
RETURN_URL_NEEDED = (
    "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. "
    "Because some of these payment methods might redirect your customer off of your page, you "
    "must provide a `return_url`. If you don't want to accept redirect-based payment methods, "
    "set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
    "Payment Intents."
)
REUSED_METHOD = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer "
    "attachment, shared with a connected account without Customer attachment, or was detached "
    "from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must "
    "attach it to a Customer first."
)

# What may change after a PaymentIntent is finished (Stripe allows these on any status).
ALWAYS_UPDATABLE = frozenset({"description", "expand", "metadata", "receipt_email", "shipping"})
UPDATABLE_STATUSES = ("requires_payment_method", "requires_confirmation", "requires_action")

# PaymentIntents ----------------------------------------------------------------------------


def create_payment_intent(store: Store, call: Call) -> Obj:
    params = call.params
    _refuse_payment_method_types(params)
    _card_options(params)
    code = currency(params)
    amount = charge_amount(params, code)
    one_of(params, "capture_method", ("automatic", "automatic_async", "manual"))
    one_of(params, "confirmation_method", ("automatic", "manual"))
    one_of(params, "setup_future_usage", ("off_session", "on_session"))
    customer = None
    if params.get("customer"):
        customer = store.find("customer", params["customer"], param="customer", status=400)
    confirm = boolean(params, "confirm")
    if confirm:
        _check_confirmable(params, params.get("automatic_payment_methods"))
    elif boolean(params, "off_session") or params.get("return_url"):
        name = "off_session" if boolean(params, "off_session") else "return_url"
        raise invalid(
            f"You may only specify {name} when confirming the PaymentIntent (confirm=true).",
            param=name,
        )
    method = given_method(store, call)
    if method is not None:
        check_method_usable(store, method, customer)
    elif confirm:
        raise _missing_method()
    call.executing = True
    intent = store.add(
        payment_objects.payment_intent(params, amount=amount, currency=code, created=call.now)
    )
    store.record(call, "payment_intent.created", intent)
    if method is not None:
        intent["payment_method"] = method["id"]
        intent["status"] = "requires_confirmation"
    if confirm and method is not None:
        charging.attempt(store, call, intent, method)
    return intent


def retrieve_payment_intent(store: Store, call: Call, intent_id: str) -> Obj:
    return store.find("payment_intent", intent_id)


def update_payment_intent(store: Store, call: Call, intent_id: str) -> Obj:
    params = call.params
    intent = store.find("payment_intent", intent_id)
    restricted = sorted(set(params) - ALWAYS_UPDATABLE)
    if restricted and intent["status"] not in UPDATABLE_STATUSES:
        raise unexpected_state(
            f"This PaymentIntent's {restricted[0]} could not be updated because it has a status "
            f"of {intent['status']}. You may only update the {restricted[0]} of a PaymentIntent "
            f"with one of the following statuses: {', '.join(UPDATABLE_STATUSES)}."
        )
    changes: Obj = _option_changes(params, intent)
    code = currency(params) if "currency" in params else intent["currency"]
    if "amount" in params or "currency" in params:
        changes["amount"] = charge_amount(
            {"amount": params.get("amount", str(intent["amount"]))}, code
        )
        changes["currency"] = code
    if params.get("customer"):
        changes["customer"] = store.find(
            "customer", params["customer"], param="customer", status=400
        )["id"]
    one_of(params, "setup_future_usage", ("off_session", "on_session"))
    one_of(params, "capture_method", ("automatic", "automatic_async", "manual"))
    method = given_method(store, call)
    if method is not None:
        changes.update(payment_method=method["id"], status="requires_confirmation")
    for name in (
        "allowed_payment_method_types",
        "description",
        "excluded_payment_method_types",
        "receipt_email",
        "setup_future_usage",
        "capture_method",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_group",
    ):
        if name in params:
            changes[name] = params[name] or None
    if "metadata" in params:
        changes["metadata"] = objects.merged_metadata(intent["metadata"], params["metadata"])
    call.executing = True
    intent.update(changes)
    return intent


def list_payment_intents(store: Store, call: Call) -> Obj:
    return listed(store, call.params, "payment_intent", "/v1/payment_intents", ("customer",))


def list_charges(store: Store, call: Call) -> Obj:
    filters = ("customer", "payment_intent", "transfer_group")
    return listed(store, call.params, "charge", "/v1/charges", filters)


def confirm_payment_intent(store: Store, call: Call, intent_id: str) -> Obj:
    params = call.params
    _refuse_payment_method_types(params)
    intent = store.find("payment_intent", intent_id)
    status = intent["status"]
    if status == "succeeded":
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it has already "
            "succeeded after being previously confirmed."
        )
    if status not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise unexpected_state(
            f"You cannot confirm this PaymentIntent because it has a status of {status}."
        )
    one_of(params, "setup_future_usage", ("off_session", "on_session"))
    changes = _option_changes(params, intent)
    _check_confirmable(params, intent["automatic_payment_methods"])
    customer = store.objects.get(intent["customer"]) if intent["customer"] else None
    method = given_method(store, call)
    if method is None and intent["payment_method"]:
        method = store.objects[intent["payment_method"]]
    elif method is None:
        raise _missing_method()
    check_method_usable(store, method, customer, intent["id"])
    call.executing = True
    for name in ("receipt_email", "setup_future_usage"):
        if name in params:
            intent[name] = params[name] or None
    intent.update(changes, payment_method=method["id"])
    charging.attempt(store, call, intent, method)
    return intent


def cancel_payment_intent(store: Store, call: Call, intent_id: str) -> Obj:
    intent = store.find("payment_intent", intent_id)
    reason = one_of(call.params, "cancellation_reason", CANCELLATION_REASONS)
    if intent["status"] not in CANCELABLE:
        raise unexpected_state(
            "You cannot cancel this PaymentIntent because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may "
            f"be canceled: {', '.join(CANCELABLE)}."
        )
    call.executing = True
    intent.update(
        status="canceled",
        canceled_at=call.now,
        cancellation_reason=reason,
        next_action=None,
        amount_capturable=0,
    )
    if intent["latest_charge"] and store.objects[intent["latest_charge"]]["status"] == "succeeded":
        _release_uncaptured(store, call, store.objects[intent["latest_charge"]])
    store.record(call, "payment_intent.canceled", intent)
    return intent


def _release_uncaptured(store: Store, call: Call, charge: Obj) -> None:
    """Cancelling a PaymentIntent in requires_capture refunds what was authorized."""
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge.update(amount_refunded=charge["amount"], refunded=True)
    store.record(call, "charge.refunded", charge, previous)


def capture_payment_intent(store: Store, call: Call, intent_id: str) -> Obj:
    intent = store.find("payment_intent", intent_id)
    if intent["status"] != "requires_capture":
        raise unexpected_state(
            "This PaymentIntent could not be captured because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may "
            "be captured: requires_capture."
        )
    amount = integer(call.params, "amount_to_capture", minimum=1) or intent["amount"]
    if amount > intent["amount_capturable"]:
        raise invalid(
            "The amount to capture is greater than the amount capturable.",
            code="amount_too_large",
            param="amount_to_capture",
        )
    call.executing = True
    charge = store.objects[intent["latest_charge"]]
    charge.update(captured=True, amount_captured=amount, balance_transaction=objects.new_id("txn"))
    intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
    store.record(call, "charge.captured", charge)
    store.record(call, "payment_intent.succeeded", intent)
    disputes.dispute_after_charge(store, call, charge)
    return intent


def retrieve_charge(store: Store, call: Call, charge_id: str) -> Obj:
    return store.find("charge", charge_id)


def _refuse_payment_method_types(params: Obj) -> None:
    if "payment_method_types" in params:
        raise invalid(
            "The parameter payment_method_types is no longer supported in this API version. "
            "Use automatic_payment_methods or a payment method configuration instead.",
            code="payment_method_types_no_longer_supported",
            param="payment_method_types",
        )


def _check_confirmable(params: Obj, automatic: Any) -> None:
    no_redirects = isinstance(automatic, dict) and automatic.get("allow_redirects") == "never"
    if not params.get("return_url") and not boolean(params, "off_session") and not no_redirects:
        raise invalid(RETURN_URL_NEEDED, param="return_url")


def _card_options(params: Obj) -> Obj | None:
    """The ``payment_method_options[card]`` given, checked (None: none given)."""
    options = params.get("payment_method_options")
    card = options.get("card") if isinstance(options, dict) else None
    if not isinstance(card, dict):
        return None
    for name, allowed in payment_objects.CARD_OPTIONS.items():
        one_of(card, name, allowed, param=f"payment_method_options[card][{name}]")
    return card


def _option_changes(params: Obj, intent: Obj) -> Obj:
    """What an update or a confirmation changes besides the payment method: card options and
    shipping (answered in full)."""
    changes: Obj = {}
    card = _card_options(params)
    if card is not None:
        current = intent["payment_method_options"]["card"]
        changes["payment_method_options"] = {
            "card": payment_objects.card_payment_options(card, current)
        }
    if "shipping" in params:
        changes["shipping"] = objects.shipping(params["shipping"])
    return changes


def given_method(store: Store, call: Call) -> Obj | None:
    """The PaymentMethod named by ``payment_method`` or described by ``payment_method_data``."""
    if call.params.get("confirmation_token"):
        # The emulator issues no ConfirmationTokens (they come from Stripe.js).
        raise invalid(
            f"No such confirmation_token: '{call.params['confirmation_token']}'",
            code="resource_missing",
            param="confirmation_token",
        )
    if call.params.get("payment_method"):
        return resolve_method(store, call, call.params["payment_method"], "payment_method")
    data = call.params.get("payment_method_data")
    if isinstance(data, dict):
        return payment_method_from(store, call, data, "payment_method_data")
    return None


def _missing_method() -> ApiError:
    return unexpected_state(
        "You cannot confirm this PaymentIntent because it's missing a payment method. You can "
        "either update the PaymentIntent with a payment method and then confirm it again, or "
        "confirm it again directly with a payment method."
    )


def check_method_usable(
    store: Store, method: Obj, customer: Obj | None, intent_id: str | None = None
) -> None:
    owner = method["customer"]
    if owner is not None and (customer is None or customer["id"] != owner):
        raise invalid(
            "The provided PaymentMethod belongs to a customer, so you must also "
            "provide that customer.",
            param="payment_method",
        )
    used_by = store.hidden[method["id"]]["used_by"]
    if owner is None and customer is None and used_by not in (None, intent_id):
        raise invalid(REUSED_METHOD, param="payment_method")
