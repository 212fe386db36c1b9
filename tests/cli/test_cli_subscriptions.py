"""payment-cli subscriptions show/cancel and billing run."""

import datetime as dt
import json
import uuid

import pytest


@pytest.fixture
def cli(demo_cli):
    return demo_cli


def subscribe(cli, user):
    result = cli("pay", "--user", user, "--amount", "9.99", "--currency", "usd",
                 "--payment-method", "pm_card_visa", "--idempotency-key", str(uuid.uuid4()),
                 "--plan", "basic-monthly", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["subscription_id"]


def test_subscriptions_show_lists_the_users_subscriptions(cli):
    user = str(uuid.uuid4())
    subscription_id = subscribe(cli, user)
    shown = json.loads(cli("subscriptions", "show", "--user", user, "--json").stdout)
    [subscription] = shown["subscriptions"]
    assert subscription["id"] == subscription_id
    assert {"plan_id", "status", "start_date", "next_billing_date", "end_date",
            "cancel_at_period_end"} <= subscription.keys()
    text = cli("subscriptions", "show", "--user", user).stdout
    assert "basic-monthly" in text and "active" in text


def test_subscriptions_cancel_now_and_at_period_end(cli):
    first = subscribe(cli, str(uuid.uuid4()))
    at_end = json.loads(cli("subscriptions", "cancel", first, "--at-period-end", "--json").stdout)
    assert (at_end["status"], at_end["cancel_at_period_end"]) == ("active", True)

    now = json.loads(cli("subscriptions", "cancel", first, "--json").stdout)
    assert now["status"] == "cancelled"

    again = cli("subscriptions", "cancel", first)
    assert again.exit_code == 4 and "[illegal_transition]" in again.stderr


def test_billing_run_reports_what_it_charged(cli):
    user = str(uuid.uuid4())
    subscribe(cli, user)
    [subscription] = json.loads(cli("subscriptions", "show", "--user", user, "--json").stdout)[
        "subscriptions"]
    due = subscription["next_billing_date"]

    report = json.loads(cli("billing", "run", "--now", due, "--json").stdout)
    assert [c["status"] for c in report["charged"]] == ["succeeded"]
    assert report["charged"][0]["amount"] == "9.99"

    text = cli("billing", "run", "--now", due)
    assert text.exit_code == 0 and "nothing due" in text.stdout


def test_billing_run_refuses_a_malformed_time(cli):
    result = cli("billing", "run", "--now", "yesterday")
    assert result.exit_code == 2 and "ISO" in result.stderr


def test_billing_run_takes_naive_times_as_utc(cli):
    result = cli("billing", "run", "--now", dt.datetime(2030, 1, 1).isoformat(), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["now"] == "2030-01-01T00:00:00+00:00"


def _due_of(cli, user):
    [subscription] = json.loads(cli("subscriptions", "show", "--user", user, "--json").stdout)[
        "subscriptions"]
    return subscription["id"], subscription["next_billing_date"]


def test_billing_run_dry_run_says_what_it_would_do_and_changes_nothing(cli, stripe_emulator):
    users = [str(uuid.uuid4()) for _ in range(2)]
    for user in users:
        subscribe(cli, user)
    first, due = _due_of(cli, users[0])
    later = (dt.datetime.fromisoformat(due) + dt.timedelta(days=2)).isoformat()
    intents = stripe_emulator.count("payment_intent")

    planned = json.loads(cli("billing", "run", "--now", later, "--dry-run", "--json").stdout)
    text = cli("billing", "run", "--now", later, "--dry-run")

    assert planned["dry_run"] is True and planned["charged"] == []
    assert sorted(p["action"] for p in planned["planned"]) == ["renew", "renew"]
    assert {p["amount"] for p in planned["planned"]} == {"9.99"}
    assert "would renew" in text.stdout and "9.99" in text.stdout
    assert stripe_emulator.count("payment_intent") == intents
    assert _due_of(cli, users[0]) == (first, due)


def test_billing_run_can_be_scoped_to_a_subscription_or_a_user(cli):
    users = [str(uuid.uuid4()) for _ in range(3)]
    for user in users:
        subscribe(cli, user)
    first, due = _due_of(cli, users[0])
    later = (dt.datetime.fromisoformat(due) + dt.timedelta(days=2)).isoformat()

    one = cli("billing", "run", "--now", later, "--subscription", first, "--json")
    one = json.loads(one.stdout)
    user = json.loads(cli("billing", "run", "--now", later, "--user", users[1], "--json").stdout)

    assert [c["subscription_id"] for c in one["charged"]] == [first]
    assert [c["user_id"] for c in user["charged"]] == [users[1]]
    rest = json.loads(cli("billing", "run", "--now", later, "--json").stdout)
    assert [c["user_id"] for c in rest["charged"]] == [users[2]]
    bad = cli("billing", "run", "--subscription", "nope")
    assert bad.exit_code == 2


def test_subscriptions_retry_charges_a_past_due_one_now_and_refuses_an_active_one(cli):
    user = str(uuid.uuid4())
    subscription_id = subscribe(cli, user)

    refused = cli("subscriptions", "retry", subscription_id, "--json")

    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["error"]["code"] == "invalid_request"
