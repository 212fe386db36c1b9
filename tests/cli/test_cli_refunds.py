"""payment-cli process-refund over the emulator."""

import json
import uuid

import test_cli_payments
from test_cli_payments import pay_args

run_pay = test_cli_payments.run_pay  # the fixture, shared with the payment commands' tests


def paid(run_pay, *extra):
    result = run_pay(*pay_args(str(uuid.uuid4()), str(uuid.uuid4())), *extra, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_process_refund_prints_the_refund_as_json(run_pay):
    payment = paid(run_pay)

    result = run_pay(
        "process-refund",
        payment["id"],
        "--amount",
        "5.00",
        "--reason",
        "requested_by_customer",
        "--operator",
        "olga",
        "--json",
    )

    assert result.exit_code == 0, result.output
    refund = json.loads(result.stdout)
    assert (refund["amount"], refund["currency"], refund["status"]) == ("5.00", "usd", "succeeded")
    assert (refund["remaining_refundable"], refund["payment_status"]) == (
        "15.00",
        "partially_refunded",
    )
    assert (refund["requested_by"], refund["reason"]) == ("olga", "requested_by_customer")
    assert refund["subscription_status"] is None and refund["id"]


def test_process_refund_in_text_mode_shows_what_remains(run_pay):
    payment = paid(run_pay)

    result = run_pay("process-refund", payment["id"], "--amount", "5.00", "--operator", "olga")

    assert result.exit_code == 0, result.output
    assert "succeeded" in result.stdout and "5.00 USD" in result.stdout
    assert "15.00 USD remains refundable" in result.stdout
    assert "subscription: none" in result.stdout


def test_without_operator_the_os_user_is_recorded(run_pay, monkeypatch):
    monkeypatch.setenv("LOGNAME", "osuser")
    payment = paid(run_pay)

    result = run_pay("process-refund", payment["id"], "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["requested_by"] == "osuser"


def test_the_same_command_retried_refunds_once(run_pay):
    payment = paid(run_pay)
    run_pay("process-refund", payment["id"], "--amount", "5.00")

    again = run_pay("process-refund", payment["id"], "--amount", "5.00", "--json")

    assert again.exit_code == 0 and json.loads(again.stdout)["replayed"] is True
    assert (
        "nothing new refunded"
        in run_pay("process-refund", payment["id"], "--amount", "5.00").stdout
    )
    shown = json.loads(run_pay("payments", "show", payment["id"], "--json").stdout)
    assert shown["amount_refunded"] == "5.00"


def test_refunding_a_refunded_payment_exits_4(run_pay):
    payment = paid(run_pay)
    run_pay("process-refund", payment["id"])

    result = run_pay("process-refund", payment["id"], "--idempotency-key", "again")

    assert result.exit_code == 4
    assert result.stderr.startswith("error: ") and "[already_refunded]" in result.stderr


def test_refunding_an_unknown_payment_exits_6_and_a_bad_amount_exits_2(run_pay):
    assert run_pay("process-refund", str(uuid.uuid4())).exit_code == 6
    payment = paid(run_pay)
    bad = run_pay("process-refund", payment["id"], "--amount", "5.001", "--json")
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["error"]["code"] == "invalid_request"


def test_the_same_refund_command_later_says_it_was_made_before_and_how_to_refund_again(run_pay):
    payment = paid(run_pay)
    first = run_pay("process-refund", payment["id"], "--amount", "5.00")
    again = run_pay("process-refund", payment["id"], "--amount", "5.00")

    assert (first.exit_code, again.exit_code) == (0, 0), again.output
    made = json.loads(run_pay("process-refund", payment["id"], "--amount", "5.00", "--json").stdout)
    assert made["replayed"] is True
    assert f"made {made['created_at'][:10]}" in again.stdout
    assert "--idempotency-key" in again.stdout
    assert "15.00 USD remains refundable" in again.stdout
