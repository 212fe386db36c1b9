"""payment-cli webhooks receive/list, replay-webhook and worker --once."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from payment_cli.cli import main
from payment_lib.testing import signature_header

SECRET = "whsec_cli_0123456789abcdef"
ENV = {"PAYMENT_WEBHOOK_SECRETS": SECRET}


def event(event_id="evt_cli_1", event_type="customer.created"):
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": {"id": "cus_1"}},
        }
    ).encode()


def signed(payload, secret=SECRET):
    return signature_header(payload, [secret], int(time.time()))


@pytest.fixture
def cli(run, database_url):
    """``run`` with stdin: ``cli("webhooks", "receive", ..., input=payload)``."""
    runner = CliRunner()

    def invoke(*args, input=None, env=None):
        variables = {"PAYMENT_DATABASE_URL": database_url, **ENV, **(env or {})}
        return runner.invoke(main, list(args), input=input, env=variables)

    assert invoke("db", "upgrade").exit_code == 0
    return invoke


def test_receive_reads_the_payload_from_stdin(cli):
    payload = event()
    result = cli("webhooks", "receive", "--signature", signed(payload), "--json", input=payload)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "stripe_event_id": "evt_cli_1",
        "event_type": "customer.created",
        "duplicate": False,
    }


def test_receive_reads_a_file_and_acknowledges_a_duplicate(cli, tmp_path):
    path = tmp_path / "event.json"
    path.write_bytes(event())
    header = signed(path.read_bytes())
    cli("webhooks", "receive", "--signature", header, "--file", str(path))
    again = cli("webhooks", "receive", "--signature", header, "--file", str(path))
    assert again.exit_code == 0
    assert "duplicate" in again.stdout and "evt_cli_1" in again.stdout


def test_a_bad_signature_exits_with_the_invalid_signature_code(cli):
    payload = event()
    result = cli(
        "webhooks",
        "receive",
        "--signature",
        signed(payload, "whsec_other_01234567"),
        env=ENV,
        input=payload,
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "[invalid_signature]" in result.stderr


def test_list_shows_events_as_json_and_unprocessed_only_on_request(cli):
    for n in range(2):
        payload = event(f"evt_cli_{n}")
        cli("webhooks", "receive", "--signature", signed(payload), input=payload)
    assert cli("replay-webhook", "evt_cli_0").exit_code == 0

    listed = json.loads(cli("webhooks", "list", "--json").stdout)
    waiting = json.loads(cli("webhooks", "list", "--unprocessed", "--json").stdout)

    assert [e["stripe_event_id"] for e in listed["events"]] == ["evt_cli_0", "evt_cli_1"]
    assert set(listed["events"][0]) >= {
        "stripe_event_id",
        "event_type",
        "processed",
        "processed_at",
        "attempts",
        "last_error",
        "created_at",
    }
    assert listed["events"][0]["processed"] is True
    assert [e["stripe_event_id"] for e in waiting["events"]] == ["evt_cli_1"]
    text = cli("webhooks", "list").stdout
    assert "evt_cli_1" in text and "customer.created" in text


def test_replaying_an_unknown_event_exits_not_found(cli):
    result = cli("replay-webhook", "evt_nope")
    assert result.exit_code == 6
    assert "[not_found]" in result.stderr


def test_worker_once_drains_the_inbox(cli):
    payload = event()
    cli("webhooks", "receive", "--signature", signed(payload), input=payload)

    result = cli("worker", "--once", "--json", env={"PAYMENT_SMTP_PORT": "1"})

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["webhooks"]["processed"] == 1


def test_list_filters_by_status_and_shows_each_events_status(cli):
    for n, event_type in enumerate(["customer.created", "charge.succeeded"]):
        payload = event(f"evt_cli_{n}", event_type)
        cli("webhooks", "receive", "--signature", signed(payload), input=payload)
    assert cli("replay-webhook", "evt_cli_0").exit_code == 0

    ignored = json.loads(cli("webhooks", "list", "--status", "ignored", "--json").stdout)
    pending = cli("webhooks", "list", "--status", "pending").stdout

    assert [(e["stripe_event_id"], e["status"]) for e in ignored["events"]] == [
        ("evt_cli_0", "ignored")
    ]
    assert "evt_cli_1" in pending and "pending" in pending and "evt_cli_0" not in pending


def test_list_refuses_an_unknown_status(cli):
    result = cli("webhooks", "list", "--status", "done")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
