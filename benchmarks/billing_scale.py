"""A billing run over many subscriptions on PostgreSQL: renewals per second, SQL statements per
renewal, peak memory (issue 13, item 10).

Seeds, with one INSERT ... SELECT over generate_series, N live subscriptions of one monthly plan:
``--due`` of them active and due now, ``--waiting`` past_due and waiting for a retry two days
ahead (not due), the rest active and due later in the month. Every due one renews off-session
the same saved card (one Stripe Customer with ``pm_card_visa`` attached at the emulator, one
``payment_methods`` row): the library does the same work per renewal as with a card each.
Then one ``Payments.run_billing()`` is timed (wall, and this process's CPU), with every
statement counted by a SQLAlchemy ``before_cursor_execute`` listener and the peak of this
process's RSS (VmHWM, reset just before the run); ``--tracemalloc`` runs it under tracemalloc
(slower) for the peak of Python allocations too.

Checks, exit 1 if any fails: every due subscription renewed (one succeeded renewal payment
each, next billing date a month on), no waiting past_due one was charged or changed, and the
emulator holds exactly as many PaymentIntents as renewals stored.

PostgreSQL and the emulator run in their own processes (as in payments_load.py, whose
helpers this uses), so their CPU and memory are not counted here.

Usage: .venv/bin/python benchmarks/billing_scale.py [--subscriptions 100000] [--due 2000]
       [--waiting 5000] [--database-url postgresql+psycopg://...] [--tracemalloc] [--profile]
       [--json]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from payments_load import Emulator, fresh_database, postgres_server
from reconcile_scale import reset_peak_rss, vm_kib

from payment_lib import Payments
from payment_lib.config import Settings
from payment_lib.observability import configure_logging
from payment_lib.testing import DEFAULT_API_KEY

PLAN = "pro"

SEED = """
INSERT INTO subscriptions (
    id, user_id, customer_email, plan_id, status, payment_method_id, start_date, end_date,
    next_billing_date, cancel_at_period_end, failed_attempts, next_retry_at, trial_ends_at,
    credit, scheduled_plan_id, paused_at, pause_until, created_at, updated_at)
SELECT
    gen_random_uuid(), gen_random_uuid(), 'user' || g || '@example.com', :plan,
    CASE WHEN g > :due AND g <= :due + :waiting THEN 'past_due' ELSE 'active' END,
    :method, :now - interval '20 days', NULL,
    CASE
        WHEN g <= :due THEN :now - interval '1 hour'
        WHEN g <= :due + :waiting THEN :now - interval '1 day'
        ELSE :now + (1 + g % 27) * interval '1 day'
    END,
    false,
    CASE WHEN g > :due AND g <= :due + :waiting THEN 1 ELSE 0 END,
    CASE WHEN g > :due AND g <= :due + :waiting THEN :now + interval '2 days' END,
    NULL, 0, NULL, NULL, NULL, :now - interval '20 days', :now - interval '20 days'
FROM generate_series(1, :total) AS g
"""


@dataclass
class Figures:
    subscriptions: int
    due: int
    waiting: int
    seconds: float
    cpu_ms_per_renewal: float
    renewals_per_second: float
    renewed: int
    statements: int
    statements_per_renewal: float
    selects_per_renewal: float
    peak_rss_growth_mib: float | None
    peak_traced_mib: float | None
    intents_at_emulator: int
    renewal_payments: int
    waiting_untouched: int
    errors: int

    @property
    def consistent(self) -> bool:
        return (
            self.renewed == self.due
            and self.renewal_payments == self.due
            and self.intents_at_emulator == self.renewal_payments
            and self.waiting_untouched == self.waiting
            and self.errors == 0
        )


def seed(
    payments: Payments, emulator: Emulator, options: argparse.Namespace, now: dt.datetime
) -> None:
    """The plan, the one saved card (real at the emulator) and the subscriptions."""
    customer = emulator_call(emulator, "/v1/customers", {"metadata[user_id]": "billing-scale"})
    method = emulator_call(
        emulator, "/v1/payment_methods/pm_card_visa/attach", {"customer": customer["id"]}
    )
    with payments.database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO plans (id, name, amount, currency, interval, interval_count, "
                "trial_days, created_at) VALUES (:plan, 'Pro', 1000, 'usd', 'month', 1, 0, :now)"
            ),
            {"plan": PLAN, "now": now},
        )
        method_id = connection.execute(
            sa.text(
                "INSERT INTO payment_methods (id, user_id, stripe_payment_method_id, "
                "stripe_customer_id, card_brand, last4, exp_month, exp_year, created_at, "
                "stripe_updated) VALUES (gen_random_uuid(), gen_random_uuid(), :pm, :customer, "
                "'visa', '4242', 12, 2034, :now, 0) RETURNING id"
            ),
            {"pm": method["id"], "customer": customer["id"], "now": now},
        ).scalar_one()
        connection.execute(
            sa.text(SEED),
            {
                "plan": PLAN,
                "method": method_id,
                "now": now,
                "due": options.due,
                "waiting": options.waiting,
                "total": options.subscriptions,
            },
        )
        connection.execute(sa.text("ANALYZE subscriptions"))


def emulator_call(emulator: Emulator, path: str, form: dict[str, str]) -> Any:
    """One form-encoded POST to the emulator's Stripe API."""
    import http.client
    import urllib.parse

    connection = http.client.HTTPConnection(urllib.parse.urlsplit(emulator.url).netloc)
    try:
        connection.request(
            "POST",
            path,
            body=urllib.parse.urlencode(form),
            headers={
                "Authorization": f"Bearer {DEFAULT_API_KEY}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


@contextmanager
def counted(engine: sa.Engine) -> Iterator[list[str]]:
    """Every statement sent through ``engine`` meanwhile (its first word)."""
    statements: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)


def measure(options: argparse.Namespace, url: str, emulator: Emulator) -> Figures:
    settings = Settings(
        database_url=url, stripe_api_key=DEFAULT_API_KEY, stripe_api_base=emulator.url
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with Payments.from_settings(settings) as payments:
        payments.upgrade_database()
        seed(payments, emulator, options, now)
        print(f"seeded {options.subscriptions} subscriptions", file=sys.stderr)
        traced = None
        if options.tracemalloc:
            tracemalloc.start()
        reset_peak_rss()
        rss_before = vm_kib("VmRSS")
        profiler = cProfile.Profile(time.process_time) if options.profile else None
        with counted(payments.database.engine) as statements:
            started, cpu_started = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            report = payments.run_billing(now + dt.timedelta(minutes=1))
            if profiler is not None:
                profiler.disable()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        peak = vm_kib("VmHWM")
        if options.tracemalloc:
            traced = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        with payments.database.engine.connect() as connection:
            renewal_payments = connection.execute(
                sa.text("SELECT count(*) FROM payments WHERE kind = 'renewal'")
            ).scalar_one()
            untouched = connection.execute(
                sa.text(
                    "SELECT count(*) FROM subscriptions WHERE status = 'past_due' "
                    "AND failed_attempts = 1 AND next_retry_at > :now"
                ),
                {"now": now},
            ).scalar_one()
    renewed = sum(1 for p in report.charged if p.status == "succeeded")
    if profiler is not None:
        print("\ncProfile of the billing run (CPU time, by cumulative):", file=sys.stderr)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    growth = (peak - rss_before) / 1024 if peak is not None and rss_before is not None else None
    return Figures(
        subscriptions=options.subscriptions,
        due=options.due,
        waiting=options.waiting,
        seconds=round(seconds, 2),
        cpu_ms_per_renewal=round(cpu * 1000 / max(renewed, 1), 2),
        renewals_per_second=round(renewed / seconds, 1) if seconds else 0.0,
        renewed=renewed,
        statements=len(statements),
        statements_per_renewal=round(len(statements) / max(renewed, 1), 2),
        selects_per_renewal=round(statements.count("SELECT") / max(renewed, 1), 2),
        peak_rss_growth_mib=round(growth, 1) if growth is not None else None,
        peak_traced_mib=round(traced, 1) if traced is not None else None,
        intents_at_emulator=emulator.intents(),
        renewal_payments=int(renewal_payments),
        waiting_untouched=int(untouched),
        errors=len(report.errors),
    )


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000, help="all (100000)")
    parser.add_argument("--due", type=int, default=2000, help="due now, renewed (2000)")
    parser.add_argument("--waiting", type=int, default=5000, help="past_due, not due (5000)")
    parser.add_argument("--database-url", help="an existing server (as in payments_load.py)")
    parser.add_argument("--tracemalloc", action="store_true", help="peak Python allocations")
    parser.add_argument("--profile", action="store_true", help="cProfile the run (stderr)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    options = parser.parse_args()
    if min(options.subscriptions, options.due, options.waiting) < 0 or (
        options.due + options.waiting > options.subscriptions
    ):
        parser.error("need 0 <= --due + --waiting <= --subscriptions")
    return options


def main() -> int:
    options = parse_options()
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    with postgres_server(options.database_url) as admin_url, fresh_database(admin_url) as url:
        emulator = Emulator()
        try:
            figures = measure(options, url, emulator)
        finally:
            emulator.stop()
    if options.json:
        print(json.dumps({**asdict(figures), "consistent": figures.consistent}, indent=2))
    else:
        for name, value in asdict(figures).items():
            print(f"{name:>24}: {value}")
        max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"{'max RSS of the process':>24}: {max_rss} MiB (seeding included)")
    if not figures.consistent:
        print("FAILED: a due one not renewed, a waiting one changed, or the counts differ.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
