"""Webhook backfill on PostgreSQL: ``Payments.receive_webhooks`` (``payment-cli webhooks
receive --from``) storing N events at once, signed deliveries and trusted API events.

For each kind, N events (``payment_intent.succeeded``, as webhooks_throughput.py makes them)
are given as NDJSON lines to one call, into an empty inbox: events/s and this process's CPU
milliseconds per event. Every line is verified (signed) or parsed (trusted), scrubbed, and
stored in one transaction.

PostgreSQL: a throwaway cluster from tests/postgres_cluster.py, or the server at
``--database-url`` (a fresh database is created and dropped there).

Usage: .venv/bin/python benchmarks/webhooks_backfill.py [--events 20000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from payments_load import fresh_database, postgres_server
from sqlalchemy import text
from webhooks_throughput import SECRET, pending_payments, succeeded_event

from payment_lib import Payments, Settings, configure_logging
from payment_lib.testing import signature_header


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="events per backfill")
    parser.add_argument("--database-url", help="admin URL of a PostgreSQL server")
    options = parser.parse_args()
    configure_logging("warning")
    with postgres_server(options.database_url) as admin_url, fresh_database(admin_url) as url:
        settings = Settings(database_url=url, webhook_secrets=[SECRET])
        with Payments.from_settings(settings) as payments:
            payments.upgrade_database()
            bodies = [succeeded_event(*made) for made in pending_payments(payments, options.events)]
            now = int(time.time())
            signed = [
                json.dumps({"payload": b.decode(), "signature": signature_header(b, [SECRET], now)})
                for b in bodies
            ]
            print(f"{'events':>7} {'kind':>8} {'events/s':>9} {'CPU ms':>7}")
            for kind, lines in (("signed", signed), ("trusted", bodies)):
                with payments.database.engine.begin() as connection:
                    connection.execute(text("DELETE FROM webhook_events"))
                started, cpu = time.perf_counter(), time.process_time()
                report = payments.receive_webhooks(lines, trusted=kind == "trusted")
                seconds, used = time.perf_counter() - started, time.process_time() - cpu
                if report.stored != len(lines):
                    raise SystemExit(f"{kind}: {report.stored} of {len(lines)} stored")
                print(
                    f"{len(lines):>7} {kind:>8} {len(lines) / seconds:>9.0f}"
                    f" {used * 1000 / len(lines):>7.3f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
