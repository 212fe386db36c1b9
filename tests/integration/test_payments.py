"""Payments end to end through the facade, on both databases, over the real SDK (seed US1, US2)."""

from __future__ import annotations

import http.client
import time
import urllib.parse
import uuid

import pytest
import sqlalchemy as sa
import structlog
from structlog.testing import capture_logs

from payment_lib import IdempotencyConflict, InvalidRequest, ProviderUnavailable, RateLimited

RETURN_URL = "https://shop.example/return"


def pay(payments, user_id, key=None, method="pm_card_visa", **extra):
    return payments.pay(
        user_id=user_id,
        amount=extra.pop("amount", "20.00"),
        currency=extra.pop("currency", "usd"),
        payment_method=method,
        idempotency_key=key or str(uuid.uuid4()),
        **extra,
    )


def authenticate(redirect_url, action):
    """Press "Complete" or "Fail" on the 3-D Secure page, without following its redirect."""
    parts = urllib.parse.urlsplit(redirect_url)
    query = f"{parts.query}&action={action}" if parts.query else f"action={action}"
    connection = http.client.HTTPConnection(parts.netloc, timeout=5)
    try:
        connection.request("GET", f"{parts.path}?{query}")
        assert connection.getresponse().status in (200, 302, 303)
    finally:
        connection.close()


def rows(payments, sql):
    with payments.database.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def test_successful_payment_is_recorded_with_safe_card_details(payments, user_id, stripe_target):
    result = pay(payments, user_id)

    assert result.status == "succeeded"
    assert result.amount.amount == "20.00" and result.amount.currency == "usd"
    assert result.stripe_transaction_id.startswith("pi_")
    assert result.error is None
    assert rows(
        payments, "SELECT status, amount, currency, stripe_transaction_id FROM payments"
    ) == [("succeeded", 2000, "usd", result.stripe_transaction_id)]
    assert rows(payments, "SELECT card_brand, last4 FROM payment_methods") == [("visa", "4242")]


@pytest.mark.emulator_only
def test_one_payment_intent_per_payment_at_stripe(payments, user_id, stripe_emulator):
    pay(payments, user_id)
    assert stripe_emulator.count("payment_intent") == 1


def test_three_d_secure_returns_the_redirect_and_refresh_completes_it(payments, user_id):
    result = pay(payments, user_id, method="pm_card_threeDSecure2Required", return_url=RETURN_URL)
    assert result.status == "requires_action"
    assert result.redirect_url.startswith("http")

    authenticate(result.redirect_url, "complete")

    refreshed = payments.refresh_payment(result.id)
    assert refreshed.status == "succeeded"
    assert payments.get_payment(result.id).status == "succeeded"


def test_failed_three_d_secure_leaves_a_failed_payment(payments, user_id):
    result = pay(payments, user_id, method="pm_card_threeDSecure2Required", return_url=RETURN_URL)
    authenticate(result.redirect_url, "fail")

    refreshed = payments.refresh_payment(result.id)
    assert refreshed.status == "failed"
    assert refreshed.error.code == "authentication_failed"


@pytest.mark.emulator_only
def test_same_key_twice_charges_once_and_returns_the_same_result(
    payments, user_id, stripe_emulator
):
    first = pay(payments, user_id, key="order-1")
    second = pay(payments, user_id, key="order-1")

    assert second.id == first.id
    assert second.stripe_transaction_id == first.stripe_transaction_id
    assert (first.replayed, second.replayed) == (False, True)
    assert stripe_emulator.count("payment_intent") == 1
    assert rows(payments, "SELECT count(*) FROM payments") == [(1,)]


def test_same_key_with_a_different_request_is_a_conflict(payments, user_id):
    pay(payments, user_id, key="order-1")
    with pytest.raises(IdempotencyConflict):
        pay(payments, user_id, key="order-1", amount="21.00")
    assert rows(payments, "SELECT count(*) FROM payments") == [(1,)]


@pytest.mark.parametrize(
    ("method", "code", "message"),
    [
        (
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
            "Card declined due to insufficient funds",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "expired_card",
            "Card expired. Please use a valid card",
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            "incorrect_cvc",
            "Card security code (CVC) is incorrect. Please check it and try again",
        ),
        (
            "pm_card_chargeDeclinedProcessingError",
            "processing_error",
            "Payment processing failed. Please try again",
        ),
        (
            "pm_card_visa_chargeDeclined",
            "card_declined",
            "Card declined. Please use a different card or contact your bank",
        ),
        (
            "pm_card_chargeCustomerFail",
            "card_declined",
            "Card declined. Please use a different card or contact your bank",
        ),
        (
            "pm_card_visa_chargeDeclinedLostCard",
            "card_declined",
            "Card declined. Please use a different card",
        ),
        (
            "pm_card_visa_chargeDeclinedStolenCard",
            "card_declined",
            "Card declined. Please use a different card",
        ),
    ],
)
def test_each_decline_is_stored_with_a_clear_message(payments, user_id, method, code, message):
    result = pay(payments, user_id, method=method)

    assert result.status == "failed"
    assert (result.error.code, result.error.message) == (code, message)
    assert rows(payments, "SELECT status, failure_code, failure_message FROM payments") == [
        ("failed", code, message)
    ]


def test_off_session_payment_that_needs_authentication_fails_clearly(payments, user_id):
    result = pay(payments, user_id, method="pm_card_authenticationRequired", off_session=True)
    assert result.status == "failed"
    assert result.error.code == "authentication_required"


def test_sixth_attempt_in_an_hour_is_rate_limited_and_never_reaches_stripe(
    payments, user_id, stripe_target
):
    keys = [f"k{n}" for n in range(5)]
    for key in keys:
        pay(payments, user_id, key=key, method="pm_card_visa_chargeDeclined")

    with pytest.raises(RateLimited) as caught:
        pay(payments, user_id, key="k5")

    assert 0 < caught.value.retry_after <= 3600
    assert pay(payments, user_id, key="k0", method="pm_card_visa_chargeDeclined").replayed
    assert rows(payments, "SELECT count(*) FROM payments") == [(5,)]
    other_user = str(uuid.uuid4())
    assert pay(payments, other_user).status == "succeeded"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", "card 4242 4242 4242 4242"),
        ("customer_email", "4242424242424242@example.com"),
        ("metadata", {"note": "4000-0000-0000-9995"}),
        ("idempotency_key", "4242424242424242"),
    ],
)
def test_a_card_number_in_any_field_is_refused_and_never_stored_or_logged(
    payments, user_id, field, value
):
    args = {"idempotency_key": "k1", field: value}
    with capture_logs() as logs, pytest.raises(InvalidRequest) as caught:
        payments.pay(
            user_id=user_id, amount="20.00", currency="usd", payment_method="pm_card_visa", **args
        )

    assert "card number" in caught.value.message
    assert "4242" not in caught.value.message and "9995" not in caught.value.message
    assert "4242" not in repr(logs) and "9995" not in repr(logs)
    assert rows(payments, "SELECT count(*) FROM payments") == [(0,)]


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("user_id", "not-a-uuid", "user_id"),
        ("amount", "20.001", "amount"),
        ("amount", 20.0, "amount"),
        ("currency", "xyz", "currency"),
        ("payment_method", "card_123", "payment_method"),
        ("idempotency_key", "", "idempotency_key"),
        ("idempotency_key", "k" * 256, "idempotency_key"),
        ("idempotency_key", "tab\there", "idempotency_key"),
        ("customer_email", "not-an-email", "customer_email"),
        ("return_url", "javascript:alert(1)", "return_url"),
        ("description", "x" * 501, "description"),
        ("metadata", {f"k{n}": "v" for n in range(51)}, "metadata"),
        ("metadata", {"k": "v" * 501}, "metadata"),
        ("plan_id", "no-such-plan", "plan_id"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(payments, user_id, field, value, param):
    args = {
        "user_id": user_id,
        "amount": "20.00",
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "idempotency_key": "k1",
        field: value,
    }
    with pytest.raises(InvalidRequest) as caught:
        payments.pay(**args)
    assert caught.value.param == param
    assert rows(payments, "SELECT count(*) FROM payments") == [(0,)]


def test_a_plan_payment_must_match_the_plan_price(payments, user_id):
    payments.add_plan(
        "basic-monthly", name="Basic", amount="9.99", currency="usd", interval="month"
    )
    with pytest.raises(InvalidRequest, match="plan"):
        pay(payments, user_id, plan_id="basic-monthly", amount="10.00")


@pytest.mark.emulator_only
def test_stripe_down_gives_provider_unavailable_and_the_same_key_later_succeeds_once(
    payments, user_id, stripe_emulator
):
    stripe_emulator.faults.set(error_status=500)
    with pytest.raises(ProviderUnavailable):
        pay(payments, user_id, key="order-9")
    assert rows(payments, "SELECT status FROM payments") == [("unknown",)]

    stripe_emulator.faults.clear()
    result = pay(payments, user_id, key="order-9")
    assert result.status == "succeeded"
    assert stripe_emulator.count("payment_intent") == 1


@pytest.mark.emulator_only
def test_a_lost_response_is_retried_with_the_same_key_and_charges_once(
    payments, user_id, stripe_emulator
):
    stripe_emulator.faults.set(drop_response=True, times=1)
    result = pay(payments, user_id)
    assert result.status == "succeeded"
    assert stripe_emulator.count("payment_intent") == 1
    assert stripe_emulator.count("charge") == 1


@pytest.mark.emulator_only
def test_a_hanging_stripe_times_out_and_the_same_key_later_gets_that_charge(
    payments, user_id, stripe_emulator
):
    stripe_emulator.faults.set(hang=2.5, times=1)
    with pytest.raises(ProviderUnavailable):
        pay(payments, user_id, key="order-7")
    time.sleep(1)  # the hung request completes at the emulator meanwhile

    result = pay(payments, user_id, key="order-7")
    assert result.status == "succeeded"
    assert stripe_emulator.count("payment_intent") == 1


@pytest.mark.emulator_only
def test_the_breaker_opens_after_five_failures_and_stops_calling_stripe(
    payments, user_id, stripe_emulator
):
    stripe_emulator.faults.set(error_status=503)
    with capture_logs() as logs:
        for key in ("a", "b"):
            with pytest.raises(ProviderUnavailable):
                pay(payments, user_id, key=key)
    assert any(entry.get("new_state") == "open" for entry in logs)

    stripe_emulator.faults.clear()
    with pytest.raises(ProviderUnavailable, match="paused"):
        pay(payments, user_id, key="c")
    assert stripe_emulator.count("payment_intent") == 0


def test_each_attempt_logs_with_a_trace_id_and_counts_in_metrics(payments, user_id):
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        pay(payments, user_id)
        pay(payments, user_id, method="pm_card_visa_chargeDeclined")
    attempts = [e for e in logs if e["event"] == "payment attempt"]
    failures = [e for e in logs if e["event"] == "payment failed"]
    assert len(attempts) == 2 and all(e.get("trace_id") for e in attempts)
    assert failures and failures[0]["log_level"] == "info"  # a decline is a result (issue 14)
    assert failures[0]["stripe_request_id"].startswith("req_")
    registry = payments.metrics.registry
    assert registry.get_sample_value("payments_total", {"status": "succeeded"}) == 1
    assert registry.get_sample_value("payments_total", {"status": "failed"}) == 1
    assert registry.get_sample_value("payment_duration_seconds_count") == 2


def test_a_users_payments_are_listed_newest_first(payments, user_id):
    first = pay(payments, user_id)
    second = pay(payments, user_id, method="pm_card_visa_chargeDeclined")
    assert [p.id for p in payments.list_payments(user_id)] == [second.id, first.id]


def test_an_unknown_payment_is_not_found(payments):
    from payment_lib import NotFound

    with pytest.raises(NotFound):
        payments.get_payment(str(uuid.uuid4()))
    with pytest.raises(InvalidRequest):
        payments.get_payment("nope")


def test_a_payment_stripe_refuses_is_failed_not_left_pending(payments, user_id):
    result = pay(payments, user_id, key="k-refused", method="pm_doesnotexist")

    assert (result.status, result.error.code) == ("failed", "payment_refused")
    assert pay(payments, user_id, key="k-refused", method="pm_doesnotexist").replayed
    assert payments.recover_stale_payments(older_than_seconds=0) == []
