"""The seed's success criteria, measured under a realistic mixed load against the emulator.

For ``--duration`` seconds, payments arrive at ``--rate`` per second, each from a new customer
(so the per-user rate limit never bites). Stripe's latency is drawn from a log-normal with a
median of ~400 ms and a 95th percentile of ~1.5 s (the emulator's ``latency_p95`` fault). Card
mix: 2 % decline (``pm_card_chargeDeclined``), 5 % need 3-D Secure (the customer completes the
challenge 2-8 s later and comes back to the return URL, where the host app asks
``refresh_payment``), the rest succeed. One in ten succeeded payments is refunded in part a
little later. Webhooks are delivered by the emulator to a loopback endpoint that delays each
one randomly (so they arrive out of order) and delivers one in ten twice; ``--workers``
processes of ``payment-cli worker`` (2, as deployed) drain them and send the emails to a
loopback SMTP server.

Then, once the inbox and outbox are empty (or ``--drain-timeout`` passed), a reconcile over
the whole run compares our record with Stripe's, and each criterion is printed with its
target and the measured value. Exits 1 when any is missed.

| criterion | measured as |
|---|---|
| SC-001 success > 95 % | payments ending succeeded (3-D Secure included) / attempted |
| SC-002 p95 < 5 s | wall time of ``Payments.pay`` (the request path) |
| SC-003 3-D Secure < 30 s | from the customer's challenge answer to our row saying succeeded |
| SC-004 webhooks < 60 s | from the event's creation at Stripe to its processing (p99) |
| SC-008 refunds < 24 h | from the refund request to our refund row saying succeeded (max) |
| SC-009 status accuracy 99.9 % | 1 - drifts found by the final reconcile / payments |
| SC-010 emails < 5 min | from an email's queueing to its sending (max) |

Usage: .venv/bin/python benchmarks/slo.py [--duration 120] [--rate 4] [--json]
       [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from payments_load import Emulator, fresh_database, postgres_server
from sqlalchemy import text

from payment_lib import Actor, PaymentError, Payments
from payment_lib.config import Settings
from payment_lib.observability import configure_logging
from payment_lib.testing import DEFAULT_API_KEY

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_slo_benchmark"  # noqa: S105 (the emulator's signing secret)
RETURN_URL = "https://shop.example/return"
ADMIN = Actor.admin("slo-benchmark")
DECLINE, THREE_DS, OK = "pm_card_chargeDeclined", "pm_card_threeDSecure2Required", "pm_card_visa"


@dataclass
class Measured:
    attempted: int = 0
    succeeded_now: int = 0
    declined: int = 0
    errors: list[str] = field(default_factory=list)
    pay_seconds: list[float] = field(default_factory=list)
    # payment id -> monotonic time the customer finished the 3-D Secure challenge
    challenged: dict[str, float] = field(default_factory=dict)
    three_ds_seconds: list[float] = field(default_factory=list)
    refund_seconds: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


class NoisyWebhookEndpoint:
    """Where the emulator delivers events: each delivery is handed to the library after a random
    delay (reordering), one in ten twice (duplicates), as a host app's endpoint would."""

    def __init__(self, receive: Callable[[bytes, str], object], rng: random.Random) -> None:
        self.receive, self.rng = receive, rng
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signature = self.headers.get("Stripe-Signature", "")
                copies = 2 if endpoint.rng.random() < 0.1 else 1
                for _ in range(copies):
                    delay = endpoint.rng.uniform(0, 1.5)
                    threading.Timer(delay, endpoint.deliver, (body, signature)).start()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def deliver(self, body: bytes, signature: str) -> None:
        try:
            self.receive(body, signature)
        except PaymentError as error:  # a late copy past the tolerance, say: counted below
            print(f"webhook refused: {error.code}", file=sys.stderr)

    def close(self) -> None:
        self.server.shutdown()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scalar(payments: Payments, sql: str) -> Any:
    with payments.database.engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


def lag_seconds(payments: Payments, sql: str) -> list[float]:
    with payments.database.engine.connect() as connection:
        return [float(row[0]) for row in connection.execute(text(sql)) if row[0] is not None]


def one_payment(
    n: int, payments: Payments, emulator: Emulator, measured: Measured, rng: random.Random
) -> None:
    draw = rng.random()
    card = DECLINE if draw < 0.02 else THREE_DS if draw < 0.07 else OK
    started = time.monotonic()
    try:
        result = payments.pay(
            user_id=uuid.uuid4(),
            amount="20.00",
            currency="usd",
            payment_method=card,
            idempotency_key=f"slo-{n}",
            customer_email=f"customer{n}@shop.example",
        )
    except PaymentError as error:
        with measured.lock:
            measured.attempted += 1
            measured.pay_seconds.append(time.monotonic() - started)
            if error.code == "card_declined":
                measured.declined += 1
            else:
                measured.errors.append(error.code)
        return
    with measured.lock:
        measured.attempted += 1
        measured.pay_seconds.append(time.monotonic() - started)
        measured.declined += result.status == "failed"
    if result.status == "requires_action":
        time.sleep(rng.uniform(2, 8))  # the customer answers the challenge
        intent = result.stripe_transaction_id
        emulator.control("POST", f"payment_intents/{intent}/authenticate", {"success": True})
        answered = time.monotonic()
        # The customer's browser comes back to the return URL: the host asks for the outcome.
        if payments.refresh_payment(result.id).status == "succeeded":
            with measured.lock:
                measured.three_ds_seconds.append(time.monotonic() - answered)
        else:  # the webhook will tell: the watcher times it
            with measured.lock:
                measured.challenged[str(result.id)] = answered
        return
    if result.status != "succeeded":
        return
    with measured.lock:
        measured.succeeded_now += 1
    if rng.random() < 0.1:
        time.sleep(rng.uniform(0.5, 3))
        asked = time.monotonic()
        refund = payments.refund(
            result.id,
            actor=ADMIN,
            amount="5.00",
            idempotency_key=f"slo-refund-{n}",
            reason="requested_by_customer",
        )
        while refund.status == "pending" and time.monotonic() - asked < 60:
            time.sleep(0.2)
            refund = payments.get_refund(refund.id)
        with measured.lock:
            measured.refund_seconds.append(time.monotonic() - asked)


def watch_challenges(payments: Payments, measured: Measured, stop: threading.Event) -> None:
    """SC-003: when each challenged payment's row turns succeeded."""
    while not stop.is_set():
        with measured.lock:
            waiting = dict(measured.challenged)
        for payment_id, since in waiting.items():
            if payments.get_payment(payment_id).status == "succeeded":
                with measured.lock:
                    measured.challenged.pop(payment_id, None)
                    measured.three_ds_seconds.append(time.monotonic() - since)
        stop.wait(0.2)


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """One ``payment-cli worker`` process (its log at ``log_path``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    env.update(
        PAYMENT_DATABASE_URL=settings.database_url,
        PAYMENT_STRIPE_API_KEY=DEFAULT_API_KEY,
        PAYMENT_STRIPE_API_BASE=settings.stripe_api_base or "",
        PAYMENT_WEBHOOK_SECRETS=SECRET,
        PAYMENT_SMTP_HOST=settings.smtp_host,
        PAYMENT_SMTP_PORT=str(settings.smtp_port),
        PAYMENT_RECONCILE_INTERVAL_SECONDS="0",
    )
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "payment_cli",
                "--log-level",
                "warning",
                "worker",
                "--interval",
                "0.2",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def run(args: argparse.Namespace, database_url: str, emulator: Emulator) -> dict[str, Any]:
    rng = random.Random(args.seed)
    smtp = Controller(_Sink(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    settings = Settings(
        database_url=database_url,
        stripe_api_key=DEFAULT_API_KEY,
        stripe_api_base=emulator.url,
        return_url=RETURN_URL,
        webhook_secrets=(SECRET,),
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        database_pool_size=20,
        database_max_overflow=20,
    )
    payments = Payments.from_settings(settings)
    payments.upgrade_database()
    endpoint = NoisyWebhookEndpoint(payments.receive_webhook, random.Random(args.seed + 1))
    emulator.control("POST", "reset")
    emulator.control("POST", "webhooks", {"url": endpoint.url, "secret": [SECRET]})
    emulator.control("POST", "faults", {"latency": 0.4, "latency_p95": 1.5})
    workers = [
        start_worker(settings, Path(f"{args.worker_log}.{n}")) for n in range(args.workers)
    ]
    measured, stop = Measured(), threading.Event()
    watcher = threading.Thread(target=watch_challenges, args=(payments, measured, stop))
    watcher.start()
    begun = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    try:
        with ThreadPoolExecutor(max_workers=64) as pool:
            started, n = time.monotonic(), 0
            while time.monotonic() - started < args.duration:
                pool.submit(one_payment, n, payments, emulator, measured, rng)
                n += 1
                time.sleep(rng.expovariate(args.rate))
        deadline = time.monotonic() + args.drain_timeout
        while time.monotonic() < deadline and (
            measured.challenged
            or scalar(payments, "SELECT count(*) FROM webhook_events WHERE NOT processed")
            or scalar(payments, "SELECT count(*) FROM notifications WHERE status <> 'sent'")
        ):
            time.sleep(0.5)
    finally:
        stop.set()
        watcher.join()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    emulator.control("DELETE", "faults")
    report = payments.reconcile(begun, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    recorded = scalar(payments, "SELECT count(*) FROM payments")
    succeeded = scalar(
        payments,
        "SELECT count(*) FROM payments WHERE status IN "
        "('succeeded', 'partially_refunded', 'refunded')",
    )
    epoch = "EXTRACT(EPOCH FROM processed_at) - (payload->>'created')::float"
    webhook_lag = lag_seconds(payments, f"SELECT {epoch} FROM webhook_events")
    email_lag = lag_seconds(
        payments, "SELECT EXTRACT(EPOCH FROM sent_at - created_at) FROM notifications"
    )
    unprocessed = scalar(payments, "SELECT count(*) FROM webhook_events WHERE NOT processed")
    with payments.database.engine.connect() as connection:
        inbox = {
            f"{status}/{processed}": count
            for status, processed, count in connection.execute(
                text(
                    "SELECT status, processed, count(*) FROM webhook_events "
                    "GROUP BY status, processed"
                )
            )
        }
        problems = [
            f"{row[0]}: {row[1]}"
            for row in connection.execute(
                text(
                    "SELECT event_type, last_error FROM webhook_events "
                    "WHERE NOT processed LIMIT 5"
                )
            )
        ]
    unsent = scalar(payments, "SELECT count(*) FROM notifications WHERE status <> 'sent'")
    payments.close()
    endpoint.close()
    smtp.stop()
    drifts = sum(report.counts.values())
    criteria = [
        (
            "SC-001",
            "payment success rate",
            "> 95 %",
            succeeded / max(measured.attempted, 1) * 100,
            lambda v: v > 95,
            "%",
        ),
        (
            "SC-002",
            "processing time p95",
            "< 5 s",
            percentile(measured.pay_seconds, 0.95),
            lambda v: v < 5,
            "s",
        ),
        (
            "SC-003",
            "3-D Secure completion (max)",
            "< 30 s",
            max(measured.three_ds_seconds, default=0.0)
            if not measured.challenged
            else float("inf"),
            lambda v: v < 30,
            "s",
        ),
        (
            "SC-004",
            "webhook lag p99",
            "< 60 s",
            percentile(webhook_lag, 0.99) if not unprocessed else float("inf"),
            lambda v: v < 60,
            "s",
        ),
        (
            "SC-008",
            "refund time (max)",
            "< 24 h",
            max(measured.refund_seconds, default=0.0),
            lambda v: v < 86400,
            "s",
        ),
        (
            "SC-009",
            "status accuracy",
            ">= 99.9 %",
            (1 - drifts / max(recorded, 1)) * 100,
            lambda v: v >= 99.9,
            "%",
        ),
        (
            "SC-010",
            "email time (max)",
            "< 5 min",
            max(email_lag, default=0.0) if not unsent else float("inf"),
            lambda v: v < 300,
            "s",
        ),
    ]
    return {
        "duration_s": args.duration,
        "rate_per_s": args.rate,
        "attempted": measured.attempted,
        "recorded": recorded,
        "succeeded": succeeded,
        "declined": measured.declined,
        "errors": measured.errors,
        "three_ds": len(measured.three_ds_seconds),
        "refunds": len(measured.refund_seconds),
        "webhooks": len(webhook_lag),
        "emails": len(email_lag),
        "drift": report.counts,
        "inbox": inbox,
        "unprocessed_sample": problems,
        "pay_p50_s": round(statistics.median(measured.pay_seconds or [0]), 3),
        "criteria": [
            {
                "id": cid,
                "what": what,
                "target": target,
                "measured": round(value, 3),
                "unit": unit,
                "met": bool(check(value)),
            }
            for cid, what, target, value, check, unit in criteria
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of arrivals")
    parser.add_argument("--rate", type=float, default=4.0, help="payments per second")
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (deployed: 2+)")
    parser.add_argument("--database-url", help="a PostgreSQL admin URL (default: a throwaway)")
    parser.add_argument("--worker-log", default="/tmp/slo-worker.log")  # noqa: S108
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("error")
    emulator = Emulator()
    try:
        with postgres_server(args.database_url) as admin_url, fresh_database(admin_url) as url:
            result = run(args, url, emulator)
    finally:
        emulator.stop()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['attempted']} payments in {args.duration:.0f} s ({args.rate}/s): "
            f"{result['succeeded']} succeeded, {result['declined']} declined, "
            f"{result['three_ds']} via 3-D Secure, {result['refunds']} refunds, "
            f"{result['webhooks']} webhooks, {result['emails']} emails; "
            f"pay p50 {result['pay_p50_s']} s; drift {result['drift'] or 'none'}"
        )
        print(f"{'criterion':<8} {'what':<30} {'target':>10} {'measured':>12}  result")
        for c in result["criteria"]:
            shown = f"{c['measured']} {c['unit']}"
            print(
                f"{c['id']:<8} {c['what']:<30} {c['target']:>10} {shown:>12}  "
                f"{'met' if c['met'] else 'MISSED'}"
            )
    return 0 if all(c["met"] for c in result["criteria"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
