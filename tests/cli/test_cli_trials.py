"""payment-cli plans add --trial-days, subscriptions start-trial, and trials in show and
billing run."""

import datetime as dt
import json
import uuid

import pytest


@pytest.fixture
def cli(stripe_cli):
    return stripe_cli


def add_plan(cli, *extra):
    return cli("plans", "add", "pro-trial", "--name", "Pro", "--amount", "29.00",
               "--currency", "usd", "--interval", "month", *extra)


def test_plans_add_takes_trial_days_and_lists_them(cli):
    added = add_plan(cli, "--trial-days", "14", "--json")

    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["trial_days"] == 14
    listed = cli("plans", "list")
    assert "14-day trial" in listed.stdout
    assert json.loads(cli("plans", "list", "--json").stdout)["plans"][0]["trial_days"] == 14


@pytest.mark.parametrize("days", ["-1", "two", "1.5", "731"])
def test_plans_add_refuses_bad_trial_days_with_a_clear_error(cli, days):
    result = add_plan(cli, "--trial-days", days)

    assert result.exit_code == 2
    assert "trial" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(cli("plans", "list", "--json").stdout)["plans"] == []


def test_start_trial_with_a_card_shows_the_trials_end(cli):
    add_plan(cli, "--trial-days", "14")
    user = str(uuid.uuid4())

    started = cli("subscriptions", "start-trial", "--user", user, "--plan", "pro-trial",
                  "--payment-method", "pm_card_visa", "--email", "ada@example.com", "--json")

    assert started.exit_code == 0, started.stderr
    trial = json.loads(started.stdout)
    ends = dt.datetime.fromisoformat(trial["trial_ends_at"])
    assert trial["status"] == "trialing"
    assert trial["next_billing_date"] == trial["trial_ends_at"]
    shown = cli("subscriptions", "show", "--user", user).stdout
    assert "trialing" in shown and f"trial ends {ends:%Y-%m-%d}" in shown


def test_start_trial_with_a_declining_card_exits_2_and_starts_nothing(cli):
    add_plan(cli, "--trial-days", "14")
    user = str(uuid.uuid4())

    result = cli("subscriptions", "start-trial", "--user", user, "--plan", "pro-trial",
                 "--payment-method", "pm_card_chargeDeclined")

    assert result.exit_code == 2 and "declined" in result.stderr
    shown = json.loads(cli("subscriptions", "show", "--user", user, "--json").stdout)
    assert shown["subscriptions"] == []


def test_billing_run_reports_trial_reminders(cli):
    add_plan(cli, "--trial-days", "14")
    user = str(uuid.uuid4())
    trial = json.loads(cli("subscriptions", "start-trial", "--user", user, "--plan", "pro-trial",
                           "--email", "ada@example.com", "--json").stdout)
    ends = dt.datetime.fromisoformat(trial["trial_ends_at"])

    ran = cli("billing", "run", "--now", (ends - dt.timedelta(days=1)).isoformat(), "--json")

    assert json.loads(ran.stdout)["trial_reminders"] == 1
