"""payment-cli doctor and stats (issue 14, item 6): what a monitor asks of a deployment, and
the worker's heartbeat that says one is running. On SQLite and PostgreSQL; real SMTP (aiosmtpd)
on loopback, the emulator for Stripe."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from payment_cli.cli import main
from payment_lib import Payments
from payment_lib.testing import signature_header

SECRET = "whsec_doctor_0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


@pytest.fixture
def smtp_port():
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def healthy_env(database_url, stripe_target, smtp_port):
    env = {
        "PAYMENT_DATABASE_URL": database_url,
        "PAYMENT_STRIPE_API_KEY": stripe_target.api_key,
        "PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS": "0.01",
        "PAYMENT_WEBHOOK_SECRETS": SECRET,
        "PAYMENT_SMTP_HOST": "127.0.0.1",
        "PAYMENT_SMTP_PORT": str(smtp_port),
    }
    if stripe_target.api_base:
        env["PAYMENT_STRIPE_API_BASE"] = stripe_target.api_base
    return env


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(env, *args, input=None):
        return runner.invoke(main, list(args), env=env, input=input)

    return invoke


def checks(result):
    report = json.loads(result.stdout)
    return report, {c["name"]: c for c in report["checks"]}


def test_doctor_passes_on_a_healthy_deployment_after_a_worker_pass(cli, healthy_env):
    assert cli(healthy_env, "worker", "--once").exit_code == 0

    result = cli(healthy_env, "doctor", "--json")

    assert result.exit_code == 0, result.output
    report, by_name = checks(result)
    assert set(by_name) == {"database", "migrations", "stripe", "webhook_secrets", "smtp",
                            "worker", "backlog"}
    assert report["status"] == "ok"
    assert all(c["status"] == "ok" for c in by_name.values()), by_name
    text = cli(healthy_env, "doctor")
    assert text.exit_code == 0 and "ok" in text.stdout and "worker" in text.stdout


@pytest.mark.emulator_only
def test_doctor_names_each_failure_and_exits_12_never_printing_secrets(
    cli, database_url, stripe_target
):
    env = {
        "PAYMENT_DATABASE_URL": database_url,
        "PAYMENT_STRIPE_API_KEY": "sk_live_wrong_key_123456",  # the emulator refuses it: 401
        "PAYMENT_STRIPE_API_BASE": stripe_target.api_base,
        "PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS": "0.01",
        "PAYMENT_SMTP_HOST": "127.0.0.1",
        "PAYMENT_SMTP_PORT": str(free_port()),
    }

    result = cli(env, "doctor", "--json")

    assert result.exit_code == 12, result.output
    report, by_name = checks(result)
    assert report["status"] == "failed"
    for name in ("stripe", "webhook_secrets", "smtp", "worker"):
        assert by_name[name]["status"] == "failed", by_name[name]
    assert by_name["database"]["status"] == "ok"
    assert "wrong_key" not in result.output
    assert "Traceback" not in result.output


def test_doctor_reports_an_unreachable_or_unmigrated_database(cli, tmp_path, healthy_env):
    empty = {**healthy_env, "PAYMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    down = {**healthy_env,
            "PAYMENT_DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x"}

    unmigrated = cli(empty, "doctor", "--json")
    unreachable = cli(down, "doctor", "--json")

    assert unmigrated.exit_code == 12 and unreachable.exit_code == 12
    assert checks(unmigrated)[1]["migrations"]["status"] == "failed"
    assert "db upgrade" in checks(unmigrated)[1]["migrations"]["detail"]
    assert checks(unreachable)[1]["database"]["status"] == "failed"
    assert "Traceback" not in unreachable.output


def test_a_parked_event_is_a_warning_exit_11(cli, healthy_env, database_url):
    payload = json.dumps({"id": "evt_doc_1", "object": "event", "type": "customer.created",
                          "created": int(time.time()), "data": {"object": {"id": "c"}}})
    signature = signature_header(payload.encode(), [SECRET], int(time.time()))
    assert cli(healthy_env, "webhooks", "receive", "--signature", signature,
               input=payload).exit_code == 0
    assert cli(healthy_env, "worker", "--once").exit_code == 0
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE webhook_events SET status = 'parked', "
                                   "processed = false, next_attempt_at = NULL"))
    engine.dispose()

    result = cli(healthy_env, "doctor", "--json")

    assert result.exit_code == 11, result.output
    report, by_name = checks(result)
    assert report["status"] == "warning" and by_name["backlog"]["status"] == "warning"
    assert "1 parked" in by_name["backlog"]["detail"]


def test_stats_counts_queues_parked_events_and_the_last_reconciles_drift(cli, healthy_env):
    user = str(uuid.uuid4())
    for n, method in enumerate(["pm_card_visa", "pm_card_visa", "pm_card_chargeDeclined"]):
        cli(healthy_env, "pay", "--user", user, "--amount", "20.00", "--currency", "usd",
            "--payment-method", method, "--idempotency-key", f"s-{n}")
    assert cli(healthy_env, "reconcile", "--json").exit_code in (0, 10)
    assert cli(healthy_env, "worker", "--once").exit_code == 0

    result = cli(healthy_env, "stats", "--json")

    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["payments"] == {"succeeded": 2, "failed": 1}
    assert stats["parked_events"] == 0
    assert {"webhooks", "notifications", "unsettled_payments", "pending_refunds"} <= set(
        stats["queues"])
    assert stats["queues"]["webhooks"] == {"depth": 0, "oldest_age_seconds": None}
    assert stats["webhook_lag_seconds"] is None
    assert stats["last_reconcile"]["drift"] == {}
    assert stats["last_reconcile"]["finished_at"]
    assert len(stats["workers"]) == 1
    text = cli(healthy_env, "stats").stdout
    assert "payments" in text and "succeeded 2" in text


def test_a_worker_pass_records_its_heartbeat(settings):
    with Payments.from_settings(settings, registry=CollectorRegistry()) as payments:
        payments.run_worker_once()
        payments.run_worker_once()
        stats = payments.operations_stats()

    [worker] = stats.workers  # written at most every 5 s: the second pass is counted later
    assert worker["passes"] == 1 and worker["seen_at"] and worker["started_at"]
