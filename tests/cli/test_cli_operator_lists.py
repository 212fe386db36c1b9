"""The listing commands operators reach for (issue 14, item 6): payments, refunds,
subscriptions, notifications and webhook events, filtered and paged with a cursor; plans
update and archive. Each runs on SQLite and PostgreSQL (``database_url``)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from payment_cli.cli import main
from payment_lib.testing import signature_header

SECRET = "whsec_ops_0123456789abcdef"


@pytest.fixture
def cli(run, stripe_env):
    env = {**stripe_env, "PAYMENT_WEBHOOK_SECRETS": SECRET}

    def invoke(*args):
        return run(*args, env=env)

    assert invoke("plans", "seed-demo").exit_code == 0
    return invoke


def as_json(result):
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def pay(cli, user=None, amount="20.00", plan=None, method="pm_card_visa"):
    args = ["pay", "--user", user or str(uuid.uuid4()), "--amount", amount, "--currency", "usd",
            "--payment-method", method, "--idempotency-key", str(uuid.uuid4()), "--json"]
    if plan:
        args += ["--plan", plan]
    return json.loads(cli(*args).stdout)


def execute(database_url, statement, **values):
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(statement), values)
    finally:
        engine.dispose()


# payments list


def test_payments_list_without_a_user_lists_everyones_newest_first(cli):
    first, second = pay(cli), pay(cli)

    listed = as_json(cli("payments", "list", "--json"))

    assert [p["id"] for p in listed["payments"]] == [second["id"], first["id"]]
    assert listed["next_cursor"] is None


def test_payments_list_filters_by_status_user_and_time(cli):
    user = str(uuid.uuid4())
    paid = pay(cli, user)
    declined = pay(cli, user, method="pm_card_visa_chargeDeclined")
    pay(cli)  # someone else's

    failed = as_json(cli("payments", "list", "--status", "failed", "--json"))["payments"]
    mine = as_json(cli("payments", "list", "--user", user, "--json"))["payments"]
    later = as_json(cli("payments", "list", "--since", "2999-01-01T00:00:00Z", "--json"))
    earlier = as_json(cli("payments", "list", "--until", "2000-01-01T00:00:00Z", "--json"))

    assert [p["id"] for p in failed] == [declined["id"]]
    assert {p["id"] for p in mine} == {paid["id"], declined["id"]}
    assert later["payments"] == [] and earlier["payments"] == []


def test_payments_list_pages_with_a_cursor_and_misses_nothing(cli):
    made = [pay(cli)["id"] for _ in range(5)]

    seen, cursor = [], None
    for _ in range(5):
        args = ["payments", "list", "--limit", "2", "--json"]
        page = as_json(cli(*args, *(["--cursor", cursor] if cursor else [])))
        seen += [p["id"] for p in page["payments"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == made[::-1]


def test_payments_list_text_mode_prints_one_line_each_and_how_to_go_on(cli):
    pay(cli), pay(cli)

    result = cli("payments", "list", "--limit", "1")

    assert result.exit_code == 0
    assert "succeeded" in result.stdout and "--cursor" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--status", "done"],
        ["--since", "yesterday"],
        ["--cursor", "not-a-cursor"],
        ["--user", "nobody"],
        ["--since", "2027-01-02T00:00:00Z", "--until", "2027-01-01T00:00:00Z"],
    ],
)
def test_payments_list_refuses_bad_filters_with_exit_2(cli, args):
    result = cli("payments", "list", *args, "--json")

    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"]["code"] == "invalid_request"


# refunds list / show


def test_refunds_list_and_show(cli):
    payment = pay(cli)
    other = pay(cli)
    refund = as_json(cli("process-refund", payment["id"], "--amount", "5.00", "--json"))
    as_json(cli("process-refund", other["id"], "--json"))

    everyone = as_json(cli("refunds", "list", "--json"))["refunds"]
    of_payment = as_json(cli("refunds", "list", "--payment", payment["id"], "--json"))["refunds"]
    shown = as_json(cli("refunds", "show", refund["id"], "--json"))
    text = cli("refunds", "show", refund["id"]).stdout

    assert len(everyone) == 2 and everyone[0]["payment_id"] == other["id"]  # newest first
    assert [r["id"] for r in of_payment] == [refund["id"]]
    assert (shown["id"], shown["amount"], shown["status"]) == (refund["id"], "5.00", "succeeded")
    assert refund["id"] in text and "5.00 USD" in text
    assert cli("refunds", "list", "--status", "pending", "--json").exit_code == 0
    assert cli("refunds", "show", str(uuid.uuid4())).exit_code == 6


# subscriptions list


def test_subscriptions_list_filters_by_status_and_plan(cli):
    basic = pay(cli, amount="9.99", plan="basic-monthly")["subscription_id"]
    pro = pay(cli, amount="29.00", plan="pro-monthly")["subscription_id"]
    as_json(cli("subscriptions", "cancel", pro, "--json"))

    active = as_json(cli("subscriptions", "list", "--status", "active", "--json"))
    of_pro = as_json(cli("subscriptions", "list", "--plan", "pro-monthly", "--json"))

    assert [s["id"] for s in active["subscriptions"]] == [basic]
    assert [(s["id"], s["status"]) for s in of_pro["subscriptions"]] == [(pro, "cancelled")]
    assert cli("subscriptions", "list", "--status", "gone").exit_code == 2


# notifications list --status / resend


def test_notifications_list_by_status_and_resend_a_failed_one(cli, database_url):
    as_json(cli("pay", "--user", str(uuid.uuid4()), "--amount", "20.00", "--currency", "usd",
                "--payment-method", "pm_card_visa", "--idempotency-key", "n-1",
                "--email", "ada@example.com", "--json"))
    [queued] = as_json(cli("notifications", "list", "--json"))["notifications"]
    execute(database_url, "UPDATE notifications SET status = 'failed', attempts = 6, "
            "last_error = 'smtp down', next_attempt_at = NULL")

    failed = as_json(cli("notifications", "list", "--status", "failed", "--json"))
    resent = as_json(cli("notifications", "resend", queued["id"], "--json"))
    pending = as_json(cli("notifications", "list", "--status", "pending", "--json"))

    assert [n["id"] for n in failed["notifications"]] == [queued["id"]]
    assert (resent["id"], resent["status"], resent["attempts"]) == (queued["id"], "pending", 0)
    assert [n["id"] for n in pending["notifications"]] == [queued["id"]]


def test_resending_a_sent_or_unknown_email_is_refused_and_changes_nothing(cli, database_url):
    as_json(cli("pay", "--user", str(uuid.uuid4()), "--amount", "20.00", "--currency", "usd",
                "--payment-method", "pm_card_visa", "--idempotency-key", "n-2",
                "--email", "ada@example.com", "--json"))
    [queued] = as_json(cli("notifications", "list", "--json"))["notifications"]
    execute(database_url, "UPDATE notifications SET status = 'sent'")

    sent = cli("notifications", "resend", queued["id"], "--json")
    unknown = cli("notifications", "resend", str(uuid.uuid4()))
    malformed = cli("notifications", "resend", "nope")

    assert sent.exit_code == 4 and json.loads(sent.stdout)["error"]["code"] == "illegal_transition"
    assert unknown.exit_code == 6 and malformed.exit_code == 2
    [after] = as_json(cli("notifications", "list", "--json"))["notifications"]
    assert after["status"] == "sent"
    assert cli("notifications", "list", "--status", "lost").exit_code == 2


# webhooks list --type --since


def test_webhooks_list_filters_by_type_and_since(cli, database_url):
    runner = CliRunner()
    env = {"PAYMENT_WEBHOOK_SECRETS": SECRET, "PAYMENT_DATABASE_URL": database_url}
    for n, event_type in enumerate(["customer.created", "charge.succeeded"]):
        payload = json.dumps({"id": f"evt_ops_{n}", "object": "event", "type": event_type,
                              "created": int(time.time()), "data": {"object": {"id": "x"}}})
        signature = signature_header(payload.encode(), [SECRET], int(time.time()))
        result = runner.invoke(main, ["webhooks", "receive", "--signature", signature],
                               input=payload, env=env)
        assert result.exit_code == 0, result.output

    by_type = as_json(cli("webhooks", "list", "--type", "charge.succeeded", "--json"))
    since = as_json(cli("webhooks", "list", "--since", "2999-01-01T00:00:00Z", "--json"))
    paged = as_json(cli("webhooks", "list", "--limit", "1", "--json"))
    rest = as_json(cli("webhooks", "list", "--cursor", paged["next_cursor"], "--json"))

    assert [e["stripe_event_id"] for e in by_type["events"]] == ["evt_ops_1"]
    assert since["events"] == []
    assert [e["stripe_event_id"] for e in paged["events"] + rest["events"]] == [
        "evt_ops_0", "evt_ops_1"]


# plans update / archive


def test_plans_update_renames_and_archive_stops_new_purchases(cli):
    renamed = as_json(cli("plans", "update", "pro-monthly", "--name", "Pro+", "--json"))
    archived = as_json(cli("plans", "archive", "pro-monthly", "--json"))
    listed = {p["id"]: p for p in as_json(cli("plans", "list", "--json"))["plans"]}

    refused = cli("pay", "--user", str(uuid.uuid4()), "--amount", "29.00", "--currency", "usd",
                  "--payment-method", "pm_card_visa", "--idempotency-key", "buy-archived",
                  "--plan", "pro-monthly", "--json")

    assert renamed["name"] == "Pro+" and renamed["archived_at"] is None
    assert archived["archived_at"] is not None
    assert listed["pro-monthly"]["archived_at"] == archived["archived_at"]
    assert refused.exit_code == 2
    error = json.loads(refused.stdout)["error"]
    assert error["code"] == "invalid_request" and "archived" in error["message"]
    assert as_json(cli("payments", "list", "--json"))["payments"] == []  # nothing stored


def test_an_archived_plans_subscriptions_go_on_renewing(cli):
    user = str(uuid.uuid4())
    subscription = pay(cli, user, amount="9.99", plan="basic-monthly")["subscription_id"]
    as_json(cli("plans", "archive", "basic-monthly", "--json"))
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=40)).isoformat()

    report = as_json(cli("billing", "run", "--now", later, "--subscription", subscription,
                         "--json"))

    assert [p["status"] for p in report["charged"]] == ["succeeded"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["update", "nope", "--name", "X"], 6),
        (["update", "pro-monthly", "--name", ""], 2),
        (["update", "pro-monthly"], 2),
        (["archive", "nope"], 6),
    ],
)
def test_plans_update_and_archive_refuse_bad_input_and_change_nothing(cli, args, code):
    before = as_json(cli("plans", "list", "--json"))

    result = cli("plans", *args, "--json")

    assert result.exit_code == code, result.output
    assert as_json(cli("plans", "list", "--json")) == before
