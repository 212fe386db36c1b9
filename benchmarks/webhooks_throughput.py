"""Webhook throughput on PostgreSQL: receiving (one process) and draining (1 and 2 workers).

For each run, N payments are stored as ``pending`` (their Stripe answers "lost") and N signed
``payment_intent.succeeded`` events are made for them, as Stripe would send them.

- receive: ``Payments.receive_webhook`` for every event from T threads of this process, as a
  host app's web server would call it (verify the signature, parse, scrub, INSERT ... ON
  CONFLICT, commit; concurrent deliveries share a statement and its commit): events/s and CPU
  ms per event, for each T of ``--threads``.
- baseline receive: the same events, from the same T threads, by a bare receiver (psycopg, a
  connection per thread in autocommit: hmac check of the signature, ``json.loads``, one INSERT
  ... ON CONFLICT DO NOTHING per event): the ratio library/baseline is what the library costs.
- drain: K ``payment-cli worker`` processes are started and left idle until they are up (each
  has finished its first, cold pass: its heartbeat is stored); then the stored events are made
  due at once and the time until every event is processed (each
  payment moved to ``succeeded`` in the batch's transaction) gives events/s.
- baseline drain: the same events made unprocessed and due again, the payments pending again,
  drained by K processes of a minimal SKIP LOCKED consumer (psycopg, no ORM: claim 100, update
  each payment by its PaymentIntent id, mark the batch processed, commit): the ratio
  library/baseline is what the handlers, savepoints, logs and metrics cost.

PostgreSQL: a throwaway cluster from tests/postgres_cluster.py, or the server at
``--database-url`` (a fresh database per run is created and dropped there).
Exits 1 if any event is left unprocessed or any payment did not succeed.

Usage: .venv/bin/python benchmarks/webhooks_throughput.py [--events 2000] [--workers 1,2]
       [--threads 1,8] [--database-url postgresql+psycopg://...] [--json] [--profile]
       [--pgbouncer] [--receive-only]

``--receive-only``: the receive figures (library and baseline) without the drains.

``--pgbouncer``: the workers (library and baseline) reach PostgreSQL through PgBouncer in
transaction pooling mode (Debian's pgbouncer, started as the suite starts it:
tests/pgbouncer.py), with ``PAYMENT_DATABASE_POOLER=transaction``, as deployed with many
processes (docs/deployment.md); e.g. ``--workers 4 --pgbouncer``.

``--profile`` prints cProfile's top functions (stderr) of one in-process receive of every event
(one thread, CPU time) and one in-process drain (``Payments.process_webhooks``) instead.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import hmac
import json
import os
import pstats
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from payments_load import fresh_database, postgres_server
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from payment_lib import Payments, Settings, configure_logging, contains_card_number
from payment_lib.db.tables import Payment
from payment_lib.testing import signature_header

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_benchmark_0123456789"  # noqa: S105 (signs the benchmark's own events)
STARTUP_SECONDS = 30


def readable_uuid() -> uuid.UUID:
    """A random UUID whose text holds nothing a card-number scrubber would take for one (its
    digits, joined across the dashes, can be Luhn-valid: the event would be redacted)."""
    while True:
        made = uuid.uuid4()
        if not contains_card_number(str(made)) and not contains_card_number(made.hex):
            return made


def pending_payments(payments: Payments, count: int) -> list[tuple[uuid.UUID, str]]:
    """``count`` pending payments with their PaymentIntent ids, inserted in one statement."""
    rows = []
    for _ in range(count):
        payment_id = readable_uuid()
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
                "stripe_transaction_id": f"pi_bench_{payment_id.hex}",
            }
        )
    with payments.database.engine.begin() as connection:
        connection.execute(insert(Payment), rows)
    return [(row["id"], row["stripe_transaction_id"]) for row in rows]


def succeeded_event(payment_id: uuid.UUID, intent_id: str) -> bytes:
    body = json.dumps(
        {
            "id": f"evt_{readable_uuid().hex[:24]}",
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
    if contains_card_number(body.decode()):  # a scrubbed id would match no payment
        return succeeded_event(payment_id, intent_id)
    return body


def count(payments: Payments, sql: str) -> int:
    with payments.database.engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def start_workers(
    database_url: str, number: int, log_dir: Path, *, baseline: bool = False, pooled: bool = False
) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    env |= {"PAYMENT_DATABASE_URL": database_url, "PAYMENT_WEBHOOK_SECRETS": SECRET}
    if pooled:
        env["PAYMENT_DATABASE_POOLER"] = "transaction"
    prefix = "baseline" if baseline else "worker"
    if baseline:
        command = [sys.executable, __file__, "--consume", database_url]
    else:
        command = [sys.executable, "-m", "payment_cli", "--log-level", "info", "worker"]
        command += ["--interval", "0.05"]
    workers = []
    for n in range(number):
        with open(log_dir / f"{prefix}-{n}.log", "w") as log:
            workers.append(subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=ROOT))
    deadline = time.monotonic() + STARTUP_SECONDS
    for n in range(number):
        while "worker started" not in (log_dir / f"{prefix}-{n}.log").read_text():
            if time.monotonic() > deadline:
                raise SystemExit("a worker did not start")
            time.sleep(0.05)
    return workers


CLAIM = """
SELECT id, payload FROM webhook_events
WHERE NOT processed AND next_attempt_at <= now()
ORDER BY created_at, id LIMIT 100 FOR UPDATE SKIP LOCKED
"""


def consume(database_url: str) -> int:
    """The baseline: a minimal SKIP LOCKED consumer of the inbox, until it is killed."""
    import psycopg

    print("worker started", flush=True)
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    # Behind a transaction pooler a server session may change between transactions: no
    # prepared statements then (as the library does with PAYMENT_DATABASE_POOLER).
    pooled = os.environ.get("PAYMENT_DATABASE_POOLER") == "transaction"
    with psycopg.connect(url, prepare_threshold=None if pooled else 5) as connection:
        while True:
            with connection.transaction(), connection.cursor() as cursor:
                claimed = cursor.execute(CLAIM).fetchall()
                for _event_id, payload in claimed:
                    cursor.execute(
                        "UPDATE payments SET status = 'succeeded' WHERE stripe_transaction_id = %s",
                        (payload["data"]["object"]["id"],),
                    )
                cursor.execute(
                    "UPDATE webhook_events SET processed = true, status = 'processed' "
                    "WHERE id = ANY(%s)",
                    ([row[0] for row in claimed],),
                )
            if not claimed:
                time.sleep(0.05)


def start_pooler(admin_url: str) -> Any:
    """PgBouncer in transaction mode in front of the server, as the suite starts it."""
    sys.path.insert(0, str(ROOT / "tests"))
    from pgbouncer import ENABLE_HINT, start_bouncer

    bouncer = start_bouncer(admin_url)
    if bouncer is None:
        raise SystemExit(ENABLE_HINT)
    return bouncer


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def receive_all(
    payments: Payments, signed: list[tuple[bytes, str]], threads: int
) -> tuple[float, float]:
    """Receive every event from ``threads`` threads; events/s and this process's CPU
    milliseconds per event (the figure the other jobs on a shared machine move least)."""
    return _timed(lambda made: payments.receive_webhook(*made), signed, threads)


BARE_INSERT = """
INSERT INTO webhook_events (id, stripe_event_id, event_type, payload, processed, status,
    signature_verified, attempts, next_attempt_at, created_at)
VALUES (%s, %s, %s, %s, false, 'pending', true, 0, now(), now())
ON CONFLICT (stripe_event_id) DO NOTHING RETURNING id
"""


def bare_receive_all(
    url: str, signed: list[tuple[bytes, str]], threads: int
) -> tuple[float, float]:
    """The baseline receiver: what a host app would write without the library, from
    ``threads`` threads, each with its own connection in autocommit; events/s and CPU ms per
    event, as ``receive_all``."""
    import psycopg
    from psycopg.types.json import Jsonb

    local = threading.local()
    opened: list[Any] = []
    key = SECRET.encode()

    def receive(made: tuple[bytes, str]) -> None:
        body, header = made
        parts = dict(item.split("=", 1) for item in header.split(","))
        expected = hmac.new(key, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts["v1"]) or int(parts["t"]) < time.time() - 300:
            raise SystemExit("the baseline refused a signature")
        event = json.loads(body)
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = psycopg.connect(
                url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
            )
            opened.append(connection)
        connection.execute(BARE_INSERT, (uuid.uuid4(), event["id"], event["type"], Jsonb(event)))

    try:
        return _timed(receive, signed, threads)
    finally:
        for connection in opened:
            connection.close()


def _timed(receive: Any, signed: list[tuple[bytes, str]], threads: int) -> tuple[float, float]:
    """Events/s and this process's CPU ms per event of ``receive`` over every event."""
    started, cpu = time.perf_counter(), time.process_time()
    if threads == 1:
        for made in signed:
            receive(made)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(receive, signed))
    per_second = round(len(signed) / (time.perf_counter() - started), 1)
    return per_second, round((time.process_time() - cpu) * 1000 / len(signed), 3)


def drain(
    payments: Payments, url: str, workers: int, log_dir: Path, *, baseline: bool, pooled: bool
) -> tuple[float, float]:
    """Start the consumers idle, make every event due at once, time until none is left;
    seconds, and the consumers' CPU seconds meanwhile."""
    running = start_workers(url, workers, log_dir, baseline=baseline, pooled=pooled)
    try:
        if not baseline:  # timed warm, as the baseline's: each worker's first (cold) pass done
            ids = ", ".join(f"'{socket.gethostname()}:{worker.pid}'" for worker in running)
            beats = f"SELECT count(*) FROM worker_heartbeats WHERE worker_id IN ({ids})"
            deadline = time.monotonic() + STARTUP_SECONDS
            while count(payments, beats) < workers:
                if time.monotonic() > deadline:
                    raise SystemExit("a worker did not finish its first pass")
                time.sleep(0.05)
        cpu = sum(cpu_seconds(worker.pid) for worker in running)
        started = time.perf_counter()
        with payments.database.engine.begin() as connection:
            connection.execute(text("UPDATE webhook_events SET next_attempt_at = now()"))
        while count(payments, "SELECT count(*) FROM webhook_events WHERE NOT processed"):
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        cpu = sum(cpu_seconds(worker.pid) for worker in running) - cpu
    finally:
        for worker in running:
            worker.terminate()
        for worker in running:
            worker.wait(timeout=30)
    return seconds, cpu


RESET = [
    "UPDATE payments SET status = 'pending'",
    "UPDATE webhook_events SET processed = false, status = 'pending', processed_at = NULL, "
    "attempts = 0, next_attempt_at = 'infinity'",
]


def run(
    admin_url: str,
    events: int,
    workers: int,
    threads: list[int],
    log_dir: Path,
    bouncer: Any = None,
    receive_only: bool = False,
) -> dict[str, float]:
    """Receive with each number of threads (a fresh inbox each time), then drain the last
    inbox with the library's workers and with the baseline consumers."""
    with fresh_database(admin_url) as url:
        settings = Settings(database_url=url, webhook_secrets=[SECRET], database_pool_size=10)
        with Payments.from_settings(settings) as payments:
            payments.upgrade_database()
            bodies = [succeeded_event(*made) for made in pending_payments(payments, events)]
            signed = [(b, signature_header(b, [SECRET], int(time.time()))) for b in bodies]
            receiving = receive_phase(payments, url, signed, threads)
            if receive_only:
                return {"events": events, **receiving}
            succeeded = "SELECT count(*) FROM payments WHERE status='succeeded'"
            results, cpu = {}, {}
            for baseline in (False, True):
                with payments.database.engine.begin() as connection:
                    for statement in RESET:
                        connection.execute(text(statement))
                worker_url = bouncer.url_for(url) if bouncer is not None else url
                seconds, used = drain(
                    payments,
                    worker_url,
                    workers,
                    log_dir,
                    baseline=baseline,
                    pooled=bouncer is not None,
                )
                if count(payments, succeeded) != events:
                    raise SystemExit(f"only {count(payments, succeeded)} of {events} succeeded")
                name = "baseline" if baseline else "library"
                results[name] = round(events / seconds, 1)
                cpu[name] = round(used * 1000 / events, 3)
        if bouncer is not None:
            bouncer.release(make_url(url).database or "")
    return {
        "events": events,
        "workers": workers,
        "through_pgbouncer": bouncer is not None,
        **receiving,
        "drain_events_per_second": results["library"],
        "baseline_drain_events_per_second": results["baseline"],
        "drain_ratio": round(results["library"] / results["baseline"], 2),
        "drain_cpu_ms_per_event": cpu["library"],
        "baseline_drain_cpu_ms_per_event": cpu["baseline"],
    }


def receive_phase(
    payments: Payments, url: str, signed: list[tuple[bytes, str]], threads: list[int]
) -> dict[str, float]:
    """For each number of threads: the bare receiver, then the library (its inbox is what the
    drains take), each into an empty inbox."""
    payments.receive_webhook(*signed[0])  # imports and first connections before timing
    figures: dict[str, float] = {}
    for number in threads:
        for name in ("bare_receive", "receive"):
            with payments.database.engine.begin() as connection:
                connection.execute(text("DELETE FROM webhook_events"))
            if name == "receive":
                rate, cpu = receive_all(payments, signed, number)
            else:
                rate, cpu = bare_receive_all(url, signed, number)
            if count(payments, "SELECT count(*) FROM webhook_events") != len(signed):
                raise SystemExit(f"{name}: not every event was stored")
            figures[f"{name}_events_per_second_{number}_threads"] = rate
            figures[f"{name}_cpu_ms_per_event_{number}_threads"] = cpu
        figures[f"receive_ratio_{number}_threads"] = round(
            figures[f"receive_events_per_second_{number}_threads"]
            / figures[f"bare_receive_events_per_second_{number}_threads"],
            2,
        )
    return figures


def print_receiving(results: list[dict[str, Any]], threads: list[int]) -> None:
    """One line per number of threads: library and bare receive, events/s and CPU ms."""
    print(
        f"{'events':>6} {'threads':>7} {'recv ev/s':>10} {'bare ev/s':>10} {'ratio':>6}"
        f" {'recv CPU ms':>11} {'bare CPU ms':>11}"
    )
    for r in results:
        for n in threads:
            print(
                f"{r['events']:>6} {n:>7} {r[f'receive_events_per_second_{n}_threads']:>10}"
                f" {r[f'bare_receive_events_per_second_{n}_threads']:>10}"
                f" {r[f'receive_ratio_{n}_threads']:>6}"
                f" {r[f'receive_cpu_ms_per_event_{n}_threads']:>11}"
                f" {r[f'bare_receive_cpu_ms_per_event_{n}_threads']:>11}"
            )
    print()


def profile(admin_url: str, events: int) -> None:
    """cProfile of one in-process receive of every event and one in-process drain."""
    with fresh_database(admin_url) as url:
        settings = Settings(database_url=url, webhook_secrets=[SECRET])
        with Payments.from_settings(settings) as payments:
            payments.upgrade_database()
            bodies = [succeeded_event(*made) for made in pending_payments(payments, events)]
            signed = [(b, signature_header(b, [SECRET], int(time.time()))) for b in bodies]
            payments.receive_webhook(*signed[0])
            with cProfile.Profile(time.process_time) as receiving:  # CPU, not waits
                for made in signed[1:]:
                    payments.receive_webhook(*made)
            with cProfile.Profile() as draining:
                while payments.process_webhooks(limit=100).processed == 100:
                    pass
    for name, profiled in (("receive", receiving), ("drain", draining)):
        print(f"--- {name}: {events} events", file=sys.stderr)
        stats = pstats.Stats(profiled, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per run (2000)")
    parser.add_argument("--workers", default="1,2", help="worker processes per run (1,2)")
    parser.add_argument("--threads", default="1,8", help="receiving threads, baseline first")
    parser.add_argument("--database-url", help="admin URL of a PostgreSQL server")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--profile", action="store_true", help="cProfile receive and drain")
    parser.add_argument("--consume", metavar="URL", help=argparse.SUPPRESS)  # the baseline
    parser.add_argument(
        "--pgbouncer", action="store_true", help="workers through PgBouncer (transaction mode)"
    )
    parser.add_argument("--receive-only", action="store_true", help="no drains: receive only")
    options = parser.parse_args()
    if options.consume:
        return consume(options.consume)
    configure_logging("warning")  # as in production: info lines for every event cost time
    log_dir = Path(tempfile.mkdtemp(prefix="webhooks_throughput_"))
    threads = [int(n) for n in options.threads.split(",")]
    with postgres_server(options.database_url) as admin_url:
        if options.profile:
            profile(admin_url, options.events)
            return 0
        bouncer = start_pooler(admin_url) if options.pgbouncer else None
        try:
            if options.receive_only:
                results = [
                    run(admin_url, options.events, 0, threads, log_dir, receive_only=True)
                ]
            else:
                results = [
                    run(admin_url, options.events, int(workers), threads, log_dir, bouncer)
                    for workers in options.workers.split(",")
                ]
        finally:
            if bouncer is not None:
                bouncer.stop()
    if options.json:
        print(json.dumps(results))
        return 0
    print_receiving(results, threads)
    if options.receive_only:
        return 0
    receiving = [f"recv {n}thr ev/s" for n in threads] + [f"CPU ms {n}thr" for n in threads]
    print(
        f"{'events':>6} {'workers':>7} "
        + " ".join(f"{h:>15}" for h in receiving)
        + f" {'drain ev/s':>10} {'base ev/s':>10} {'ratio':>6} {'drain CPU ms':>12}"
        f" {'base CPU ms':>11}"
    )
    for r in results:
        received = [r[f"receive_events_per_second_{n}_threads"] for n in threads]
        received += [r[f"receive_cpu_ms_per_event_{n}_threads"] for n in threads]
        print(
            f"{r['events']:>6} {r['workers']:>7} "
            + " ".join(f"{v:>15}" for v in received)
            + f" {r['drain_events_per_second']:>10} {r['baseline_drain_events_per_second']:>10}"
            f" {r['drain_ratio']:>6} {r['drain_cpu_ms_per_event']:>12}"
            f" {r['baseline_drain_cpu_ms_per_event']:>11}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
