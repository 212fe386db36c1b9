"""Builders for Stripe-shaped objects: ids, the shapes several objects share (addresses,
shipping, billing details), PaymentMethods, Customers and Events, with every field the SDK
declares (null where it does not apply). PaymentIntents, Charges and Refunds are built in
``payment_objects``.
"""

from __future__ import annotations

import binascii
import random
from typing import Any

from payment_lib.testing.cards import TestCard

Obj = dict[str, Any]

# base64 of random bits with "+" and "/" mapped to letters: Stripe-like ids, cheaply.
_TO_ALPHANUMERIC = bytes.maketrans(b"+/", b"Az")
_random = random.Random()  # noqa: S311 - test-mode ids, not secrets


def random_token(length: int) -> str:
    """Random letters and digits (not secret: these are test-mode ids)."""
    raw = binascii.b2a_base64(_random.randbytes((length * 3 + 3) // 4), newline=False)
    return raw.translate(_TO_ALPHANUMERIC)[:length].decode()


def new_id(prefix: str) -> str:
    """An id in Stripe's style: ``pi_`` followed by 24 letters and digits."""
    return f"{prefix}_{random_token(24)}"


def request_id() -> str:
    return f"req_{random_token(14)}"


def nulls(names: str) -> Obj:
    """Fields that do not apply, as Stripe sends them: ``nulls("a b")`` is {a: None, b: None}."""
    return dict.fromkeys(names.split())


def _given(given: object, name: str) -> Any:
    """A field of a hash parameter ("" and absent both mean none)."""
    return (given.get(name) or None) if isinstance(given, dict) else None


ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")


def address(given: object = None) -> Obj:
    """An address with all six fields, from an ``address[...]`` parameter."""
    return {name: _given(given, name) for name in ADDRESS_FIELDS}


def shipping(given: object) -> Obj | None:
    """Shipping details as Stripe answers them, from a ``shipping[...]`` parameter (None: none)."""
    if not isinstance(given, dict):
        return None
    return {
        "address": address(given.get("address")),
        "carrier": _given(given, "carrier"),
        "name": _given(given, "name"),
        "phone": _given(given, "phone"),
        "tracking_number": _given(given, "tracking_number"),
    }


def billing_details(given: object = None) -> Obj:
    return {
        "address": address(_given(given, "address")),
        "email": _given(given, "email"),
        "name": _given(given, "name"),
        "phone": _given(given, "phone"),
        "tax_id": _given(given, "tax_id"),
    }


def payment_method(
    card: TestCard,
    *,
    created: int,
    exp_month: int,
    exp_year: int,
    cvc_given: bool,
    billing: Obj | None = None,
    metadata: Obj | None = None,
) -> Obj:
    return {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing_details(billing),
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked" if cvc_given else None,
            },
            "country": card.country,
            "description": None,
            "display_brand": card.brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": card.fingerprint,
            "funding": card.funding,
            "generated_from": None,
            "iin": None,
            "issuer": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": metadata or {},
        "radar_options": None,
        "type": "card",
    }


def customer(params: Obj, *, created: int) -> Obj:
    default_method = (params.get("invoice_settings") or {}).get("default_payment_method")
    return {
        "id": new_id("cus"),
        "object": "customer",
        "address": address(params["address"]) if params.get("address") else None,
        "balance": 0,
        "business_name": params.get("business_name") or None,
        "created": created,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email"),
        "individual_name": params.get("individual_name") or None,
        "invoice_prefix": random_token(8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": default_method,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "name": params.get("name"),
        "next_invoice_sequence": 1,
        "phone": params.get("phone"),
        "preferred_locales": params.get("preferred_locales") or [],
        "shipping": shipping(params.get("shipping")),
        "tax_exempt": params.get("tax_exempt") or "none",
        "test_clock": None,
    }


def event(
    event_type: str,
    data: Obj,
    *,
    created: int,
    api_version: str,
    pending_webhooks: int,
    request_id: str | None,
    idempotency_key: str | None,
    previous_attributes: Obj | None = None,
) -> Obj:
    body: Obj = {"object": data}
    if previous_attributes is not None:
        body["previous_attributes"] = previous_attributes
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": body,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }


def merged_metadata(current: Obj, given: object) -> Obj:
    """Stripe's metadata update: keys merge, an empty value unsets a key, "" clears all."""
    if not isinstance(given, dict):
        return {}
    merged = {**current, **given}
    return {key: value for key, value in merged.items() if value != ""}
