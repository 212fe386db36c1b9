"""Builders for Stripe-shaped objects: ids, PaymentMethods, Customers, PaymentIntents, Charges,
Refunds, Events and lists, with the fields the SDK and host apps read.
"""

from __future__ import annotations

import base64
import random
from typing import Any

from payment_lib.testing.cards import Decline, TestCard

Obj = dict[str, Any]

# base64 of random bits with "+" and "/" mapped to letters: Stripe-like ids, cheaply.
_TO_ALPHANUMERIC = bytes.maketrans(b"+/", b"Az")
_random = random.Random()  # noqa: S311 - test-mode ids, not secrets


def random_token(length: int) -> str:
    """Random letters and digits (not secret: these are test-mode ids)."""
    size = (length * 3 + 3) // 4
    raw = base64.b64encode(_random.getrandbits(size * 8).to_bytes(size, "big"))
    return raw.translate(_TO_ALPHANUMERIC)[:length].decode()


def new_id(prefix: str) -> str:
    """An id in Stripe's style: ``pi_`` followed by 24 letters and digits."""
    return f"{prefix}_{random_token(24)}"


def request_id() -> str:
    return f"req_{random_token(14)}"


def _empty_address() -> Obj:
    return dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))


def billing_details(given: Obj | None = None) -> Obj:
    given = given or {}
    address = _empty_address()
    address.update(given.get("address") or {})
    return {
        "address": address,
        "email": given.get("email"),
        "name": given.get("name"),
        "phone": given.get("phone"),
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
            "display_brand": card.brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": card.fingerprint,
            "funding": card.funding,
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": None,
        "livemode": False,
        "metadata": metadata or {},
        "type": "card",
    }


def customer(params: Obj, *, created: int) -> Obj:
    default_method = (params.get("invoice_settings") or {}).get("default_payment_method")
    return {
        "id": new_id("cus"),
        "object": "customer",
        "address": params.get("address"),
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email"),
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
        "shipping": params.get("shipping"),
        "tax_exempt": "none",
        "test_clock": None,
    }


def payment_intent(params: Obj, *, amount: int, currency: str, created: int) -> Obj:
    intent_id = new_id("pi")
    automatic = params.get("automatic_payment_methods")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": (
            {
                "allow_redirects": automatic.get("allow_redirects", "always"),
                "enabled": automatic.get("enabled") == "true",
            }
            if automatic
            else {"allow_redirects": "always", "enabled": True}
        ),
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": params.get("capture_method", "automatic_async"),
        "client_secret": f"{intent_id}_secret_{random_token(25)}",
        "confirmation_method": params.get("confirmation_method", "automatic"),
        "created": created,
        "currency": currency,
        "customer": params.get("customer"),
        "description": params.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": params.get("metadata") or {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": params.get("receipt_email"),
        "review": None,
        "setup_future_usage": params.get("setup_future_usage"),
        "shipping": params.get("shipping"),
        "source": None,
        "statement_descriptor": params.get("statement_descriptor"),
        "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": params.get("transfer_group"),
    }


def charge(
    intent: Obj,
    method: Obj,
    *,
    created: int,
    decline: Decline | None,
    captured: bool = True,
    authenticated: bool = False,
) -> Obj:
    card = method["card"]
    paid = decline is None
    amount = intent["amount"]
    charge_id = new_id("ch")
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if paid and captured else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": new_id("txn") if paid and captured else None,
        "billing_details": method["billing_details"],
        "calculated_statement_descriptor": "EMULATOR",
        "captured": paid and captured,
        "created": created,
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "destination": None,
        "dispute": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": _outcome(decline),
        "paid": paid,
        "payment_intent": intent["id"],
        "payment_method": method["id"],
        "payment_method_details": {
            "card": {
                "amount_authorized": amount if paid else None,
                "brand": card["brand"],
                "checks": card["checks"],
                "country": card["country"],
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
                "fingerprint": card["fingerprint"],
                "funding": card["funding"],
                "installments": None,
                "last4": card["last4"],
                "mandate": None,
                "network": card["brand"],
                "three_d_secure": (
                    {
                        "authentication_flow": "challenge",
                        "result": "authenticated",
                        "version": "2.2.0",
                    }
                    if authenticated
                    else None
                ),
                "wallet": None,
            },
            "type": "card",
        },
        "receipt_email": intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}",
        "refunded": False,
        "review": None,
        "shipping": intent["shipping"],
        "source_transfer": None,
        "statement_descriptor": intent["statement_descriptor"],
        "statement_descriptor_suffix": intent["statement_descriptor_suffix"],
        "status": "succeeded" if paid else "failed",
        "transfer_data": None,
        "transfer_group": intent["transfer_group"],
    }


def _outcome(decline: Decline | None) -> Obj:
    if decline is None:
        return {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    blocked = decline.outcome_type == "blocked"
    return {
        "network_status": decline.network_status,
        "reason": "highest_risk_level" if blocked else decline.decline_code,
        "risk_level": "highest" if blocked else "normal",
        "risk_score": 95 if blocked else 32,
        "seller_message": (
            "Stripe blocked this payment as too risky."
            if blocked
            else "The bank did not return any further details with this decline."
        ),
        "type": decline.outcome_type,
    }


def refund(charge: Obj, *, amount: int, params: Obj, created: int) -> Obj:
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": charge["id"],
        "created": created,
        "currency": charge["currency"],
        "destination_details": {
            "card": {
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": params.get("metadata") or {},
        "payment_intent": charge["payment_intent"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
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
