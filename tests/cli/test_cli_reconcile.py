"""payment-cli reconcile over the emulator: exit 0 when the ledgers agree, 10 on drift."""

import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa
import test_cli_payments
from test_cli_payments import pay_args

run_pay = test_cli_payments.run_pay  # the fixture, shared with the payment commands' tests

pytestmark = pytest.mark.emulator_only


def paid(run_pay):
    result = run_pay(*pay_args(str(uuid.uuid4()), str(uuid.uuid4())), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def fail_in_our_record(database_url, payment_id):
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            key = uuid.UUID(payment_id)
            connection.execute(
                sa.text("UPDATE payments SET status = 'failed' WHERE id = :id"),
                {"id": key.hex if connection.dialect.name == "sqlite" else key},
            )
    finally:
        engine.dispose()


def test_agreeing_ledgers_exit_0(run_pay):
    paid(run_pay)

    result = run_pay("reconcile")

    assert result.exit_code == 0, result.output
    assert "no drift" in result.stdout and "1 PaymentIntent" in result.stdout


def test_drift_exits_10_and_fix_settles_it(run_pay, database_url):
    payment = paid(run_pay)
    fail_in_our_record(database_url, payment["id"])

    found = run_pay("reconcile", "--json")
    fixed = run_pay("reconcile", "--fix", "--json")
    after = run_pay("reconcile", "--json")

    assert (found.exit_code, fixed.exit_code, after.exit_code) == (10, 10, 0), found.output
    [drift] = json.loads(found.stdout)["drifts"]
    assert (drift["kind"], drift["payment_id"], drift["fixed"]) == (
        "status_differs",
        payment["id"],
        False,
    )
    assert json.loads(fixed.stdout)["drifts"][0]["fixed"] is True
    assert json.loads(after.stdout)["drifts"] == []


def test_the_window_is_given_in_iso_8601(run_pay, database_url):
    payment = paid(run_pay)
    fail_in_our_record(database_url, payment["id"])
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()

    later = run_pay("reconcile", "--since", tomorrow, "--until", tomorrow + "T12:00:00Z")
    bad = run_pay("reconcile", "--since", "yesterday", "--json")
    backwards = run_pay("reconcile", "--since", tomorrow, "--until", "2020-01-01")

    assert later.exit_code == 0, later.output
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"]["code"] == "invalid_request"
    assert backwards.exit_code == 2
