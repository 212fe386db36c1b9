"""Contract tests of the example host application over HTTP (seed T011, T029, T035, T046)."""

import json
import time
import uuid

import pytest

from payment_lib.testing import signature_header

WEBHOOK_SECRET = "whsec_contract_test_secret"


def payment_body(**changes):
    body = {
        "user_id": str(uuid.uuid4()),
        "amount": "20.00",
        "currency": "usd",
        "payment_method_id": "pm_card_visa",
        "idempotency_key": str(uuid.uuid4()),
    }
    return {**body, **changes}


# T011: POST /api/v1/payments schema


def test_a_payment_returns_201_with_the_documented_fields(host_app):
    response = host_app.request("POST", "/api/v1/payments", payment_body())
    assert response.status == 201
    assert {
        "id",
        "status",
        "amount",
        "currency",
        "stripe_transaction_id",
        "redirect_url",
        "subscription_id",
        "error",
    } <= response.json().keys()
    assert response.json()["status"] == "succeeded"


@pytest.mark.parametrize(
    "missing", ["user_id", "amount", "currency", "payment_method_id", "idempotency_key"]
)
def test_a_missing_field_is_a_400_with_the_error_shape(host_app, missing):
    body = payment_body()
    del body[missing]
    response = host_app.request("POST", "/api/v1/payments", body)
    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and missing in error["message"]


def test_invalid_input_is_a_400_naming_the_field(host_app):
    response = host_app.request("POST", "/api/v1/payments", payment_body(amount="20.001"))
    assert response.status == 400
    assert response.json()["error"]["param"] == "amount"


def test_a_decline_is_a_402_with_the_payment_and_its_error(host_app):
    response = host_app.request(
        "POST",
        "/api/v1/payments",
        payment_body(payment_method_id="pm_card_visa_chargeDeclinedInsufficientFunds"),
    )
    assert response.status == 402
    assert response.json()["error"]["message"] == "Card declined due to insufficient funds"


def test_the_sixth_attempt_is_429_with_retry_after(host_app):
    user = str(uuid.uuid4())
    for _ in range(5):
        host_app.request("POST", "/api/v1/payments", payment_body(user_id=user))
    response = host_app.request("POST", "/api/v1/payments", payment_body(user_id=user))
    assert response.status == 429
    assert int(response.headers["retry-after"]) > 0


def test_an_idempotency_conflict_is_a_409(host_app):
    body = payment_body()
    host_app.request("POST", "/api/v1/payments", body)
    response = host_app.request("POST", "/api/v1/payments", {**body, "amount": "30.00"})
    assert response.status == 409


# T029: subscriptions


def test_subscriptions_are_listed_and_cancelled(host_app):
    user = str(uuid.uuid4())
    paid = host_app.request(
        "POST",
        "/api/v1/payments",
        payment_body(user_id=user, amount="9.99", plan_id="basic-monthly"),
    )
    subscription_id = paid.json()["subscription_id"]

    listed = host_app.request("GET", f"/api/v1/subscriptions/{user}")
    assert listed.status == 200
    assert [s["id"] for s in listed.json()["subscriptions"]] == [subscription_id]

    cancelled = host_app.request(
        "PATCH", f"/api/v1/subscriptions/{subscription_id}", {"status": "cancelled"}
    )
    assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled"

    again = host_app.request(
        "PATCH", f"/api/v1/subscriptions/{subscription_id}", {"status": "cancelled"}
    )
    assert again.status == 409


# T046: refunds are admin only


def test_refunds_need_an_admin(host_app):
    paid = host_app.request("POST", "/api/v1/payments", payment_body()).json()
    refused = host_app.request(
        "POST",
        "/api/v1/refunds",
        {"payment_id": paid["id"]},
        headers={"X-Actor": "bob", "X-Roles": "support"},
    )
    assert refused.status == 403
    refunded = host_app.request(
        "POST",
        "/api/v1/refunds",
        {"payment_id": paid["id"]},
        headers={"X-Actor": "ada", "X-Roles": "admin"},
    )
    assert refunded.status == 201 and refunded.json()["status"] == "succeeded"


def test_metrics_are_exposed(host_app):
    host_app.request("POST", "/api/v1/payments", payment_body())
    response = host_app.request("GET", "/metrics")
    assert response.status == 200
    assert b'payments_total{status="succeeded"}' in response.body


# T035: Stripe webhooks


def signed_event(secret, event_id="evt_contract_1"):
    event = {
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "api_version": "2026-09-30.endive",
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {
            "object": {
                "id": "pi_unknown",
                "object": "payment_intent",
                "status": "succeeded",
                "amount": 2000,
                "currency": "usd",
            }
        },
    }
    payload = json.dumps(event).encode()
    return payload, signature_header(payload, [secret], int(time.time()))


def test_a_signed_webhook_is_accepted_and_a_duplicate_too(webhook_app):
    payload, header = signed_event(WEBHOOK_SECRET)
    first = webhook_app.request(
        "POST", "/api/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header}
    )
    again = webhook_app.request(
        "POST", "/api/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header}
    )
    assert (first.status, again.status) == (200, 200)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)


def test_a_bad_signature_is_401(webhook_app):
    payload, header = signed_event("whsec_someone_else")
    response = webhook_app.request(
        "POST", "/api/v1/webhooks/stripe", raw=payload, headers={"Stripe-Signature": header}
    )
    assert response.status == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    missing = webhook_app.request("POST", "/api/v1/webhooks/stripe", raw=payload)
    assert missing.status == 401
