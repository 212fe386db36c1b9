"""Webhook payloads (issue 14, item 2): any valid signed JSON is stored and processed on both
databases, NUL characters and lone surrogates in any string included, losslessly; nesting
beyond the limit and bodies over the size limit are ``invalid_request`` and store nothing."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from payment_cli.cli import main
from payment_lib.db import Database
from payment_lib.db.tables import WebhookEvent
from payment_lib.testing import signature_header

SECRET = "whsec_cli_payloads_0123456789"


@pytest.fixture
def cli(database_url):
    def invoke(*args, input=None):
        env = {"PAYMENT_DATABASE_URL": database_url, "PAYMENT_WEBHOOK_SECRETS": SECRET}
        return CliRunner().invoke(main, list(args), input=input, env=env)

    return invoke


def receive(cli, payload: bytes, *extra: str):
    header = signature_header(payload, [SECRET], int(time.time()))
    return cli("webhooks", "receive", "--signature", header, *extra, input=payload)


def stored_payloads(database_url: str) -> list[dict]:
    database = Database(database_url)
    try:
        with database.unit_of_work() as uow:
            return [row.payload for row in uow.session.scalars(sa.select(WebhookEvent))]
    finally:
        database.dispose()


def event_with(obj: dict, event_id: str = "evt_1Payloads") -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": "customer.created",
        "created": int(time.time()),
        "data": {"object": {"id": "cus_1", **obj}},
    }


ODD_STRINGS = {
    "description": "before\u0000after",
    "only_nul": "\u0000",
    "key\u0000with_nul": "value",
    "lone_surrogate": "\ud800x",
    "looks_escaped": "\ue000json:\"\\u0000\"",
    "nested": [{"deep": "a\u0000b"}, "\u0000\u0000"],
}


def test_nul_characters_and_lone_surrogates_are_stored_losslessly_and_processed(
    cli, database_url
):
    event = event_with(ODD_STRINGS)
    payload = json.dumps(event).encode()

    received = receive(cli, payload, "--json")
    assert received.exit_code == 0, received.output
    assert json.loads(received.stdout)["duplicate"] is False

    assert stored_payloads(database_url) == [event]

    worked = cli("worker", "--once", "--json")
    assert worked.exit_code == 0, worked.output
    listed = json.loads(cli("webhooks", "list", "--json").stdout)["events"]
    assert [e["status"] for e in listed] == ["ignored"]
    assert stored_payloads(database_url) == [event]


def test_a_duplicate_with_nul_characters_is_recognised(cli):
    payload = json.dumps(event_with(ODD_STRINGS)).encode()
    assert receive(cli, payload).exit_code == 0
    again = receive(cli, payload, "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["duplicate"] is True


@pytest.mark.parametrize("depth", [65, 200, 5000, 200_000])
def test_nesting_beyond_the_limit_is_invalid_request_and_stores_nothing(
    cli, database_url, depth
):
    deep = "[" * depth + "]" * depth
    text = json.dumps(event_with({"deep": "X"})).replace('"X"', deep)
    result = receive(cli, text.encode(), "--json")

    assert result.exit_code == 2, result.output[-500:]
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "invalid_request"
    assert "nested" in error["message"]
    assert "Traceback" not in result.output
    assert stored_payloads(database_url) == []


def test_nesting_within_the_limit_is_stored(cli, database_url):
    event = event_with({"deep": json.loads("[" * 50 + "]" * 50)})
    result = receive(cli, json.dumps(event).encode())
    assert result.exit_code == 0, result.output
    assert stored_payloads(database_url) == [event]


def test_a_body_over_the_size_limit_is_invalid_request(cli, database_url):
    event = event_with({"padding": "x" * (1024 * 1024)})
    result = receive(cli, json.dumps(event).encode(), "--json")

    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "invalid_request"
    assert stored_payloads(database_url) == []


def test_an_event_id_with_a_nul_is_not_a_stripe_event(cli, database_url):
    result = receive(cli, json.dumps(event_with({}, "evt_\u0000x")).encode(), "--json")

    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"]["code"] == "invalid_request"
    assert stored_payloads(database_url) == []


def test_a_handled_event_whose_fields_hold_nul_characters_is_processed(cli):
    """The handler copies fields into text columns, which PostgreSQL keeps without NULs: the
    event is processed (each NUL read as U+FFFD there), not parked; the stored event keeps
    them."""
    event = {
        "id": "evt_1DisputeNul",
        "object": "event",
        "type": "charge.dispute.created",
        "created": int(time.time()),
        "data": {"object": {
            "id": "dp_1Nul", "object": "dispute", "amount": 2500, "currency": "eur",
            "balance_transactions": [], "charge": "ch_1Nul", "payment_intent": "pi_1Nul",
            "created": int(time.time()), "evidence_details": {"due_by": 1_900_000_000},
            "reason": "product_not_\u0000received", "status": "needs_response",
        }},
    }
    assert receive(cli, json.dumps(event).encode()).exit_code == 0

    worked = cli("worker", "--once", "--json")

    assert worked.exit_code == 0, worked.output
    listed = json.loads(cli("webhooks", "list", "--json").stdout)["events"]
    assert [e["status"] for e in listed] == ["processed"], listed
    shown = json.loads(cli("disputes", "show", "dp_1Nul", "--json").stdout)
    assert shown["reason"].replace("\ufffd", "\u0000") == "product_not_\u0000received"
