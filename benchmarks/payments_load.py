"""Concurrent payments through payment_lib on PostgreSQL, against a bare SDK-plus-INSERT baseline.

For each added Stripe latency, N payments (``pm_card_visa``, one user each) go through
``Payments.pay`` from C worker threads, then the same N through a bare baseline: the stripe SDK's
``payment_intents.create(confirm=True)`` plus one INSERT with SQLAlchemy Core, on the SDK's stock
HTTP client ("baseline") and on the library's ("base-lib"). Printed per run:
wall latency per payment (p50/p95/p99), throughput, this process's CPU time per payment, and the
PaymentIntents the emulator holds against the succeeded payments stored (they must be equal),
and the most pooled connections the library had checked out at once.

PostgreSQL (a throwaway cluster from tests/postgres_cluster.py, or the server at
``--database-url``, where a fresh database is created and dropped) and the Stripe emulator
(``payment-cli stripe-emulator``) run in their own processes, so their CPU is not counted here.
Exits 1 when a payment raised or the counts differ.

Usage: .venv/bin/python benchmarks/payments_load.py [--payments 100] [--concurrency 20]
       [--latency-ms 0,300] [--database-url postgresql+psycopg://...] [--pool-size N]
       [--max-overflow N] [--rounds 3] [--baseline-transport both|stock|library] [--json]
       [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import math
import os
import pstats
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import stripe
from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url

from payment_lib import Payments
from payment_lib.config import Settings
from payment_lib.observability import configure_logging
from payment_lib.testing import DEFAULT_API_KEY

ROOT = Path(__file__).resolve().parents[1]
RETURN_URL = "https://shop.example/return"
PAYMENT = {"amount": "20.00", "currency": "usd", "payment_method": "pm_card_visa"}
STARTUP_SECONDS = 30


# Processes: PostgreSQL and the emulator ------------------------------------------------------


@contextmanager
def postgres_server(database_url: str | None) -> Iterator[str]:
    """An admin URL: the one given, or a throwaway cluster's (stopped on exit)."""
    if database_url:
        yield database_url
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from postgres_cluster import ENABLE_HINT, start_cluster

    cluster = start_cluster()
    if cluster is None:
        raise SystemExit(f"{ENABLE_HINT}; or pass --database-url.")
    try:
        yield cluster.admin_url
    finally:
        cluster.stop()


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """Create an empty database on the server of ``admin_url``; drop it on exit."""
    name = f"payments_load_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Emulator:
    """``payment-cli stripe-emulator`` in a child process, steered over ``/_emulator/``."""

    def __init__(self) -> None:
        command = [sys.executable, "-u", "-m", "payment_cli", "stripe-emulator", "--port", "0"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.url = self._read_url()

    def _read_url(self) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                return line.rsplit(" ", 1)[-1].strip()
        self.stop()
        raise SystemExit("The Stripe emulator did not start.")

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        connection = http.client.HTTPConnection(urlsplit(self.url).netloc, timeout=30)
        try:
            payload = json.dumps(body) if body is not None else None
            connection.request(method, f"/_emulator/{path}", body=payload)
            return json.loads(connection.getresponse().read())
        finally:
            connection.close()

    def prepare(self, latency_seconds: float) -> None:
        """Forget every object, then add ``latency_seconds`` to each API request."""
        self.control("POST", "reset")
        if latency_seconds:
            self.control("POST", "faults", {"latency": latency_seconds})

    def intents(self) -> int:
        return len(self.control("GET", "objects/payment_intent")["data"])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# The two ways to take a payment --------------------------------------------------------------


class Target(Protocol):
    name: str

    def pay(self, key: str) -> None: ...

    def succeeded(self) -> int: ...

    def peak_connections(self) -> int: ...

    def close(self) -> None: ...


class LibraryTarget:
    """``Payments.pay``: lock, rate limit, pending row, Stripe, outcome and card rows."""

    name = "library"

    def __init__(
        self, database_url: str, emulator_url: str, pool: dict[str, int], *, track: bool = True
    ) -> None:
        settings = Settings(
            database_url=database_url,
            stripe_api_key=DEFAULT_API_KEY,
            stripe_api_base=emulator_url,
            return_url=RETURN_URL,
            **pool,  # type: ignore[arg-type]
        )
        self.payments = Payments.from_settings(settings)
        self.payments.upgrade_database()
        self.in_use = self.peak = 0
        self.counting = threading.Lock()
        # Counting connections in use takes two pool listeners, which the baseline has not:
        # ~0.12 ms of CPU a payment here (measured in situ). Not done for one thread.
        self.tracked = track
        if track:
            pool = self.payments.database.engine.pool
            event.listen(pool, "checkout", self._checked_out)
            event.listen(pool, "checkin", self._checked_in)

    def _checked_out(self, *_args: Any) -> None:
        with self.counting:
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)

    def _checked_in(self, *_args: Any) -> None:
        with self.counting:
            self.in_use -= 1

    def peak_connections(self) -> int:
        """The most connections checked out at once since the last call (-1: not tracked)."""
        if not self.tracked:
            return -1
        peak, self.peak = self.peak, self.in_use
        return peak

    def pay(self, key: str) -> None:
        result = self.payments.pay(user_id=uuid.uuid4(), idempotency_key=key, **PAYMENT)
        if result.status != "succeeded":
            raise RuntimeError(f"payment {result.id} is {result.status}")

    def succeeded(self) -> int:
        with self.payments.database.engine.connect() as connection:
            query = text("SELECT count(*) FROM payments WHERE status = 'succeeded'")
            return int(connection.execute(query).scalar_one())

    def close(self) -> None:
        self.payments.close()


BASELINE = Table(
    "baseline_payments",
    MetaData(),
    Column("idempotency_key", String(255), primary_key=True),
    Column("stripe_id", String(255)),
    Column("status", String(32)),
)


class BaselineTarget:
    """The bare path: the SDK's typed call plus one INSERT; on the SDK's stock HTTP client
    ("baseline", what a bare application would write) or on the library's ("base-lib", so that
    the difference is the library's own cost and nothing of the transport)."""

    def __init__(self, database_url: str, emulator_url: str, transport: str = "library") -> None:
        self.engine = create_engine(database_url)
        BASELINE.metadata.create_all(self.engine)
        # The library's HTTP client (urllib3, the environment read once), or the SDK's stock
        # one (requests, which reads the proxy variables and ~/.netrc on every request).
        self.name = "baseline" if transport == "stock" else "base-lib"
        if transport == "library":
            from payment_lib.stripe_gateway.transport import http_client

            http = http_client(emulator_url, 30)
        else:
            http = stripe.RequestsClient(timeout=30)
        self.client = stripe.StripeClient(
            DEFAULT_API_KEY,
            base_addresses={"api": emulator_url},
            max_network_retries=0,
            http_client=http,
        )

    def pay(self, key: str) -> None:
        intent = self.client.v1.payment_intents.create(
            params={
                "amount": 2000,
                "currency": PAYMENT["currency"],
                "payment_method": PAYMENT["payment_method"],
                "confirm": True,
                "return_url": RETURN_URL,
            },
            options={"idempotency_key": key},
        )
        row = {"idempotency_key": key, "stripe_id": intent.id, "status": intent.status}
        with self.engine.begin() as connection:
            connection.execute(insert(BASELINE).values(row))

    def peak_connections(self) -> int:
        return -1  # not tracked

    def succeeded(self) -> int:
        query = select(func.count()).where(BASELINE.c.status == "succeeded")
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def close(self) -> None:
        self.engine.dispose()


# Measuring ------------------------------------------------------------------------------------


@dataclass
class Run:
    target: str
    latency_ms: int
    payments: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    per_second: float
    cpu_ms_per_payment: float
    intents_at_emulator: int
    payments_stored: int
    peak_connections: int

    @property
    def consistent(self) -> bool:
        return self.errors == 0 and self.intents_at_emulator == self.payments_stored


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def timed(pay: Callable[[str], None], key: str) -> float | None:
    """Seconds one payment took; None when it raised."""
    started = time.perf_counter()
    try:
        pay(key)
    except Exception as error:
        print(f"payment {key} failed: {error!r}", file=sys.stderr)
        return None
    return time.perf_counter() - started


def pay_all(target: Target, keys: list[str], concurrency: int) -> list[float | None]:
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda key: timed(target.pay, key), keys))


def unique_keys(prefix: str, count: int) -> list[str]:
    """Idempotency keys with no long digit runs: the library refuses keys that contain a
    Luhn-valid 12-19 digit run as card numbers, which a random uuid4 hex does 1 time in 300."""
    run = uuid.uuid4().hex[:8]
    return [f"{prefix}-{run}-{index}" for index in range(count)]


@dataclass
class Sample:
    """One round of one target: what ``measure`` gathers before it is summed into a Run."""

    latencies: list[float]
    errors: int
    elapsed: float
    cpu: float
    intents: int
    stored: int
    peak: int


def sample(
    target: Target, emulator: Emulator, count: int, concurrency: int, latency: int
) -> Sample:
    """Pay ``count`` times at ``latency`` ms of added Stripe latency."""
    keys = unique_keys(f"load-{target.name}-{latency}ms", count)
    emulator.prepare(latency / 1000)
    stored_before = target.succeeded()
    target.peak_connections()
    cpu_started, started = time.process_time(), time.perf_counter()
    outcomes = pay_all(target, keys, concurrency)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    latencies = [seconds for seconds in outcomes if seconds is not None]
    return Sample(
        latencies=latencies,
        errors=count - len(latencies),
        elapsed=elapsed,
        cpu=cpu,
        intents=emulator.intents(),
        stored=target.succeeded() - stored_before,
        peak=target.peak_connections(),
    )


def summed(name: str, latency: int, samples: list[Sample]) -> Run:
    """The rounds of one target at one latency, as one run."""
    latencies = sorted(seconds for part in samples for seconds in part.latencies)
    ms = [seconds * 1000 for seconds in latencies] or [float("nan")]
    payments = len(latencies) + sum(part.errors for part in samples)
    elapsed = sum(part.elapsed for part in samples)
    return Run(
        target=name,
        latency_ms=latency,
        payments=payments,
        errors=sum(part.errors for part in samples),
        p50_ms=round(percentile(ms, 0.50), 1),
        p95_ms=round(percentile(ms, 0.95), 1),
        p99_ms=round(percentile(ms, 0.99), 1),
        per_second=round(len(latencies) / elapsed, 1),
        cpu_ms_per_payment=round(sum(part.cpu for part in samples) * 1000 / payments, 2),
        intents_at_emulator=sum(part.intents for part in samples),
        payments_stored=sum(part.stored for part in samples),
        peak_connections=max(part.peak for part in samples),
    )


def measure(
    targets: tuple[Target, ...], emulator: Emulator, options: argparse.Namespace, latency: int
) -> list[Run]:
    """``options.payments`` payments per target at ``latency`` ms, in ``options.rounds``
    rounds that alternate the targets, so that a change in the machine's load between rounds
    weighs on both alike."""
    count = max(1, options.payments // options.rounds)
    samples: dict[str, list[Sample]] = {target.name: [] for target in targets}
    for _round in range(options.rounds):
        for target in targets:
            samples[target.name].append(
                sample(target, emulator, count, options.concurrency, latency)
            )
    return [summed(target.name, latency, samples[target.name]) for target in targets]


def warm_up(target: Target, emulator: Emulator, concurrency: int) -> None:
    """Open connections and import lazily loaded modules before anything is timed."""
    emulator.prepare(0)
    pay_all(target, unique_keys(f"warm-{target.name}", concurrency), concurrency)


def profile(target: Target, emulator: Emulator, count: int) -> None:
    """``count`` library payments one after another under cProfile, timed in CPU time (waiting
    for PostgreSQL or the emulator costs nothing here); the top 25 by own time and by
    cumulative time on stderr."""
    emulator.prepare(0)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for key in unique_keys("profile", count):
        target.pay(key)
    profiler.disable()
    print(f"\ncProfile (CPU time) of {count} sequential library payments:", file=sys.stderr)
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


# Output ---------------------------------------------------------------------------------------

HEADER = (
    f"{'latency':>8}  {'target':<8}  {'p50 ms':>8}  {'p95 ms':>8}  {'p99 ms':>8}  "
    f"{'pay/s':>7}  {'CPU ms/pay':>10}  {'intents':>7}  {'stored':>6}  {'errors':>6}"
)


def row(run: Run) -> str:
    return (
        f"{run.latency_ms:>5} ms  {run.target:<8}  {run.p50_ms:>8.1f}  {run.p95_ms:>8.1f}  "
        f"{run.p99_ms:>8.1f}  {run.per_second:>7.1f}  {run.cpu_ms_per_payment:>10.2f}  "
        f"{run.intents_at_emulator:>7}  {run.payments_stored:>6}  {run.errors:>6}"
    )


def comparison(library: Run, baseline: Run) -> dict[str, float]:
    return {
        "p50_ratio": round(library.p50_ms / baseline.p50_ms, 2),
        "throughput_ratio": round(library.per_second / baseline.per_second, 2),
        "cpu_ms_overhead_per_payment": round(
            library.cpu_ms_per_payment - baseline.cpu_ms_per_payment, 2
        ),
    }


def report(runs: list[Run], options: argparse.Namespace) -> None:
    width = len(options.baseline_transports) + 1
    groups = [runs[i : i + width] for i in range(0, len(runs), width)]
    if options.json:
        document = [
            {
                "library": asdict(library),
                **{base.target: asdict(base) for base in bases},
                **{f"against_{base.target}": comparison(library, base) for base in bases},
            }
            for library, *bases in groups
        ]
        print(json.dumps(document, indent=2))
        return
    print(
        f"{options.payments} payments, {options.concurrency} worker threads, PostgreSQL, "
        f"Stripe emulator in its own process, {os.cpu_count()} CPUs, library pool "
        f"{options.pool_size or Settings.model_fields['database_pool_size'].default}"
        f"+{options.max_overflow or Settings.model_fields['database_max_overflow'].default}"
    )
    print(HEADER)
    for library, *bases in groups:
        for run in (library, *bases):
            print(row(run))
        for base in bases:
            ratios = comparison(library, base)
            print(
                f"{'':>8}  library/{base.target}: p50 x{ratios['p50_ratio']:.2f}, "
                f"throughput x{ratios['throughput_ratio']:.2f}, "
                f"CPU {ratios['cpu_ms_overhead_per_payment']:+.2f} ms/payment"
            )
        if library.peak_connections >= 0:  # -1: not counted (one thread)
            print(f"{'':>8}  library connections in use at most {library.peak_connections}")


# Main -----------------------------------------------------------------------------------------


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--payments",
        type=int,
        default=600,
        help="payments per run (600: 100 were too few to tell +1 ms from noise on 2 CPUs)",
    )
    parser.add_argument("--concurrency", type=int, default=20, help="worker threads (20)")
    parser.add_argument(
        "--latency-ms", default="0,300", help="added Stripe latencies, comma-separated (0,300)"
    )
    parser.add_argument(
        "--database-url",
        help="an existing PostgreSQL server (SQLAlchemy URL, user may CREATE DATABASE); "
        "default: start a throwaway cluster",
    )
    parser.add_argument(
        "--pool-size", type=int, help="the library's database_pool_size (default: Settings')"
    )
    parser.add_argument(
        "--max-overflow", type=int, help="the library's database_max_overflow (default: Settings')"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="split each run into this many rounds, alternating library and baseline (3)",
    )
    parser.add_argument(
        "--baseline-transport",
        choices=["both", "library", "stock"],
        default="both",
        help="the bare path's HTTP client: the SDK's stock one ('baseline'), the library's "
        "('base-lib'), or both, each a target of its own in the same run (default)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--profile", action="store_true", help="then profile 100 sequential library payments"
    )
    options = parser.parse_args()
    options.latencies = [int(part) for part in options.latency_ms.split(",") if part.strip()]
    choice = options.baseline_transport
    options.baseline_transports = ["stock", "library"] if choice == "both" else [choice]
    if options.payments < 1 or options.concurrency < 1 or options.rounds < 1:
        parser.error("--payments, --concurrency and --rounds must be positive")
    if not options.latencies:
        parser.error("give at least one latency")
    return options


def run_all(database_url: str, emulator: Emulator, options: argparse.Namespace) -> list[Run]:
    pool = {
        f"database_{name}": value
        for name, value in (
            ("pool_size", options.pool_size),
            ("max_overflow", options.max_overflow),
        )
        if value is not None
    }
    library = LibraryTarget(database_url, emulator.url, pool, track=options.concurrency > 1)
    bases = [BaselineTarget(database_url, emulator.url, how) for how in options.baseline_transports]
    targets: tuple[Target, ...] = (library, *bases)
    try:
        for target in targets:
            warm_up(target, emulator, options.concurrency)
        runs = [
            run
            for latency in options.latencies
            for run in measure(targets, emulator, options, latency)
        ]
        if options.profile:
            profile(library, emulator, 100)
        return runs
    finally:
        for target in targets:
            target.close()


def main() -> int:
    options = parse_options()
    # What a host application would do: JSON log lines, here rendered then thrown away.
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    with postgres_server(options.database_url) as admin_url, fresh_database(admin_url) as url:
        emulator = Emulator()
        try:
            runs = run_all(url, emulator, options)
        finally:
            emulator.stop()
    report(runs, options)
    if not all(run.consistent for run in runs):
        print("FAILED: a payment raised, or intents at the emulator != payments stored.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
