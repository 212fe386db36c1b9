"""payment-cli disputes list/show, on disputes the worker learned from signed webhooks."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from payment_cli.cli import main
from payment_lib.testing import signature_header

SECRET = "whsec_cli_disputes_0123456789"
DUE_BY = 1_900_000_000


def dispute_event(dispute_id, status, *, created, amount=2500):
    return json.dumps(
        {
            "id": f"evt_{dispute_id}_{status}",
            "object": "event",
            "type": "charge.dispute.created",
            "created": created,
            "data": {
                "object": {
                    "id": dispute_id,
                    "object": "dispute",
                    "amount": amount,
                    "currency": "eur",
                    "balance_transactions": [],
                    "charge": f"ch_{dispute_id}",
                    "payment_intent": f"pi_{dispute_id}",
                    "created": created,
                    "evidence_details": {"due_by": DUE_BY},
                    "reason": "product_not_received",
                    "status": status,
                }
            },
        }
    ).encode()


@pytest.fixture
def cli(database_url):
    runner = CliRunner()

    def invoke(*args, input=None):
        env = {"PAYMENT_DATABASE_URL": database_url, "PAYMENT_WEBHOOK_SECRETS": SECRET}
        return runner.invoke(main, list(args), input=input, env=env)

    assert invoke("db", "upgrade").exit_code == 0
    now = int(time.time())
    for n, (dispute_id, status) in enumerate(
        [("dp_cli_1", "lost"), ("du_cli_2", "warning_closed")]
    ):
        payload = dispute_event(dispute_id, status, created=now + n)
        header = signature_header(payload, [SECRET], int(time.time()))
        assert invoke("webhooks", "receive", "--signature", header, input=payload).exit_code == 0
        time.sleep(0.01)  # listed newest first: keep the order unambiguous
        assert invoke("worker", "--once").exit_code == 0
    return invoke


def test_list_shows_the_disputes_newest_first_as_json(cli):
    result = cli("disputes", "list", "--json")

    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["disputes"]
    assert [(d["stripe_dispute_id"], d["status"]) for d in listed] == [
        ("du_cli_2", "warning_closed"),
        ("dp_cli_1", "lost"),
    ]
    assert (listed[1]["amount"], listed[1]["currency"]) == ("25.00", "eur")
    assert listed[1]["payment_id"] is None  # not a payment this library made


def test_list_filters_by_status_and_prints_one_line_each(cli):
    lost = cli("disputes", "list", "--status", "lost")
    none = cli("disputes", "list", "--status", "won")

    assert lost.exit_code == 0
    assert "dp_cli_1" in lost.stdout and "25.00 EUR" in lost.stdout
    assert "du_cli_2" not in lost.stdout
    assert none.stdout.strip() == "no disputes"


def test_list_refuses_an_unknown_status(cli):
    result = cli("disputes", "list", "--status", "closed")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_show_finds_a_dispute_by_stripes_id_or_ours(cli):
    by_stripe_id = json.loads(cli("disputes", "show", "dp_cli_1", "--json").stdout)
    by_id = cli("disputes", "show", by_stripe_id["id"])

    assert by_stripe_id["reason"] == "product_not_received"
    assert by_stripe_id["evidence_due_by"] == "2030-03-17T17:46:40+00:00"
    assert by_id.exit_code == 0
    assert "dp_cli_1" in by_id.stdout and "lost" in by_id.stdout
    assert "2030-03-17" in by_id.stdout


def test_show_of_an_unknown_dispute_exits_not_found_with_one_line(cli):
    text = cli("disputes", "show", "dp_nope")
    as_json = cli("disputes", "show", "dp_nope", "--json")

    assert (text.exit_code, as_json.exit_code) == (6, 6)
    assert text.stderr.startswith("error: ") and text.stderr.strip().endswith("[not_found]")
    assert len(text.stderr.strip().splitlines()) == 1
    assert json.loads(as_json.stdout)["error"]["code"] == "not_found"
