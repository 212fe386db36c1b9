"""payment-cli pay and payments show/list/refresh over the emulator."""

import json
import uuid

import pytest


@pytest.fixture
def run_pay(run, stripe_target):
    env = {
        "PAYMENT_STRIPE_API_KEY": stripe_target.api_key,
        "PAYMENT_STRIPE_API_BASE": stripe_target.api_base or "",
        "PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS": "0.01",
    }
    env = {k: v for k, v in env.items() if v}

    def invoke(*args):
        return run(*args, env=env)

    return invoke


def pay_args(user, key, method="pm_card_visa", amount="20.00"):
    return [
        "pay",
        "--user",
        user,
        "--amount",
        amount,
        "--currency",
        "usd",
        "--payment-method",
        method,
        "--idempotency-key",
        key,
    ]


def test_pay_prints_the_payment_as_json(run_pay):
    user = str(uuid.uuid4())
    result = run_pay(*pay_args(user, "order-1"), "--json")
    assert result.exit_code == 0, result.stderr
    payment = json.loads(result.stdout)
    assert payment["status"] == "succeeded"
    assert (payment["amount"], payment["currency"]) == ("20.00", "usd")
    assert payment["stripe_transaction_id"].startswith("pi_")
    assert {"id", "redirect_url", "subscription_id", "error"} <= payment.keys()


def test_a_declined_payment_exits_1_with_its_error(run_pay):
    user = str(uuid.uuid4())
    result = run_pay(*pay_args(user, "k", "pm_card_visa_chargeDeclinedInsufficientFunds"), "--json")
    assert result.exit_code == 1
    payment = json.loads(result.stdout)
    assert payment["status"] == "failed"
    assert payment["error"]["code"] == "insufficient_funds"
    assert payment["error"]["message"] == "Card declined due to insufficient funds"


def test_a_declined_payment_in_text_mode_says_why_on_stderr(run_pay):
    result = run_pay(*pay_args(str(uuid.uuid4()), "k", "pm_card_chargeDeclinedExpiredCard"))
    assert result.exit_code == 1
    assert "Card expired. Please use a valid card [expired_card]" in result.stderr


def test_rate_limited_exits_3_with_retry_after(run_pay):
    user = str(uuid.uuid4())
    for n in range(5):
        run_pay(*pay_args(user, f"k{n}"))
    result = run_pay(*pay_args(user, "k5"), "--json")
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "rate_limited" and error["retry_after"] > 0


def test_an_idempotency_conflict_exits_4(run_pay):
    user = str(uuid.uuid4())
    run_pay(*pay_args(user, "k"))
    result = run_pay(*pay_args(user, "k", amount="30.00"))
    assert result.exit_code == 4
    assert result.stderr.startswith("error: ") and "[idempotency_conflict]" in result.stderr


def test_invalid_input_exits_2_without_traceback(run_pay):
    result = run_pay(*pay_args("not-a-uuid", "k"))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_card_number_on_the_command_line_is_refused_and_not_echoed(run_pay):
    result = run_pay(*pay_args(str(uuid.uuid4()), "4242 4242 4242 4242"))
    assert result.exit_code == 2
    assert "4242" not in result.stderr + result.stdout


def test_payments_show_list_and_refresh(run_pay):
    user = str(uuid.uuid4())
    paid = json.loads(run_pay(*pay_args(user, "k"), "--json").stdout)

    shown = json.loads(run_pay("payments", "show", paid["id"], "--json").stdout)
    assert shown["id"] == paid["id"] and shown["status"] == "succeeded"

    listed = json.loads(run_pay("payments", "list", "--user", user, "--json").stdout)
    assert [p["id"] for p in listed["payments"]] == [paid["id"]]

    refreshed = run_pay("payments", "refresh", paid["id"])
    assert refreshed.exit_code == 0 and "succeeded" in refreshed.stdout


def test_showing_an_unknown_payment_exits_6(run_pay):
    result = run_pay("payments", "show", str(uuid.uuid4()))
    assert result.exit_code == 6 and "[not_found]" in result.stderr
