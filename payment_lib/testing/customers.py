"""PaymentMethods and Customers: test cards turned into PaymentMethods, saved to customers.

``pm_card_*`` names and ``tok_*`` tokens stand for test cards; raw numbers are accepted only
for test cards (a real number is declined as in test mode). Endpoint functions follow the
convention of ``payments``: validate, set ``call.executing``, change state, return the object.
"""

from __future__ import annotations

import datetime

from payment_lib.testing import objects
from payment_lib.testing.cards import (
    LIVE_CARD,
    TestCard,
    card_for_name,
    card_for_number,
    passes_luhn,
)
from payment_lib.testing.errors import ApiError, invalid, missing_param
from payment_lib.testing.lists import list_object, listed, page
from payment_lib.testing.store import Call, Obj, Store
from payment_lib.testing.validation import integer, one_of, text

REDISPLAY = ("always", "limited", "unspecified")
TAX_EXEMPT = ("exempt", "none", "reverse")

# PaymentMethods ----------------------------------------------------------------------------


def create_payment_method(store: Store, call: Call) -> Obj:
    return payment_method_from(store, call, call.params)


def payment_method_from(store: Store, call: Call, params: Obj, prefix: str = "") -> Obj:
    """A new PaymentMethod from create's parameters, or from ``payment_method_data`` (then
    errors name the parameters under ``prefix``)."""

    def named(name: str) -> str:
        return f"{prefix}[{name}]" if prefix else name

    kind = params.get("type")
    if not kind:
        raise missing_param(named("type"))
    if kind != "card":
        raise invalid(
            f'The payment method type "{kind}" is invalid. Please ensure the provided type is '
            "activated in your dashboard (https://dashboard.stripe.com/account/payments/settings) "
            "and your account is enabled for any preview features that you are trying to use.",
            param=named("type"),
        )
    given = params.get("card")
    if not isinstance(given, dict):
        raise missing_param(named("card"))
    if "token" in given:
        card = card_for_name(str(given["token"]).removeprefix("tok_"))
        if card is None:
            raise invalid(
                f"No such token: '{given['token']}'",
                code="resource_missing",
                param=named("card") + "[token]",
            )
        return _new_method(store, call, params, card)
    card = _card_from_number(given)
    exp = _expiry(given)
    cvc = text(given, "cvc")
    if cvc is not None and not (cvc.isdigit() and len(cvc) in (3, 4)):
        raise _card_field_error("invalid_cvc", "Your card's security code is invalid.", "cvc")
    return _new_method(store, call, params, card, exp=exp, cvc_given=cvc is not None)


def _expiry(given: Obj, month: int | None = None, year: int | None = None) -> tuple[int, int]:
    """``exp_month`` and ``exp_year`` as given (else ``month``, ``year``), checked as Stripe
    checks them: a real month, a two-digit year taken as 20xx, not past, not 50 years out."""
    if "exp_month" in given:
        month = integer(given, "exp_month")
    if "exp_year" in given:
        year = integer(given, "exp_year")
    if month is None or not 1 <= month <= 12:
        raise _card_field_error(
            "invalid_expiry_month", "Your card's expiration month is invalid.", "exp_month"
        )
    if year is not None and year < 100:
        year += 2000
    today = datetime.date.today()
    if year is None or (year, month) < (today.year, today.month) or year > today.year + 50:
        raise _card_field_error(
            "invalid_expiry_year", "Your card's expiration year is invalid.", "exp_year"
        )
    return month, year


def _card_from_number(given: Obj) -> TestCard:
    number = str(given.get("number") or "").replace(" ", "")
    if not number:
        raise invalid(
            "Missing required param: card[number].", code="parameter_missing", param="card[number]"
        )
    if not passes_luhn(number):
        raise _card_field_error("incorrect_number", "Your card number is incorrect.", "number")
    card = card_for_number(number)
    if card is None:
        raise LIVE_CARD.as_error()
    return card


def _card_field_error(code: str, message: str, param: str) -> ApiError:
    return ApiError(402, message, type="card_error", code=code, param=param)


def _new_method(
    store: Store,
    call: Call,
    params: Obj,
    card: TestCard,
    *,
    exp: tuple[int, int] | None = None,
    cvc_given: bool = False,
) -> Obj:
    call.executing = True
    if exp is None:
        today = datetime.date.today()
        exp = (today.month, today.year + 1)
    method = objects.payment_method(
        card,
        created=call.now,
        exp_month=exp[0],
        exp_year=exp[1],
        cvc_given=cvc_given,
        billing=params.get("billing_details"),
        metadata=params.get("metadata"),
    )
    return store.add(method, card=card, set_up=False, used_by=None)


def resolve_method(
    store: Store, call: Call, method_id: object, param: str, *, status: int = 400
) -> Obj:
    """An existing PaymentMethod, or a fresh one for a ``pm_card_*`` test name; missing, it
    is a 400 when named by a parameter, a 404 (``status``) when named by the path."""
    if isinstance(method_id, str) and method_id.startswith("pm_card_"):
        card = card_for_name(method_id.removeprefix("pm_card_"))
        if card is not None:
            return _new_method(store, call, {}, card)
    return store.find("payment_method", method_id, param=param, status=status)


def retrieve_payment_method(store: Store, call: Call, method_id: str) -> Obj:
    return resolve_method(store, call, method_id, "id", status=404)


def update_payment_method(store: Store, call: Call, method_id: str) -> Obj:
    """A saved card's expiry, billing details, metadata or redisplay setting."""
    params = call.params
    method = store.find("payment_method", method_id)
    if method["customer"] is None:
        # (unconfirmed wording) Stripe updates only PaymentMethods saved to a customer.
        raise invalid(
            "You must save this PaymentMethod to a customer before you can update it.",
            code="payment_method_unexpected_state",
        )
    changes: Obj = {}
    given = params.get("card")
    if isinstance(given, dict) and ("exp_month" in given or "exp_year" in given):
        card = method["card"]
        month, year = _expiry(given, card["exp_month"], card["exp_year"])
        changes["card"] = {**card, "exp_month": month, "exp_year": year}
    billing = params.get("billing_details")
    if isinstance(billing, dict):
        changes["billing_details"] = _updated_billing(method["billing_details"], billing)
    if "metadata" in params:
        changes["metadata"] = objects.merged_metadata(method["metadata"], params["metadata"])
    redisplay = one_of(params, "allow_redisplay", REDISPLAY)
    if redisplay is not None:
        changes["allow_redisplay"] = redisplay
    call.executing = True
    previous = {name: method[name] for name in changes}
    method.update(changes)
    store.record(call, "payment_method.updated", method, previous)
    return method


def _updated_billing(current: Obj, given: Obj) -> Obj:
    """Billing details with the given fields replaced ("" unsets one) and the address merged."""
    updated = {**current, **{name: value or None for name, value in given.items()}}
    address = given.get("address")
    if isinstance(address, dict):
        updated["address"] = {**current["address"], **{k: v or None for k, v in address.items()}}
    elif "address" in given:
        updated["address"] = objects.billing_details()["address"]
    return updated


def attach_payment_method(store: Store, call: Call, method_id: str) -> Obj:
    customer = store.find("customer", call.params.get("customer"), param="customer", status=400)
    method = resolve_method(store, call, method_id, "id", status=404)
    if method["customer"] not in (None, customer["id"]):
        raise invalid(
            "The payment method you provided has already been attached to a customer.",
            code="payment_method_unexpected_state",
            param="payment_method",
        )
    call.executing = True
    method["customer"] = customer["id"]
    store.record(call, "payment_method.attached", method)
    return method


# Customers ---------------------------------------------------------------------------------


def detach_payment_method(store: Store, call: Call, method_id: str) -> Obj:
    method = store.find("payment_method", method_id)
    if method["customer"] is None:
        raise invalid(
            f"The payment method {method_id} is not attached to a customer so detachment is "
            "impossible.",
            code="payment_method_unexpected_state",
        )
    call.executing = True
    previous = {"customer": method["customer"]}
    method["customer"] = None
    # Stripe: a detached PaymentMethod cannot be used again.
    store.hidden[method["id"]]["used_by"] = "detached"
    store.record(call, "payment_method.detached", method, previous)
    return method


def list_payment_methods(store: Store, call: Call) -> Obj:
    return _methods_of(store, call, call.params.get("customer"), "/v1/payment_methods")


def list_customer_payment_methods(store: Store, call: Call, customer_id: str) -> Obj:
    store.find("customer", customer_id)
    return _methods_of(store, call, customer_id, f"/v1/customers/{customer_id}/payment_methods")


def _methods_of(store: Store, call: Call, customer_id: object, url: str) -> Obj:
    """A customer's PaymentMethods; every one is a card, so another ``type`` lists none."""
    kind = call.params.get("type") or "card"
    redisplay = one_of(call.params, "allow_redisplay", REDISPLAY)

    def keep(method: Obj) -> bool:
        return method["customer"] == customer_id and (
            redisplay is None or method["allow_redisplay"] == redisplay
        )

    chosen, more = page(
        store.kinds.get("payment_method", []) if kind == "card" else [],
        call.params,
        position=lambda cursor: store.position("payment_method", cursor),
        keep=keep,
    )
    return list_object(chosen, more, url)


def create_customer(store: Store, call: Call) -> Obj:
    one_of(call.params, "tax_exempt", TAX_EXEMPT)
    method = None
    if call.params.get("payment_method"):
        method = resolve_method(store, call, call.params["payment_method"], "payment_method")
    call.executing = True
    customer = store.add(objects.customer(call.params, created=call.now))
    store.record(call, "customer.created", customer)
    if method is not None:
        method["customer"] = customer["id"]
        store.record(call, "payment_method.attached", method)
    return customer


def update_customer(store: Store, call: Call, customer_id: str) -> Obj:
    params = call.params
    customer = store.find("customer", customer_id)
    changes: Obj = {}
    settings = params.get("invoice_settings")
    if isinstance(settings, dict) and "default_payment_method" in settings:
        chosen = settings["default_payment_method"] or None
        if chosen is not None:
            method = store.find(
                "payment_method",
                chosen,
                param="invoice_settings[default_payment_method]",
                status=400,
            )
            if method["customer"] != customer_id:
                raise invalid(
                    f"The customer does not have a payment method with the ID {chosen}. The "
                    "payment method must be attached to the customer.",
                    param="invoice_settings[default_payment_method]",
                )
        changes["invoice_settings"] = {
            **customer["invoice_settings"],
            "default_payment_method": chosen,
        }
    if "address" in params:
        changes["address"] = objects.address(params["address"]) if params["address"] else None
    if "shipping" in params:
        changes["shipping"] = objects.shipping(params["shipping"])
    for name in ("business_name", "description", "email", "individual_name", "name", "phone"):
        if name in params:
            changes[name] = params[name] or None
    if params.get("tax_exempt"):
        changes["tax_exempt"] = one_of(params, "tax_exempt", TAX_EXEMPT)
    if "metadata" in params:
        changes["metadata"] = objects.merged_metadata(customer["metadata"], params["metadata"])
    call.executing = True
    previous = {name: customer[name] for name in changes}
    customer.update(changes)
    store.record(call, "customer.updated", customer, previous)
    return customer


def delete_customer(store: Store, call: Call, customer_id: str) -> Obj:
    """Delete for good: retrieving answers a ``deleted`` stub, lists leave it out."""
    customer = store.find("customer", customer_id)
    call.executing = True
    stub = {"id": customer_id, "object": "customer", "deleted": True}
    store.replace(stub)
    store.record(call, "customer.deleted", customer)
    return stub


def list_customers(store: Store, call: Call) -> Obj:
    return listed(store, call.params, "customer", "/v1/customers", ("email",))


def retrieve_customer(store: Store, call: Call, customer_id: str) -> Obj:
    found = store.objects.get(customer_id)
    if found is not None and found["object"] == "customer" and found.get("deleted"):
        return found
    return store.find("customer", customer_id)
