"""What pay()'s own Python costs outside the database: each piece alone, and inside real payments.

    .venv/bin/python benchmarks/python_costs.py                 # microseconds per call, warm
    .venv/bin/python benchmarks/python_costs.py --in-situ 300   # and inside 300 payments
    .venv/bin/python benchmarks/python_costs.py --json

Warm: each piece called in a loop, best of 7 runs of N calls, timed on this thread's CPU clock
(the machine is shared: wall time would count other jobs): a log line as ``configure_logging``
renders it (JSON to /dev/null, in a trace with the two fields pay() binds), the gateway's
``_call`` around a function that returns at once (breaker, retries, the "stripe call" line),
checking a payment request, its fingerprint, ``PaymentInfo.of``, the circuit breaker alone.

In situ (``--in-situ N``): PostgreSQL and the emulator as ``payments_load.py`` starts them; N
library and N bare payments one after another, interleaved in blocks of 20 so the machine's
load falls on both alike, their CPU per payment; then N more library payments with the log
calls, the request checks and ``PaymentInfo.of`` timed where they run: with everything else a
payment does in between, the caches are cold and each costs 3-5 times its warm figure.

Only public names (and ``StripeGateway._call``) are used, so the same script measures main.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import functools
import json
import os
import sys
import time
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import stripe
import structlog

from payment_lib.circuit_breaker import CircuitBreaker
from payment_lib.db.tables import Payment
from payment_lib.observability import configure_logging, trace
from payment_lib.services.payment_requests import validate_payment_request
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.stripe_gateway.gateway import StripeGateway

FIELDS = dict(
    user_id=uuid.uuid4(),
    amount="20.00",
    currency="usd",
    payment_method="pm_card_visa",
    idempotency_key="load-library-0ms-1a2b3c4d-17",
)


def best_micros(function: Callable[[], object], number: int) -> float:
    timer = timeit.Timer(function, timer=time.thread_time)
    return min(timer.repeat(number=number, repeat=7)) / number * 1e6


def warm(number: int) -> dict[str, float]:
    """Microseconds per call of each piece, warm."""
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
    log = structlog.get_logger("payment_lib.services.payments")
    payment_id = str(uuid.uuid4())
    gateway = StripeGateway(stripe.StripeClient("sk_test_benchmark"))
    breaker = CircuitBreaker()
    request = validate_payment_request(**FIELDS)
    now = dt.datetime.now(dt.UTC)
    # The columns pay()'s row has set when it is returned.
    payment = Payment(
        id=uuid.uuid4(), user_id=uuid.uuid4(), amount=2000, currency="usd",
        status="succeeded", kind="payment", idempotency_key="k", request_fingerprint="f",
        details={}, amount_refunded=0, amount_lost=0, created_at=now, updated_at=now,
        stripe_transaction_id="pi_1", plan_id=None, subscription_id=None, customer_email=None,
        description=None, redirect_url=None, failure_code=None, failure_message=None,
    )  # fmt: skip
    figures = {}
    with (
        trace(),
        structlog.contextvars.bound_contextvars(
            user_id=str(FIELDS["user_id"]), idempotency_key=FIELDS["idempotency_key"]
        ),
    ):
        figures["log line (JSON, 3 fields + 3 bound)"] = best_micros(
            lambda: log.info("payment attempt", payment_id=payment_id, amount=2000, currency="usd"),
            number,
        )
        figures["gateway _call (one log line)"] = best_micros(
            lambda: gateway._call("payment_intents.create", lambda: None), number
        )
    figures["request checks"] = best_micros(lambda: validate_payment_request(**FIELDS), number)
    figures["request fingerprint"] = best_micros(request.fingerprint, number)
    figures["PaymentInfo.of"] = best_micros(lambda: PaymentInfo.of(payment), number)
    figures["circuit breaker call"] = best_micros(lambda: breaker.call(lambda: None), number)
    return figures


def timed_into(spent: collections.Counter[str], label: str, function: Any) -> Any:
    """``function``, adding the thread CPU time of each call to ``spent[label]`` (ns)."""

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time_ns()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.thread_time_ns() - started

    return timed


def in_situ(count: int) -> dict[str, float]:
    """CPU µs per payment: library and bare, interleaved; then pieces timed where they run."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import payments_load as load

    from payment_lib.services import payment_requests, payments

    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115
    block = 20
    figures: dict[str, float] = {}
    with load.postgres_server(None) as admin, load.fresh_database(admin) as url:
        emulator = load.Emulator()
        library = load.LibraryTarget(url, emulator.url, {})
        bare = load.BaselineTarget(url, emulator.url)
        try:
            for target in (library, bare):
                load.warm_up(target, emulator, 5)
            emulator.prepare(0)
            cpu: collections.Counter[str] = collections.Counter()
            keys = {
                target.name: iter(load.unique_keys(f"situ-{target.name}", count))
                for target in (library, bare)
            }
            for number in range(count // block):
                for target in (library, bare) if number % 2 == 0 else (bare, library):
                    started = time.thread_time()
                    for _ in range(block):
                        target.pay(next(keys[target.name]))
                    cpu[target.name] += time.thread_time() - started
            done = count // block * block
            figures["library CPU us/payment"] = cpu["library"] * 1e6 / done
            figures["bare CPU us/payment"] = cpu[bare.name] * 1e6 / done
            figures["library - bare"] = (
                figures["library CPU us/payment"] - figures["bare CPU us/payment"]
            )
            spent: collections.Counter[str] = collections.Counter()
            bound = type(structlog.get_logger("x").bind())
            for level in ("info", "warning", "error"):
                setattr(bound, level, timed_into(spent, "log lines", getattr(bound, level)))
            payment_requests.validate_payment_request = timed_into(
                spent, "request checks", payment_requests.validate_payment_request
            )
            PaymentInfo.of = timed_into(spent, "PaymentInfo.of", PaymentInfo.of)  # type: ignore[method-assign]
            payments.trace = timed_into(spent, "trace()", payments.trace)  # type: ignore[attr-defined]
            emulator.prepare(0)
            for key in load.unique_keys("situ-pieces", count):
                library.pay(key)
            for label, ns in spent.most_common():
                figures[f"in pay(): {label} us/payment"] = ns / 1000 / count
        finally:
            library.close()
            bare.close()
            emulator.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000, help="calls per warm run")
    parser.add_argument("--in-situ", type=int, default=0, metavar="N", help="payments in situ")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = warm(args.number)
    if args.in_situ:
        figures |= in_situ(args.in_situ)
    if args.json:
        print(json.dumps({name: round(value, 2) for name, value in figures.items()}))
        return
    for name, micros in figures.items():
        print(f"{name:<44} {micros:9.2f} µs")


if __name__ == "__main__":
    main()
