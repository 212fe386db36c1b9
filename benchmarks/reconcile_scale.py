"""Reconcile at scale: ``Payments.reconcile`` over growing windows, against a bare SDK walk.

In stages of growing size (1,000, 5,000, 10,000 PaymentIntents in all), PaymentIntents are
made at the Stripe emulator through the SDK (several threads) and the matching ``succeeded``
payments are inserted in one transaction; a few of them are then set to ``failed`` (planted
drifts). Per stage, ``Payments.reconcile()`` (the last day: PaymentIntents, charges, refunds,
disputes, then our payments) is measured against a baseline: the SDK's ``auto_paging_iter()``
over the same PaymentIntents and charges (limit 100, same ``created`` window), doing nothing
with them. Both are timed untraced (``--repeat``: medians), with the growth of this process's
peak RSS; then both are run once more under tracemalloc for the peak of Python allocations
during the call (the baseline in a child process at the same time: tracing costs about 5 times
the untraced time; ``--trace ends`` or ``none`` traces fewer sizes).

Reconcile must keep memory flat: a reconcile peak that grows with the size is reported as such,
with tracemalloc's top allocations (one more reconcile at the largest size, at its fullest
moment after a page).

The emulator (``payment-cli stripe-emulator``) runs in a child process, so its CPU and memory
are not counted. The database is an SQLite file by default; ``--postgres`` starts a throwaway
PostgreSQL cluster (tests/postgres_cluster.py), ``--database-url`` names a server where a fresh
database is created and dropped. Exits 1 when reconcile does not find exactly the planted drifts
or a walk does not see every object.

Usage: .venv/bin/python benchmarks/reconcile_scale.py [--sizes 1000,5000,10000] [--repeat 1]
       [--threads 8] [--drifts 3] [--postgres | --database-url postgresql+psycopg://...]
       [--trace all|ends|none] [--top 10] [--json] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import math
import multiprocessing
import os
import pstats
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import stripe
from payments_load import Emulator, fresh_database, postgres_server
from sqlalchemy import insert, update

from payment_lib import Payments
from payment_lib.config import Settings
from payment_lib.db.tables import Payment
from payment_lib.observability import configure_logging
from payment_lib.services.reconcile import ReconcileReport
from payment_lib.testing import DEFAULT_API_KEY

MIB = 1024 * 1024
PAGE = 100
AMOUNT = 2000
WINDOW = dt.timedelta(days=1)  # reconcile's default window, ending now
# A reconcile peak this much above the smallest stage's, and by this share, counts as growth.
GROWTH_MIB, GROWTH_SHARE = 1.0, 1.25


# The database --------------------------------------------------------------------------------


@contextmanager
def database(options: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URL, a label): an SQLite file, or a fresh PostgreSQL database."""
    if options.postgres or options.database_url:
        with postgres_server(options.database_url) as admin, fresh_database(admin) as url:
            yield url, "PostgreSQL"
        return
    with tempfile.TemporaryDirectory(prefix="reconcile_scale_") as directory:
        yield f"sqlite:///{Path(directory) / 'payments.db'}", "SQLite file"


def sdk_client(emulator_url: str) -> stripe.StripeClient:
    """The client the library builds (same transport), without its retries."""
    return stripe.StripeClient(
        DEFAULT_API_KEY,
        base_addresses={"api": emulator_url},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=30),
    )


# Seeding -------------------------------------------------------------------------------------


class Seeder:
    """PaymentIntents at the emulator, and our ``succeeded`` rows for them, in bulk."""

    def __init__(self, payments: Payments, emulator_url: str, threads: int) -> None:
        self.payments = payments
        self.client = sdk_client(emulator_url)
        self.threads = threads
        self.made = 0
        self.planted: set[uuid.UUID] = set()

    def _intent(self, _: int) -> dict[str, Any]:
        payment_id, user_id = uuid.uuid4(), uuid.uuid4()
        intent = self.client.v1.payment_intents.create(
            params={
                "amount": AMOUNT,
                "currency": "usd",
                "payment_method": "pm_card_visa",
                "confirm": True,
                "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
                "metadata": {"payment_id": str(payment_id), "user_id": str(user_id)},
            }
        )
        if intent.status != "succeeded":
            raise RuntimeError(f"{intent.id} is {intent.status}")
        now = dt.datetime.now(dt.UTC)
        return {
            "id": payment_id,
            "user_id": user_id,
            "amount": AMOUNT,
            "currency": "usd",
            "status": "succeeded",
            "kind": "payment",
            "stripe_transaction_id": intent.id,
            "idempotency_key": f"reconcile-scale-{payment_id}",
            "request_fingerprint": "reconcile-scale",
            "amount_refunded": 0,
            "details": {},
            "created_at": now,
            "updated_at": now,
        }

    def grow_to(self, total: int) -> float:
        """Make PaymentIntents and rows until there are ``total``; the seconds it took."""
        started = time.perf_counter()
        with ThreadPoolExecutor(self.threads) as pool:
            rows = list(pool.map(self._intent, range(total - self.made)))
        with self.payments.database.engine.begin() as connection:
            for start in range(0, len(rows), 1000):
                connection.execute(insert(Payment.__table__), rows[start : start + 1000])
        self.made = total
        return time.perf_counter() - started

    def plant(self, count: int) -> None:
        """Set ``count`` of the payments to ``failed`` (Stripe says succeeded): drifts."""
        if len(self.planted) >= count:
            return
        with self.payments.database.engine.begin() as connection:
            chosen = connection.execute(
                Payment.__table__.select().with_only_columns(Payment.id).limit(count)
            ).scalars()
            self.planted = set(chosen)
            table = Payment.__table__
            connection.execute(
                update(table).where(table.c.id.in_(self.planted)).values(status="failed")
            )


# Measuring -----------------------------------------------------------------------------------


def vm_kib(field_name: str) -> int | None:
    """A VmRSS/VmHWM figure of this process in KiB (Linux), None elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


@dataclass
class Call:
    seconds: float
    objects: int
    rss_growth_mib: float | None  # peak RSS during the call above the RSS before it
    result: Any


def timed(call: Callable[[], tuple[int, Any]]) -> Call:
    """Wall seconds of ``call`` (no tracing), and how far it raised this process's peak RSS."""
    gc.collect()
    before = vm_kib("VmRSS") if reset_peak_rss() else None
    started = time.perf_counter()
    objects, result = call()
    seconds = time.perf_counter() - started
    peak = vm_kib("VmHWM")
    growth = (peak - before) / 1024 if before is not None and peak is not None else None
    return Call(seconds, objects, growth, result)


class PeakWatch:
    """Under tracemalloc, called after each page: the traced memory then (cheap), and with
    ``snapshots`` a snapshot whenever it reaches a new high by a quarter (slow; it explains
    the fullest moment)."""

    def __init__(self, snapshots: bool = False) -> None:
        self.snapshots = snapshots
        self.before: tracemalloc.Snapshot | None = None  # taken just before the call
        self.snapshot: tracemalloc.Snapshot | None = None
        self.start = self.at = 0
        self.pages: list[int] = []  # traced bytes above the start, after each page

    def __call__(self, _checked: int) -> None:
        current, _ = tracemalloc.get_traced_memory()
        self.pages.append(current - self.start)
        if self.snapshots and current > self.at * 1.25:
            self.at = current
            self.snapshot = tracemalloc.take_snapshot()


def traced(call: Callable[[PeakWatch], object], snapshots: bool = False) -> tuple[float, PeakWatch]:
    """tracemalloc's peak (MiB above the start) during ``call``, and the watch on its pages.
    One frame per trace: tracing then costs about 5 times the untraced time (10 frames: 50)."""
    gc.collect()
    tracemalloc.start(1)
    try:
        watch = PeakWatch(snapshots)
        if snapshots:
            watch.before = tracemalloc.take_snapshot()
        tracemalloc.reset_peak()
        watch.start, _ = tracemalloc.get_traced_memory()
        call(watch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - watch.start) / MIB, watch


def window() -> tuple[dt.datetime, dt.datetime]:
    until = dt.datetime.now(dt.UTC)
    return until - WINDOW, until


def bare_walk(client: stripe.StripeClient) -> int:
    """The baseline: every PaymentIntent and charge of the window through auto_paging_iter."""
    since, until = window()
    created = {"gte": int(since.timestamp()), "lt": math.ceil(until.timestamp())}
    walked = 0
    for service in (client.v1.payment_intents, client.v1.charges):
        for _ in service.list(params={"created": created, "limit": PAGE}).auto_paging_iter():
            walked += 1
    return walked


# The baseline's traced walk runs in a child process, at the same time as the traced reconcile:
# each traced pass costs about 5 times its untraced time, and the two would add up.
_child_client: stripe.StripeClient | None = None


def _start_child(emulator_url: str) -> None:
    """In the child: its client, warmed up (the SDK imports its resource modules lazily)."""
    global _child_client
    _child_client = sdk_client(emulator_url)
    for service in (_child_client.v1.payment_intents, _child_client.v1.charges):
        service.list(params={"limit": 1})


def traced_bare_walk() -> tuple[float, int]:
    """In the child: the baseline's tracemalloc peak (MiB) and the objects it walked."""
    assert _child_client is not None
    client = _child_client
    walked = 0

    def walk(_: PeakWatch) -> None:
        nonlocal walked
        walked = bare_walk(client)

    peak, _ = traced(walk)
    return peak, walked


@dataclass
class Stage:
    size: int
    seed_seconds: float
    reconcile_seconds: float
    baseline_seconds: float
    reconcile_checked: int
    baseline_walked: int
    reconcile_peak_mib: float | None  # None: this size was not traced
    baseline_peak_mib: float | None
    reconcile_rss_growth_mib: float | None
    baseline_rss_growth_mib: float | None
    drifts_found: int
    drifts_right: bool

    @property
    def ratio(self) -> float:
        return self.reconcile_seconds / self.baseline_seconds

    @property
    def checked_per_second(self) -> float:
        return self.reconcile_checked / self.reconcile_seconds


def median_or_none(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def measure(
    payments: Payments,
    client: stripe.StripeClient,
    child: ProcessPoolExecutor,
    seeder: Seeder,
    options: argparse.Namespace,
) -> tuple[Stage, list[int]]:
    """``options.repeat`` rounds of the baseline and reconcile, timed: their medians; then,
    unless this size is not traced, one round traced (reconcile here, the baseline in the
    child, at the same time): their peaks, and the traced memory after each reconcile page."""
    runs: list[dict[str, Any]] = []
    reports: list[ReconcileReport] = []
    walks: list[int] = []
    started = time.perf_counter()
    for _ in range(options.repeat):
        base = timed(lambda: (bare_walk(client), None))
        rec = timed(lambda: _reconciled(payments.reconcile()))
        reports.append(rec.result)
        walks.append(base.objects)
        runs.append(
            {
                "reconcile_seconds": rec.seconds,
                "baseline_seconds": base.seconds,
                "reconcile_rss_growth_mib": rec.rss_growth_mib,
                "baseline_rss_growth_mib": base.rss_growth_mib,
            }
        )
    progress = f"{seeder.made}: timed runs {time.perf_counter() - started:.0f} s"
    peaks: dict[str, float | None] = {"reconcile_peak_mib": None, "baseline_peak_mib": None}
    pages: list[int] = []
    if seeder.made in options.traced_sizes:
        started = time.perf_counter()
        baseline_traced = child.submit(traced_bare_walk)
        peak, watch = traced(lambda w: reports.append(payments.reconcile(progress=w)))
        progress += f", traced reconcile {time.perf_counter() - started:.0f} s"
        peaks["reconcile_peak_mib"], pages = peak, watch.pages
        peaks["baseline_peak_mib"], walked = baseline_traced.result()
        walks.append(walked)
        progress += f" (and baseline {time.perf_counter() - started:.0f} s)"
    print(progress, file=sys.stderr, flush=True)
    right = all(_right(report, seeder) for report in reports)
    right = right and all(walked == 2 * seeder.made for walked in walks)
    if not right:
        print(f"at {seeder.made}: {[r.to_dict() for r in reports]}; {walks}", file=sys.stderr)
    stage = Stage(
        size=seeder.made,
        seed_seconds=0.0,
        drifts_right=right,
        drifts_found=sum(reports[-1].counts.values()),
        reconcile_checked=sum(reports[-1].checked.values()),
        baseline_walked=walks[-1],
        **peaks,
        **{key: median_or_none([run[key] for run in runs]) for key in runs[0]},
    )
    return stage, pages


def _right(report: ReconcileReport, seeder: Seeder) -> bool:
    """Whether reconcile found just the planted drifts and checked every object once."""
    found = {d.payment_id for d in report.drifts if d.kind == "status_differs"}
    return (
        report.counts == {"status_differs": len(seeder.planted)}
        and found == seeder.planted
        and sum(report.checked.values()) == 3 * seeder.made  # each intent, charge, payment
    )


def _reconciled(report: ReconcileReport) -> tuple[int, ReconcileReport]:
    return sum(report.checked.values()), report


def top_allocations(payments: Payments, count: int) -> list[str]:
    """One more traced reconcile, with snapshots: what it held at its fullest watched moment
    (after a page) beyond what was there before it, by line, largest first."""
    _, watch = traced(lambda w: payments.reconcile(progress=w), snapshots=True)
    if watch.snapshot is None or watch.before is None:
        return []
    header = f"at {(watch.at - watch.start) / MIB:.1f} MiB traced above the start of the call:"
    top = watch.snapshot.compare_to(watch.before, "lineno")[:count]
    return [header, *(str(difference) for difference in top)]


def profile(payments: Payments) -> None:
    """One reconcile under cProfile; the top 25 by own time on stderr."""
    profiler = cProfile.Profile()
    profiler.enable()
    payments.reconcile()
    profiler.disable()
    print("\ncProfile of one reconcile at the largest size:", file=sys.stderr)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)


# Output ----------------------------------------------------------------------------------------

HEADER = (
    f"{'size':>7}  {'reconcile s':>11}  {'baseline s':>10}  {'ratio':>5}  {'checked/s':>9}  "
    f"{'rec peak MiB':>12}  {'base peak MiB':>13}  {'rec RSS+ MiB':>12}  {'drifts':>6}"
)


def _mib(value: float | None, width: int, digits: int = 2) -> str:
    return f"{'n/a' if value is None else f'{value:.{digits}f}':>{width}}"


def row(stage: Stage) -> str:
    return (
        f"{stage.size:>7}  {stage.reconcile_seconds:>11.2f}  {stage.baseline_seconds:>10.2f}  "
        f"{stage.ratio:>5.2f}  {stage.checked_per_second:>9.0f}  "
        f"{_mib(stage.reconcile_peak_mib, 12)}  {_mib(stage.baseline_peak_mib, 13)}  "
        f"{_mib(stage.reconcile_rss_growth_mib, 12, 1)}  "
        f"{stage.drifts_found:>6}{'' if stage.drifts_right else ' WRONG'}"
    )


def memory_verdict(stages: list[Stage]) -> tuple[bool, str]:
    """Whether the reconcile peak grows with the size (first against last traced), in words."""
    measured = [s for s in stages if s.reconcile_peak_mib is not None]
    if len(measured) < 2:
        return False, "memory against size: not judged (fewer than 2 sizes traced)"
    first, last = measured[0], measured[-1]
    low, high = first.reconcile_peak_mib or 0.0, last.reconcile_peak_mib or 0.0
    grows = high > max(low * GROWTH_SHARE, low + GROWTH_MIB)
    words = (
        f"reconcile peak {low:.2f} MiB at {first.size} -> {high:.2f} MiB at {last.size} "
        f"(baseline {_mib(first.baseline_peak_mib, 0)} -> {_mib(last.baseline_peak_mib, 0)} "
        "MiB): "
    )
    return grows, words + ("GROWS WITH THE SIZE" if grows else "flat")


@dataclass
class Outcome:
    stages: list[Stage]
    pages: list[int]  # traced bytes after each page of the largest traced reconcile
    top: list[str]  # tracemalloc's top allocations, when asked for or memory grew


def report(outcome: Outcome, options: argparse.Namespace, label: str) -> None:
    stages = outcome.stages
    grows, verdict = memory_verdict(stages)
    if options.json:
        document = {
            "database": label,
            "repeat": options.repeat,
            "stages": [asdict(s) | {"ratio": round(s.ratio, 3)} for s in stages],
            "memory_grows": grows,
            "pages_mib": [round(p / MIB, 2) for p in outcome.pages],
            "top_allocations": outcome.top,
        }
        print(json.dumps(document, indent=2))
        return
    print(
        f"\nPaymentIntents (each with its charge) and as many payments, {label}, emulator in "
        f"its own process, {os.cpu_count()} CPUs, medians of {options.repeat}; "
        f"seeding took {sum(s.seed_seconds for s in stages):.0f} s"
    )
    print(HEADER)
    for stage in stages:
        print(row(stage))
    print(
        "checked: intents, charges and our payments (3 per size); the baseline walks intents "
        "and charges.\npeaks: tracemalloc, above the start of the call; RSS+: this process's "
        "peak RSS above its RSS before the (untraced) call."
    )
    print(verdict)
    pages = outcome.pages
    step = max(1, len(pages) // 20)
    if pages:
        print(
            f"traced MiB after each page of the largest traced reconcile ({len(pages)} pages, "
            f"1 in {step} shown): {' '.join(f'{p / MIB:.1f}' for p in pages[::step])}"
        )
    if outcome.top:
        print("tracemalloc's top allocations of one more reconcile at the largest size,")
        print("\n".join(outcome.top))


# Main ------------------------------------------------------------------------------------------


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="1000,5000,10000",
        help="PaymentIntents per stage, in all (1000,5000,10000)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per stage; medians (1)")
    parser.add_argument("--threads", type=int, default=8, help="threads that seed (8)")
    parser.add_argument("--drifts", type=int, default=3, help="payments set to failed (3)")
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL cluster, not SQLite"
    )
    parser.add_argument(
        "--database-url",
        help="an existing PostgreSQL server (SQLAlchemy URL, user may CREATE DATABASE)",
    )
    parser.add_argument(
        "--trace",
        choices=("all", "ends", "none"),
        default="all",
        help="sizes whose peak memory is measured (all): tracing costs ~5x the call's time",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=0,
        help="print this many top allocations (default: 10, only when memory grows)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--profile", action="store_true", help="then profile one reconcile at the largest size"
    )
    options = parser.parse_args()
    options.size_list = [int(part) for part in options.sizes.split(",") if part.strip()]
    if (
        not options.size_list
        or options.size_list != sorted(set(options.size_list))
        or options.size_list[0] <= options.drifts
        or min(options.repeat, options.threads, options.drifts) < 1
    ):
        parser.error("--sizes must grow and exceed --drifts; --repeat, --threads, --drifts >= 1")
    sizes = options.size_list
    options.traced_sizes = {
        "all": set(sizes),
        "ends": {sizes[0], sizes[-1]},
        "none": set(),
    }[options.trace]
    return options


def run(url: str, emulator: Emulator, options: argparse.Namespace) -> Outcome:
    settings = Settings(
        database_url=url, stripe_api_key=DEFAULT_API_KEY, stripe_api_base=emulator.url
    )
    client = sdk_client(emulator.url)
    child = ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_child,
        initargs=(emulator.url,),
    )
    with child, Payments.from_settings(settings) as payments:
        payments.upgrade_database()
        seeder = Seeder(payments, emulator.url, options.threads)
        outcome = Outcome([], [], [])
        for size in options.size_list:
            seed_seconds = seeder.grow_to(size)
            seeder.plant(options.drifts)
            print(f"{size}: seeded in {seed_seconds:.1f} s", file=sys.stderr, flush=True)
            stage, pages = measure(payments, client, child, seeder, options)
            outcome.pages = pages or outcome.pages
            stage.seed_seconds = seed_seconds
            outcome.stages.append(stage)
        grows, _ = memory_verdict(outcome.stages)
        if grows or options.top:
            outcome.top = top_allocations(payments, options.top or 10)
        if options.profile:
            profile(payments)
    return outcome


def main() -> int:
    options = parse_options()
    # What a host application would do: JSON log lines, here rendered then thrown away.
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    with database(options) as (url, label):
        emulator = Emulator()
        try:
            outcome = run(url, emulator, options)
        finally:
            emulator.stop()
    report(outcome, options, label)
    if not all(stage.drifts_right for stage in outcome.stages):
        print("FAILED: reconcile did not find just the planted drifts, or a walk missed some.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
