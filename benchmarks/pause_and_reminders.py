"""Pause resumes and card-expiring reminders at scale: the billing run's resume pass and the
worker's reminder pass over many subscriptions, timed on a real database.

N subscriptions with a saved card each are inserted directly (no Stripe: nothing here
charges). Timed, in order:

- ``run_billing`` with nothing paused and nothing due: what the resume pass adds to every run
  (one indexed query), next to the run itself;
- ``remind_expiring_cards`` with every card expiring next month: N emails queued in one pass;
  then the same pass again (every card reminded before: left out by the query, none queued;
  on PostgreSQL after an ``ANALYZE``, as autovacuum would have run one);
- ``run_billing`` with all N paused and their pause ended (next billing dates far away, so
  only resumes happen): N resumes, N emails, in batches of 100.

The database is an SQLite file by default; ``--postgres`` starts a throwaway PostgreSQL cluster
(tests/postgres_cluster.py), ``--database-url`` names a server where a fresh database is created
and dropped. Exits 1 when a pass does not do exactly N things.

Usage: .venv/bin/python benchmarks/pause_and_reminders.py [--subscriptions 2000] [--postgres |
       --database-url postgresql+psycopg://...] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from payments_load import fresh_database, postgres_server
from prometheus_client import CollectorRegistry
from sqlalchemy import insert, text

from payment_lib import Payments, Settings, configure_logging
from payment_lib.db.tables import PaymentMethod, Plan, Subscription

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str]:
    if args.postgres or args.database_url:
        with postgres_server(args.database_url) as admin, fresh_database(admin) as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


def seed(payments: Payments, count: int, expiry: dt.datetime) -> None:
    """``count`` active subscriptions of one plan, each renewing with its own card."""
    methods, subscriptions = [], []
    for number in range(count):
        method_id, user = uuid.uuid4(), uuid.uuid4()
        methods.append(
            {
                "id": method_id,
                "user_id": user,
                "stripe_payment_method_id": f"pm_bench{number}",
                "stripe_customer_id": f"cus_bench{number}",
                "card_brand": "visa",
                "last4": "4242",
                "exp_month": expiry.month,
                "exp_year": expiry.year,
                "created_at": NOW,
                "stripe_updated": 0,
            }
        )
        subscriptions.append(
            {
                "id": uuid.uuid4(),
                "user_id": user,
                "customer_email": f"user{number}@example.com",
                "plan_id": "bench",
                "status": "active",
                "payment_method_id": method_id,
                "start_date": NOW,
                "next_billing_date": NOW + dt.timedelta(days=300),
                "cancel_at_period_end": False,
                "failed_attempts": 0,
                "credit": 0,
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    with payments.database.unit_of_work() as uow:
        uow.session.execute(
            insert(Plan).values(
                id="bench", name="Bench", amount=999, currency="usd", interval="year",
                interval_count=1, trial_days=0, created_at=NOW,
            )
        )
        uow.session.execute(insert(PaymentMethod), methods)
        uow.session.execute(insert(Subscription), subscriptions)
        uow.commit()


def pause_all(payments: Payments) -> None:
    with payments.database.unit_of_work() as uow:
        uow.session.query(Subscription).update(
            {
                "status": "paused",
                "paused_at": NOW - dt.timedelta(days=20),
                "pause_until": NOW - dt.timedelta(days=1),
            }
        )
        uow.commit()


def analyze(payments: Payments) -> None:
    """What autovacuum does after a bulk change: without statistics on the freshly filled
    tables, PostgreSQL plans the reminders' anti-join on the outbox as a nested loop over a
    sequential scan (seconds instead of milliseconds)."""
    if payments.database.engine.dialect.name == "postgresql":
        with payments.database.engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def timed(work: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--database-url")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("info", stream=open(os.devnull, "w"))  # noqa: SIM115 - rendered, not shown
    count = args.subscriptions
    expiry = (NOW.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    rows: dict[str, dict[str, float | int]] = {}
    ok = True
    with database(args) as url:
        settings = Settings(database_url=url, stripe_api_key="sk_test_bench")
        with Payments.from_settings(settings, registry=CollectorRegistry()) as payments:
            payments.upgrade_database()
            seed(payments, count, expiry)
            seconds, report = timed(lambda: payments.run_billing(NOW))
            rows["billing run, nothing paused or due"] = {"seconds": seconds, "done": 0}
            for label in ("reminders, all expiring", "reminders again, all queued before"):
                seconds, queued = timed(lambda: payments.remind_expiring_cards(NOW))
                rows[label] = {"seconds": seconds, "done": int(queued)}  # type: ignore[call-overload]
                analyze(payments)
            ok &= rows["reminders, all expiring"]["done"] == count
            ok &= rows["reminders again, all queued before"]["done"] == 0
            pause_all(payments)
            seconds, report = timed(lambda: payments.run_billing(NOW))
            resumed = len(report.resumed)  # type: ignore[attr-defined]
            rows["billing run, all pauses ended"] = {"seconds": seconds, "done": resumed}
            ok &= resumed == count
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    if args.json:
        print(json.dumps({"backend": backend, "subscriptions": count, "passes": rows}))
    else:
        print(f"{backend}, {count} subscriptions with a card each")
        for label, row in rows.items():
            per = row["seconds"] / count * 1e3
            print(f"  {label:<40} {row['seconds']:8.3f} s  {row['done']:6d} done  "
                  f"{per:7.3f} ms per subscription")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
