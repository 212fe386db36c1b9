"""payment-cli db and plans commands: text by default, one JSON object with --json."""

import json

import pytest

from payment_lib import Payments


def test_db_current_reports_the_head_revision(run):
    result = run("db", "current", "--json")
    assert result.exit_code == 0, result.stderr
    head = Payments.latest_revision()
    assert json.loads(result.stdout) == {"revision": head, "head": head, "up_to_date": True}


def test_plans_add_then_list_as_json(run):
    added = run(
        "plans",
        "add",
        "basic-monthly",
        "--name",
        "Basic",
        "--amount",
        "9.99",
        "--currency",
        "USD",
        "--interval",
        "month",
        "--json",
    )
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout) == {
        "id": "basic-monthly",
        "name": "Basic",
        "amount": "9.99",
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "trial_days": 0,
        "archived_at": None,
    }
    listed = run("plans", "list", "--json")
    assert [p["id"] for p in json.loads(listed.stdout)["plans"]] == ["basic-monthly"]


def test_plans_list_prints_a_readable_table(run):
    run("plans", "seed-demo")
    result = run("plans", "list")
    assert result.exit_code == 0
    assert "basic-monthly" in result.stdout and "9.99 USD" in result.stdout


def test_seed_demo_adds_plans_once(run):
    first = json.loads(run("plans", "seed-demo", "--json").stdout)
    second = json.loads(run("plans", "seed-demo", "--json").stdout)
    assert {p["id"] for p in first["plans"]} >= {"basic-monthly", "pro-yearly"}
    assert second["plans"] == []
    listed = json.loads(run("plans", "list", "--json").stdout)["plans"]
    assert len(listed) == len(first["plans"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--amount", "9.999"], "at most 2 decimals"),
        (["--amount", "abc"], "positive decimal number"),
        (["--currency", "zzz"], "not supported"),
        (["--interval-count", "0"], "interval_count"),
    ],
)
def test_bad_plan_input_gets_one_line_exit_2_and_changes_nothing(run, args, message):
    base = {"--name": "Basic", "--amount": "9.99", "--currency": "usd", "--interval": "month"}
    flags = dict(zip(args[::2], args[1::2], strict=True))
    argv = [item for pair in {**base, **flags}.items() for item in pair]
    result = run("plans", "add", "basic", *argv)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert json.loads(run("plans", "list", "--json").stdout) == {"plans": []}


def test_errors_under_json_are_one_json_object(run):
    run(
        "plans",
        "add",
        "basic",
        "--name",
        "B",
        "--amount",
        "9.99",
        "--currency",
        "usd",
        "--interval",
        "month",
    )
    result = run(
        "plans",
        "add",
        "basic",
        "--name",
        "B",
        "--amount",
        "9.99",
        "--currency",
        "usd",
        "--interval",
        "month",
        "--json",
    )
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "invalid_request" and "already exists" in error["message"]


def test_a_bad_setting_fails_in_one_line_naming_the_variable(run):
    result = run("plans", "list", env={"PAYMENT_RATE_LIMIT_PER_HOUR": "lots"})
    assert result.exit_code == 8
    assert result.stderr.startswith("error: PAYMENT_RATE_LIMIT_PER_HOUR:")
    assert result.stderr.count("\n") == 1


def test_db_downgrade_then_upgrade(run):
    assert run("db", "downgrade", "base").exit_code == 0
    assert json.loads(run("db", "current", "--json").stdout)["revision"] is None
    assert run("db", "upgrade").exit_code == 0
    assert json.loads(run("db", "current", "--json").stdout)["up_to_date"] is True


@pytest.mark.parametrize("interval", ["0", "-1", "nan", "inf"])
def test_the_worker_refuses_an_interval_that_would_spin_or_never_wake(run, interval):
    result = run("worker", "--interval", interval)
    assert result.exit_code == 2
    assert "interval" in result.output.lower()
