"""Webhook throughput on PostgreSQL: receiving (one process) and draining (1 and 2 workers).

For each run, N payments are stored as ``pending`` (their Stripe answers "lost") and N signed
``payment_intent.succeeded`` events are made for them, as Stripe would send them.

- receive: ``Payments.receive_webhook`` for every event from one thread of this process
  (verify the signature with the SDK, parse, INSERT ... ON CONFLICT): events/s.
- drain: K ``payment-cli worker`` processes are started and left idle until they are up; then
  the stored events are made due at once and the time until every event is processed (each
  payment moved to ``succeeded`` in the event's transaction) gives events/s.

PostgreSQL: a throwaway cluster from tests/postgres_cluster.py, or the server at
``--database-url`` (a fresh database per run is created and dropped there).
Exits 1 if any event is left unprocessed or any payment did not succeed.

Usage: .venv/bin/python benchmarks/webhooks_throughput.py [--events 2000] [--workers 1,2]
       [--database-url postgresql+psycopg://...] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from payments_load import fresh_database, postgres_server
from sqlalchemy import insert, text

from payment_lib import Payments, Settings, configure_logging
from payment_lib.db.tables import Payment
from payment_lib.testing import signature_header

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_benchmark_0123456789"  # noqa: S105 (signs the benchmark's own events)
STARTUP_SECONDS = 30


def pending_payments(payments: Payments, count: int) -> list[tuple[uuid.UUID, str]]:
    """``count`` pending payments with their PaymentIntent ids, inserted in one statement."""
    rows = []
    for n in range(count):
        payment_id = uuid.uuid4()
        rows.append(
            {
                "id": payment_id,
                "user_id": uuid.uuid4(),
                "amount": 2000,
                "currency": "usd",
                "status": "pending",
                "kind": "payment",
                "idempotency_key": f"bench-{payment_id}",
                "request_fingerprint": "bench",
                "amount_refunded": 0,
                "details": {"payment_method": "pm_card_visa"},
                "stripe_transaction_id": f"pi_bench_{n}_{payment_id.hex[:8]}",
            }
        )
    with payments.database.engine.begin() as connection:
        connection.execute(insert(Payment), rows)
    return [(row["id"], row["stripe_transaction_id"]) for row in rows]


def succeeded_event(payment_id: uuid.UUID, intent_id: str) -> bytes:
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": intent_id,
                    "object": "payment_intent",
                    "amount": 2000,
                    "currency": "usd",
                    "status": "succeeded",
                    "payment_method": "pm_card_visa",
                    "metadata": {"payment_id": str(payment_id)},
                }
            },
        }
    ).encode()


def count(payments: Payments, sql: str) -> int:
    with payments.database.engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def start_workers(database_url: str, number: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    env |= {"PAYMENT_DATABASE_URL": database_url, "PAYMENT_WEBHOOK_SECRETS": SECRET}
    workers = []
    for n in range(number):
        with open(log_dir / f"worker-{n}.log", "w") as log:
            command = [sys.executable, "-m", "payment_cli", "--log-level", "info", "worker"]
            workers.append(
                subprocess.Popen(
                    [*command, "--interval", "0.05"], env=env, stdout=log, stderr=log, cwd=ROOT
                )
            )
    deadline = time.monotonic() + STARTUP_SECONDS
    for n in range(number):
        while "worker started" not in (log_dir / f"worker-{n}.log").read_text():
            if time.monotonic() > deadline:
                raise SystemExit("a worker did not start")
            time.sleep(0.05)
    return workers


def run(admin_url: str, events: int, workers: int, log_dir: Path) -> dict[str, float]:
    with fresh_database(admin_url) as url:
        settings = Settings(database_url=url, webhook_secrets=[SECRET])
        with Payments.from_settings(settings) as payments:
            payments.upgrade_database()
            bodies = [succeeded_event(*made) for made in pending_payments(payments, events)]
            headers = [signature_header(b, [SECRET], int(time.time())) for b in bodies]
            payments.receive_webhook(bodies[0], headers[0])  # import the SDK before timing
            started = time.perf_counter()
            for body, header in zip(bodies[1:], headers[1:], strict=True):
                payments.receive_webhook(body, header)
            receive_seconds = time.perf_counter() - started
            with payments.database.engine.begin() as connection:
                connection.execute(text("UPDATE webhook_events SET next_attempt_at = 'infinity'"))
            running = start_workers(url, workers, log_dir)
            try:
                started = time.perf_counter()
                with payments.database.engine.begin() as connection:
                    connection.execute(text("UPDATE webhook_events SET next_attempt_at = now()"))
                while count(payments, "SELECT count(*) FROM webhook_events WHERE NOT processed"):
                    time.sleep(0.01)
                drain_seconds = time.perf_counter() - started
            finally:
                for worker in running:
                    worker.terminate()
                for worker in running:
                    worker.wait(timeout=30)
            succeeded = count(payments, "SELECT count(*) FROM payments WHERE status='succeeded'")
    if succeeded != events:
        raise SystemExit(f"only {succeeded} of {events} payments succeeded")
    return {
        "events": events,
        "workers": workers,
        "receive_events_per_second": round((events - 1) / receive_seconds, 1),
        "drain_events_per_second": round(events / drain_seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per run (2000)")
    parser.add_argument("--workers", default="1,2", help="worker processes per run (1,2)")
    parser.add_argument("--database-url", help="admin URL of a PostgreSQL server")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options = parser.parse_args()
    configure_logging("warning")  # as in production: info lines for every event cost time
    log_dir = Path(tempfile.mkdtemp(prefix="webhooks_throughput_"))
    with postgres_server(options.database_url) as admin_url:
        results = [
            run(admin_url, options.events, int(workers), log_dir)
            for workers in options.workers.split(",")
        ]
    if options.json:
        print(json.dumps(results))
    else:
        print(f"{'events':>7} {'workers':>7} {'receive ev/s':>13} {'drain ev/s':>11}")
        for r in results:
            print(
                f"{r['events']:>7} {r['workers']:>7} {r['receive_events_per_second']:>13} "
                f"{r['drain_events_per_second']:>11}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
