"""Scripted ops jobs in bulk (issue 14, item 9): process-refund --from FILE, replay-webhook
--from FILE and webhooks replay --parked. One result line per input line (NDJSON with --json),
a summary, exit 1 when any line failed, safe to run again: done lines are replays."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from payment_cli.cli import main
from payment_lib.testing import signature_header

SECRET = "whsec_bulk_0123456789abcdef"


@pytest.fixture
def cli(database_url, stripe_target):
    runner = CliRunner()
    env = {
        "PAYMENT_DATABASE_URL": database_url,
        "PAYMENT_STRIPE_API_KEY": stripe_target.api_key,
        "PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS": "0.01",
        "PAYMENT_WEBHOOK_SECRETS": SECRET,
    }
    if stripe_target.api_base:
        env["PAYMENT_STRIPE_API_BASE"] = stripe_target.api_base

    def invoke(*args, input=None):
        return runner.invoke(main, list(args), input=input, env=env)

    return invoke


def pay(cli, amount="20.00"):
    result = cli("pay", "--user", str(uuid.uuid4()), "--amount", amount, "--currency", "usd",
                 "--payment-method", "pm_card_visa", "--idempotency-key", str(uuid.uuid4()),
                 "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["id"]


def results(result):
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return lines[:-1], lines[-1]["summary"]


def refunded(cli, payment_id):
    return json.loads(cli("payments", "show", payment_id, "--json").stdout)["amount_refunded"]


def test_a_csv_file_refunds_each_line_and_reports_each(cli, tmp_path):
    full, partial = pay(cli), pay(cli)
    source = tmp_path / "refunds.csv"
    source.write_text(
        "payment_id,amount,reason,note\n"
        f"{full},,requested_by_customer,ticket 1\n"
        f"{partial},5.00,,\"ticket 2, partial\"\n"
    )

    result = cli("process-refund", "--from", str(source), "--operator", "olga", "--json")

    assert result.exit_code == 0, result.output
    lines, summary = results(result)
    assert [(r["line"], r["outcome"], r["refund"]["amount"]) for r in lines] == [
        (2, "refunded", "20.00"), (3, "refunded", "5.00")]
    assert lines[1]["refund"]["note"] == "ticket 2, partial"
    assert lines[0]["refund"]["requested_by"] == "olga"
    assert summary == {"lines": 2, "refunded": 2, "replayed": 0, "failed": 0}
    assert (refunded(cli, full), refunded(cli, partial)) == ("20.00", "5.00")


def test_ndjson_on_stdin_and_a_rerun_only_replays(cli):
    payment = pay(cli)
    text = "\n".join(json.dumps(line) for line in [
        {"payment_id": payment, "amount": "5.00", "key": "batch-7-a"},
        {"payment_id": payment, "amount": "5.00", "key": "batch-7-b"},
    ]) + "\n"

    first = cli("process-refund", "--from", "-", "--json", input=text)
    again = cli("process-refund", "--from", "-", "--json", input=text)

    assert first.exit_code == 0 and again.exit_code == 0, (first.output, again.output)
    assert [r["outcome"] for r in results(first)[0]] == ["refunded", "refunded"]
    assert [r["outcome"] for r in results(again)[0]] == ["replayed", "replayed"]
    assert results(again)[1]["replayed"] == 2
    assert refunded(cli, payment) == "10.00"


def test_bad_lines_fail_alone_change_nothing_and_exit_1(cli, tmp_path, database_url):
    payment = pay(cli)
    source = tmp_path / "refunds.csv"
    source.write_text(
        "not-a-uuid,5.00\n"
        f"{payment},abc\n"
        f"{payment},5.00,because\n"
        "{broken json\n"
        f"{payment},5.00\n"
        f"{payment},20.00\n"
    )

    result = cli("process-refund", "--from", str(source), "--json")

    assert result.exit_code == 1
    lines, summary = results(result)
    assert [r["outcome"] for r in lines] == ["failed"] * 4 + ["refunded", "failed"]
    assert [r["error"]["code"] for r in lines if r["error"]] == [
        "invalid_request", "invalid_request", "invalid_request", "invalid_request",
        "already_refunded"]
    assert summary == {"lines": 6, "refunded": 1, "replayed": 0, "failed": 5}
    assert refunded(cli, payment) == "5.00"
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM refunds")).scalar() == 1
    engine.dispose()


def test_text_mode_prints_a_line_each_and_a_summary(cli, tmp_path):
    payment = pay(cli)
    source = tmp_path / "refunds.csv"
    source.write_text(f"{payment},5.00\n\n# a comment\nnope\n")

    result = cli("process-refund", "--from", str(source))

    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert out[0].startswith("line 1: refunded 5.00 USD")
    assert out[1].startswith("line 4: failed: ") and "[invalid_request]" in out[1]
    assert out[-1] == "2 lines: 1 refunded, 0 replayed, 1 failed"


@pytest.mark.parametrize(
    "args",
    [
        ["--from", "-", "3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b"],
        ["--from", "-", "--amount", "5.00"],
        [],
    ],
)
def test_from_with_a_single_refunds_options_or_neither_exits_2(cli, args):
    result = cli("process-refund", *args, input="")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def receive(cli, event_id, event_type="customer.created"):
    payload = json.dumps({"id": event_id, "object": "event", "type": event_type,
                          "created": int(time.time()), "data": {"object": {"id": "cus_1"}}})
    signature = signature_header(payload.encode(), [SECRET], int(time.time()))
    assert cli("webhooks", "receive", "--signature", signature, input=payload).exit_code == 0


def park(database_url):
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "UPDATE webhook_events SET status = 'parked', next_attempt_at = NULL, attempts = 6, "
            "last_error = 'boom'"))
    engine.dispose()


def test_replay_webhook_from_a_file(cli, tmp_path):
    receive(cli, "evt_bulk_1"), receive(cli, "evt_bulk_2")
    source = tmp_path / "events.txt"
    source.write_text("evt_bulk_1\nevt_bulk_2\nevt_unknown\n")

    result = cli("replay-webhook", "--from", str(source), "--json")
    again = cli("replay-webhook", "--from", str(source), "--json")

    assert result.exit_code == 1
    lines, summary = results(result)
    assert [(r["event_id"], r["outcome"]) for r in lines] == [
        ("evt_bulk_1", "processed"), ("evt_bulk_2", "processed"), ("evt_unknown", "failed")]
    assert lines[2]["error"]["code"] == "not_found"
    assert summary == {"lines": 3, "processed": 2, "failed": 1}
    assert results(again)[1] == summary


def test_webhooks_replay_parked_replays_every_parked_event(cli, database_url):
    for n in range(3):
        receive(cli, f"evt_parked_{n}")
    park(database_url)

    result = cli("webhooks", "replay", "--parked", "--json")
    listed = json.loads(cli("webhooks", "list", "--status", "parked", "--json").stdout)

    assert result.exit_code == 0, result.output
    lines, summary = results(result)
    assert [r["event_id"] for r in lines] == [f"evt_parked_{n}" for n in range(3)]
    assert summary == {"lines": 3, "processed": 3, "failed": 0}
    assert listed["events"] == []
    assert cli("webhooks", "replay").exit_code == 2  # says which events


def test_a_card_number_in_a_line_fails_that_line_and_is_never_printed(cli, tmp_path):
    payment = pay(cli)
    source = tmp_path / "refunds.ndjson"
    source.write_text(
        json.dumps({"payment_id": payment, "amount": "5.00", "note": "card 4242424242424242"})
        + "\n" + f"{payment},5.00,,4242 4242 4242 4242\n"
        + json.dumps({"payment_id": payment, "card": "4242424242424242"}) + "\n"
        + json.dumps({"payment_id": "4242424242424242"}) + "\n"
        + "4242-4242-4242-4242,5.00\n"
    )

    result = cli("process-refund", "--from", str(source), "--json")

    assert result.exit_code == 1
    lines, _ = results(result)
    assert [r["error"]["code"] for r in lines] == ["invalid_request"] * 5
    assert "4242" not in result.output.replace(payment, "")
    assert refunded(cli, payment) == "0.00"


def test_a_card_number_as_an_event_id_is_never_printed(cli):
    result = cli("replay-webhook", "--from", "-", "--json",
                 input="4242424242424242\n" + json.dumps({"event_id": "4242 4242 4242 4242"}))

    assert result.exit_code == 1
    lines, _ = results(result)
    assert [(r["event_id"], r["outcome"]) for r in lines] == [(None, "failed")] * 2
    assert "4242" not in result.output


def _run_with_terminal_stderr(database_url, tmp_path, stdout_terminal):
    """replay-webhook --from in a process whose stderr (and stdout, if asked) is a terminal."""
    import os
    import pty
    import subprocess
    import sys

    source = tmp_path / "events.txt"
    source.write_text("".join(f"evt_missing_{n}\n" for n in range(20)))
    leader, follower = pty.openpty()
    argv = [sys.executable, "-m", "payment_cli", "--database-url", database_url,
            "replay-webhook", "--from", str(source)]
    process = subprocess.run(argv, stdout=follower if stdout_terminal else subprocess.PIPE,
                             stderr=follower, timeout=120, check=False)
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    return process, screen.decode(errors="replace")


def test_a_progress_bar_on_a_terminal_while_the_results_go_to_a_file(database_url, tmp_path):
    process, terminal = _run_with_terminal_stderr(database_url, tmp_path, stdout_terminal=False)

    assert process.returncode == 1
    assert len(process.stdout.decode().splitlines()) == 21  # 20 results and the summary
    assert "events" in terminal and "100%" in terminal


def test_no_bar_when_the_results_share_the_terminal(database_url, tmp_path):
    _, terminal = _run_with_terminal_stderr(database_url, tmp_path, stdout_terminal=True)

    assert "100%" not in terminal and "20 lines: 0 processed, 20 failed" in terminal
