"""payment-cli subscriptions change-plan: text and --json, dry runs, refusals, exit codes."""

import json
import uuid

import pytest
from prometheus_client import CollectorRegistry

from payment_lib import Payments, Settings


@pytest.fixture
def cli(demo_cli):
    return demo_cli


def subscribe(cli, plan="basic-monthly", amount="9.99", user=None):
    result = cli("pay", "--user", user or str(uuid.uuid4()), "--amount", amount,
                 "--currency", "usd", "--payment-method", "pm_card_visa",
                 "--idempotency-key", str(uuid.uuid4()),
                 "--plan", plan, "--email", "ada@example.com", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["subscription_id"]


def test_change_plan_upgrades_now_and_prints_the_charge(cli):
    subscription_id = subscribe(cli)
    result = cli("subscriptions", "change-plan", subscription_id, "--plan", "pro-monthly",
                 "--json")
    assert result.exit_code == 0, result.stderr
    change = json.loads(result.stdout)
    assert (change["status"], change["from_plan_id"], change["to_plan_id"]) == (
        "changed", "basic-monthly", "pro-monthly")
    assert change["charge"]["currency"] == "usd"
    assert change["charge"]["amount"] in ("19.00", "19.01")  # the period has barely begun
    assert change["payment"]["status"] == "succeeded"

    again = cli("subscriptions", "change-plan", subscription_id, "--plan", "pro-monthly")
    assert again.exit_code == 0
    assert "pro-monthly" in again.stdout and "charged" in again.stdout


def test_change_plan_dry_run_prints_and_changes_nothing(cli):
    subscription_id = subscribe(cli, "pro-monthly", "29.00")
    text = cli("subscriptions", "change-plan", subscription_id, "--plan", "basic-monthly",
               "--immediately", "--dry-run")
    assert text.exit_code == 0, text.stderr
    assert "would" in text.stdout and "credit" in text.stdout
    preview = json.loads(cli("subscriptions", "change-plan", subscription_id, "--plan",
                             "basic-monthly", "--dry-run", "--json").stdout)
    assert (preview["status"], preview["dry_run"]) == ("scheduled", True)


def test_change_plan_downgrade_is_scheduled_at_period_end(cli):
    user = str(uuid.uuid4())
    subscription_id = subscribe(cli, "pro-monthly", "29.00", user=user)
    result = cli("subscriptions", "change-plan", subscription_id, "--plan", "basic-monthly")
    assert result.exit_code == 0, result.stderr
    assert "basic-monthly" in result.stdout and "period end" in result.stdout
    assert "(then basic-monthly)" in cli("subscriptions", "show", "--user", user).stdout
    shown = json.loads(cli("subscriptions", "show", "--user", user, "--json").stdout)
    assert shown["subscriptions"][0]["scheduled_plan_id"] == "basic-monthly"


def test_change_plan_refusals_exit_with_documented_codes(cli):
    subscription_id = subscribe(cli)
    other_currency = cli("subscriptions", "change-plan", subscription_id, "--plan",
                         "basic-monthly-jpy")
    assert other_currency.exit_code == 2 and "[invalid_request]" in other_currency.stderr
    other_interval = cli("subscriptions", "change-plan", subscription_id, "--plan", "pro-yearly",
                         "--json")
    assert other_interval.exit_code == 2
    assert json.loads(other_interval.stdout)["error"]["code"] == "invalid_request"
    unknown = cli("subscriptions", "change-plan", subscription_id, "--plan", "nope")
    assert unknown.exit_code == 6
    cli("subscriptions", "cancel", subscription_id)
    ended = cli("subscriptions", "change-plan", subscription_id, "--plan", "pro-monthly")
    assert ended.exit_code == 4 and "Traceback" not in ended.stderr + ended.stdout


def test_change_plan_declined_exits_1_and_says_the_plan_did_not_change(
    cli, database_url, stripe_target
):
    subscription_id = subscribe(cli)
    settings = Settings(database_url=database_url, stripe_api_key=stripe_target.api_key,
                        stripe_api_base=stripe_target.api_base)
    with Payments.from_settings(settings, registry=CollectorRegistry()) as payments:
        payments.change_payment_method(subscription_id, "pm_card_chargeCustomerFail")

    result = cli("subscriptions", "change-plan", subscription_id, "--plan", "pro-monthly")

    assert result.exit_code == 1 and "not changed" in result.stderr
    assert "[card_declined]" in result.stderr
    shown = cli("subscriptions", "change-plan", subscription_id, "--plan", "pro-monthly",
                "--json")
    assert shown.exit_code == 1
    assert json.loads(shown.stdout)["error"]["code"] == "card_declined"
