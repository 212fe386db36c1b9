"""Builders for the objects of a card payment: PaymentIntents, Charges and Refunds, with every
field the SDK declares (null where it does not apply, as for a card payment in test mode).
"""

from __future__ import annotations

from typing import Any

from payment_lib.testing.cards import Decline
from payment_lib.testing.objects import new_id, nulls, random_token, shipping

Obj = dict[str, Any]


def payment_intent(params: Obj, *, amount: int, currency: str, created: int) -> Obj:
    intent_id = new_id("pi")
    automatic = params.get("automatic_payment_methods")
    card_options = (params.get("payment_method_options") or {}).get("card") or {}
    return {
        "id": intent_id,
        "object": "payment_intent",
        "allowed_payment_method_types": params.get("allowed_payment_method_types") or None,
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {
            **nulls("discount_amount error line_items shipping tax"),
            "tip": {"amount": None},
        },
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": (
            {
                "allow_redirects": automatic.get("allow_redirects") or "always",
                "enabled": automatic.get("enabled") == "true",
            }
            if isinstance(automatic, dict)
            else {"allow_redirects": "always", "enabled": True}
        ),
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": params.get("capture_method") or "automatic_async",
        "client_secret": f"{intent_id}_secret_{random_token(25)}",
        "confirmation_method": params.get("confirmation_method") or "automatic",
        "created": created,
        "currency": currency,
        "customer": params.get("customer") or None,
        "customer_account": None,
        "description": params.get("description") or None,
        "excluded_payment_method_types": params.get("excluded_payment_method_types") or None,
        "hooks": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": params.get("metadata") or {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_details": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": card_payment_options(card_options)},
        "payment_method_types": ["card"],
        "payment_record": None,
        "presentment_details": None,
        "processing": None,
        "receipt_email": params.get("receipt_email") or None,
        "review": None,
        "setup_future_usage": params.get("setup_future_usage") or None,
        "shipping": shipping(params.get("shipping")),
        "source": None,
        "statement_descriptor": params.get("statement_descriptor") or None,
        "statement_descriptor_suffix": params.get("statement_descriptor_suffix") or None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": params.get("transfer_group") or None,
    }


def card_payment_options(given: Obj) -> Obj:
    """``payment_method_options.card``: the options given (capture_method,
    request_three_d_secure, setup_future_usage), the others as a card payment leaves them."""
    return {
        **nulls(
            """
            installments mandate_options network request_extended_authorization
            request_incremental_authorization request_multicapture request_overcapture
            require_cvc_recollection setup_credential_usage statement_descriptor_suffix_kana
            statement_descriptor_suffix_kanji stored_credential_usage
            """
        ),
        "capture_method": given.get("capture_method") or None,
        "request_three_d_secure": given.get("request_three_d_secure") or "automatic",
        "setup_future_usage": given.get("setup_future_usage") or None,
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
    paid = decline is None
    amount = intent["amount"]
    charge_id = new_id("ch")
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if paid and captured else 0,
        "amount_refunded": 0,
        **nulls("application application_fee application_fee_amount authorization_code"),
        "balance_transaction": new_id("txn") if paid and captured else None,
        "billing_details": method["billing_details"],
        "calculated_statement_descriptor": "EMULATOR",
        "captured": paid and captured,
        "created": created,
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "fraud_details": nulls("stripe_report user_report"),
        "level3": None,
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": _outcome(decline),
        "paid": paid,
        "payment_intent": intent["id"],
        "payment_method": method["id"],
        "payment_method_details": {
            "card": _card_details(method["card"], amount if paid else None, authenticated),
            "type": "card",
        },
        **nulls("presentment_details radar_options"),
        "receipt_email": intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}",
        "refunded": False,
        "review": None,
        "shipping": intent["shipping"],
        **nulls("source source_transfer"),
        "statement_descriptor": intent["statement_descriptor"],
        "statement_descriptor_suffix": intent["statement_descriptor_suffix"],
        "status": "succeeded" if paid else "failed",
        **nulls("transfer transfer_data"),
        "transfer_group": intent["transfer_group"],
    }


def _card_details(card: Obj, authorized: int | None, authenticated: bool) -> Obj:
    """``payment_method_details.card`` of a charge on a saved card."""
    return {
        **nulls(
            """
            authorization_code capture_before description electronic_commerce_indicator
            extended_authorization iin incremental_authorization installments issuer mandate
            moto multicapture network_token network_transaction_id overcapture
            setup_credential_usage stored_credential_usage transaction_link_id wallet
            """
        ),
        "amount_authorized": authorized,
        "brand": card["brand"],
        "checks": card["checks"],
        "country": card["country"],
        "exp_month": card["exp_month"],
        "exp_year": card["exp_year"],
        "fingerprint": card["fingerprint"],
        "funding": card["funding"],
        "last4": card["last4"],
        "network": card["brand"],
        "regulated_status": card["regulated_status"],
        "three_d_secure": (
            {
                **nulls(
                    """
                    electronic_commerce_indicator exemption_indicator
                    exemption_indicator_applied result_reason transaction_id
                    """
                ),
                "authentication_flow": "challenge",
                "result": "authenticated",
                "version": "2.2.0",
            }
            if authenticated
            else None
        ),
    }


def _outcome(decline: Decline | None) -> Obj:
    unknown = nulls("advice_code network_advice_code network_decline_code rule")
    if decline is None:
        return {
            **unknown,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 32,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    blocked = decline.outcome_type == "blocked"
    return {
        **unknown,
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
        "customer": charge["customer"],
        "customer_account": None,
        "description": None,
        "destination_details": {
            "card": {
                "reference": None,
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        **nulls("failure_balance_transaction failure_reason"),
        "instructions_email": params.get("instructions_email") or None,
        "metadata": params.get("metadata") or {},
        "next_action": None,
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "pending_reason": None,
        "presentment_details": None,
        "reason": params.get("reason") or None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
