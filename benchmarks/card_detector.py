"""How long the card-number detector takes on the hot paths: input checks and every log line.

    .venv/bin/python benchmarks/card_detector.py            # a table of microseconds per call
    .venv/bin/python benchmarks/card_detector.py --json     # the same figures as JSON

Each figure is the best of five runs of N calls, divided by N (timeit's advice: the minimum is
the least disturbed run). The inputs are what the library sees every second: an idempotency
key, a UUID, a short log message, a typical log event (ids, a trace id, numbers, a timestamp)
run through the structlog scrubbing processor, a long description without a card, and texts
that do hold one (a plain run and a dotted one, scrubbed).
"""

from __future__ import annotations

import argparse
import json
import timeit
import uuid

from payment_lib.domain.card_data import contains_card_number, redact_card_numbers
from payment_lib.observability import scrub_card_numbers

EVENT = {
    "event": "payment recorded",
    "payment_id": str(uuid.uuid4()),
    "user_id": str(uuid.uuid4()),
    "trace_id": uuid.uuid4().hex,
    "status": "succeeded",
    "amount": 2000,
    "currency": "usd",
    "stripe_transaction_id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    "duration_seconds": 0.123,
    "timestamp": "2026-11-30T20:01:00.123456Z",
    "level": "info",
}
DESCRIPTION = "Order 1042 for Ada Lovelace, 2 items shipped to 12 Analytical Engine Way. " * 6
CASES = {
    "idempotency key": (contains_card_number, "order-1042-retry-2"),
    "uuid": (contains_card_number, str(uuid.uuid4())),
    "log message": (contains_card_number, "webhook processed"),
    "500-char description": (contains_card_number, DESCRIPTION[:500]),
    "card, plain": (redact_card_numbers, "card 4242424242424242 please"),
    "card, dotted": (redact_card_numbers, "key 4945.8073.0215.7365"),
}


def measure(number: int) -> dict[str, float]:
    """Microseconds per call for each case, and for scrubbing one typical log event."""
    figures = {}
    for name, (function, text) in CASES.items():
        best = min(timeit.repeat(lambda f=function, t=text: f(t), number=number, repeat=5))
        figures[name] = best / number * 1e6
    best = min(
        timeit.repeat(lambda: scrub_card_numbers(None, "info", EVENT), number=number, repeat=5)
    )
    figures["log event (11 fields)"] = best / number * 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000, help="calls per run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure(args.number)
    if args.json:
        print(json.dumps({k: round(v, 2) for k, v in figures.items()}))
        return
    for name, micros in figures.items():
        print(f"{name:<24} {micros:8.2f} µs")


if __name__ == "__main__":
    main()
