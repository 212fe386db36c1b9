"""payment-cli webhooks receive --from: many events at once (a backfill), all or nothing."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from test_cli_webhooks import ENV, event, signed

from payment_cli.cli import main


@pytest.fixture
def cli(database_url):
    runner = CliRunner()

    def invoke(*args, input=None):
        variables = {"PAYMENT_DATABASE_URL": database_url, **ENV}
        return runner.invoke(main, list(args), input=input, env=variables)

    assert invoke("db", "upgrade").exit_code == 0
    return invoke


def stored(database_url):
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = "SELECT stripe_event_id, signature_verified FROM webhook_events"
            return sorted(tuple(row) for row in connection.execute(sa.text(query)))
    finally:
        engine.dispose()


def delivery(event_id):
    payload = event(event_id)
    return json.dumps({"payload": payload.decode(), "signature": signed(payload)})


def test_signed_deliveries_are_verified_and_stored_once(cli, database_url, tmp_path):
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join([delivery("evt_a"), delivery("evt_b"), delivery("evt_a")]) + "\n")

    result = cli("webhooks", "receive", "--from", str(path), "--json")
    again = cli("webhooks", "receive", "--from", str(path), "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"received": 3, "stored": 2, "duplicates": 1}
    assert json.loads(again.stdout) == {"received": 3, "stored": 0, "duplicates": 3}
    assert stored(database_url) == [("evt_a", True), ("evt_b", True)]


def test_events_from_stripes_api_are_stored_unsigned_only_when_trusted(cli, database_url):
    lines = event("evt_api_1").decode() + "\n" + event("evt_api_2").decode() + "\n"

    refused = cli("webhooks", "receive", "--from", "-", "--json", input=lines)
    trusted = cli("webhooks", "receive", "--from", "-", "--trusted", input=lines)

    assert refused.exit_code == 2, refused.output
    assert json.loads(refused.stdout)["error"]["code"] == "invalid_request"
    assert "Line 1" in json.loads(refused.stdout)["error"]["message"]
    assert trusted.exit_code == 0, trusted.output
    assert "2 events read: 2 stored, 0 already stored" in trusted.stdout
    assert stored(database_url) == [("evt_api_1", False), ("evt_api_2", False)]


@pytest.mark.parametrize(
    ("bad_line", "code"),
    [
        ("not json", "invalid_request"),
        (json.dumps({"payload": event("evt_x").decode(), "signature": "t=1,v1=00"}), None),
    ],
)
def test_one_bad_line_names_its_number_and_stores_nothing(cli, database_url, bad_line, code):
    lines = "\n".join([delivery("evt_good"), bad_line]) + "\n"

    result = cli("webhooks", "receive", "--from", "-", "--json", input=lines)

    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == (code or "invalid_signature")
    assert error["message"].startswith("Line 2")
    assert stored(database_url) == []


def test_from_and_signature_together_is_a_usage_error(cli):
    result = cli("webhooks", "receive", "--from", "-", "--signature", "t=1,v1=0", input="")
    assert result.exit_code == 2
    assert "--signature is for one delivery" in result.output
