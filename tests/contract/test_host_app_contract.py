"""Contract tests of the example host application over HTTP (seed T011, T029, T035, T046).

The seed's ``GET /api/v1/subscriptions/{user_id}`` became ``GET /api/v1/subscriptions``: user
ids come from the caller's token, never from the request."""

import json
import threading
import time
import uuid

import pytest
from conftest import ADA, ALICE, BOB, USERS

from docs.examples.host_schemas import Payment, Refund, Subscription, SubscriptionResult
from payment_lib.testing import signature_header

WEBHOOK_SECRET = "whsec_contract_test_secret"


def payment_body(**changes):
    body = {
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
    assert response.json()["user_id"] == USERS[ALICE]
    Payment.model_validate(response.json())  # the documented schema, nothing more or less


@pytest.mark.parametrize("missing", ["amount", "currency", "payment_method_id", "idempotency_key"])
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
    for _ in range(5):
        host_app.request("POST", "/api/v1/payments", payment_body())
    response = host_app.request("POST", "/api/v1/payments", payment_body())
    assert response.status == 429
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["retry_after"] > 0
    other = host_app.request("POST", "/api/v1/payments", payment_body(), token=BOB)
    assert other.status == 201  # the limit is the caller's


def test_an_idempotency_conflict_is_a_409(host_app):
    body = payment_body()
    host_app.request("POST", "/api/v1/payments", body)
    response = host_app.request("POST", "/api/v1/payments", {**body, "amount": "30.00"})
    assert response.status == 409


# T029: subscriptions


def subscription_body(**changes):
    body = {
        "plan_id": "basic-monthly",
        "payment_method_id": "pm_card_visa",
        "idempotency_key": str(uuid.uuid4()),
    }
    return {**body, **changes}


def test_a_subscription_is_bought_listed_and_cancelled(host_app):
    bought = host_app.request("POST", "/api/v1/subscriptions", subscription_body())
    assert bought.status == 201
    SubscriptionResult.model_validate(bought.json())
    subscription = bought.json()["subscription"]
    assert subscription["user_id"] == USERS[ALICE] and subscription["status"] == "active"
    assert bought.json()["payment"]["amount"] == "9.99"

    listed = host_app.request("GET", "/api/v1/subscriptions")
    assert listed.status == 200
    assert [s["id"] for s in listed.json()["subscriptions"]] == [subscription["id"]]
    Subscription.model_validate(listed.json()["subscriptions"][0])
    assert host_app.request("GET", "/api/v1/subscriptions", token=BOB).json() == {
        "subscriptions": []
    }

    path = f"/api/v1/subscriptions/{subscription['id']}"
    cancelled = host_app.request("PATCH", path, {"status": "cancelled"})
    assert cancelled.status == 200 and cancelled.json()["status"] == "cancelled"
    again = host_app.request("PATCH", path, {"status": "cancelled"})
    assert again.status == 409


def test_an_unknown_plan_is_a_400_naming_it(host_app):
    response = host_app.request(
        "POST", "/api/v1/subscriptions", subscription_body(plan_id="gold-forever")
    )
    assert response.status == 400
    assert response.json()["error"]["param"] == "plan_id"
    assert host_app.request("GET", "/api/v1/payments").json()["payments"] == []


def test_a_payment_with_a_plan_starts_a_subscription_too(host_app):
    paid = host_app.request(
        "POST", "/api/v1/payments", payment_body(amount="9.99", plan_id="basic-monthly")
    )
    listed = host_app.request("GET", "/api/v1/subscriptions").json()["subscriptions"]
    assert [s["id"] for s in listed] == [paid.json()["subscription_id"]]


def test_another_users_subscription_is_a_404(host_app):
    bought = host_app.request("POST", "/api/v1/subscriptions", subscription_body()).json()
    path = f"/api/v1/subscriptions/{bought['subscription']['id']}"
    response = host_app.request("PATCH", path, {"status": "cancelled"}, token=BOB)
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"
    listed = host_app.request("GET", "/api/v1/subscriptions").json()["subscriptions"]
    assert listed[0]["status"] == "active"


# T046: refunds are admin only


def test_refunds_need_an_admin(host_app):
    paid = host_app.request("POST", "/api/v1/payments", payment_body()).json()
    refused = host_app.request("POST", "/api/v1/refunds", {"payment_id": paid["id"]})
    assert refused.status == 403
    assert refused.json()["error"]["code"] == "forbidden"
    refunded = host_app.request("POST", "/api/v1/refunds", {"payment_id": paid["id"]}, token=ADA)
    assert refunded.status == 201 and refunded.json()["status"] == "succeeded"
    assert refunded.json()["requested_by"] == "ada@support"
    Refund.model_validate(refunded.json())


def test_roles_named_by_the_client_are_ignored(host_app):
    paid = host_app.request("POST", "/api/v1/payments", payment_body()).json()
    refused = host_app.request(
        "POST",
        "/api/v1/refunds",
        {"payment_id": paid["id"]},
        headers={"X-Actor": "ada", "X-Roles": "admin", "X-User-Id": USERS[ADA]},
    )
    assert refused.status == 403
    assert host_app.request("GET", f"/api/v1/payments/{paid['id']}").json()["status"] == (
        "succeeded"
    )


def test_metrics_are_exposed(host_app):
    host_app.request("POST", "/api/v1/payments", payment_body())
    response = host_app.request("GET", "/metrics", token=None)
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
        "POST",
        "/api/v1/webhooks/stripe",
        raw=payload,
        headers={"Stripe-Signature": header},
        token=None,
    )
    again = webhook_app.request(
        "POST",
        "/api/v1/webhooks/stripe",
        raw=payload,
        headers={"Stripe-Signature": header},
        token=None,
    )
    assert (first.status, again.status) == (200, 200)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)


def test_a_bad_signature_is_401(webhook_app):
    payload, header = signed_event("whsec_someone_else")
    response = webhook_app.request(
        "POST",
        "/api/v1/webhooks/stripe",
        raw=payload,
        headers={"Stripe-Signature": header},
        token=None,
    )
    assert response.status == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    missing = webhook_app.request("POST", "/api/v1/webhooks/stripe", raw=payload, token=None)
    assert missing.status == 401


@pytest.mark.emulator_only
def test_a_slow_stripe_call_does_not_stall_other_requests(host_app, stripe_emulator):
    """Library calls run in worker threads: while one payment waits on Stripe, others are
    answered at once."""
    stripe_emulator.faults.set(latency=2.0)
    paying = threading.Thread(
        target=host_app.request, args=("POST", "/api/v1/payments", payment_body())
    )
    paying.start()
    time.sleep(0.3)
    started = time.monotonic()
    listed = host_app.request("GET", "/api/v1/payments", token=BOB)
    waited = time.monotonic() - started
    in_flight = paying.is_alive()
    paying.join()
    assert listed.status == 200 and in_flight
    assert waited < 1.0, f"waited {waited:.2f} s behind a Stripe call"
