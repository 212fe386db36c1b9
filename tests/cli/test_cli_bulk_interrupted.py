"""process-refund --from FILE killed half-way (SIGKILL) and run again: every payment is
refunded exactly once, at Stripe (the emulator) and in the database (issue 14, item 9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from payment_lib import Payments

LINES = 1000

pytestmark = [pytest.mark.slow, pytest.mark.emulator_only]


def paid(settings, count):
    with Payments.from_settings(settings, registry=CollectorRegistry()) as payments:

        def one(n):
            return str(payments.pay(user_id=str(uuid.uuid4()), amount="20.00", currency="usd",
                                    payment_method="pm_card_visa",
                                    idempotency_key=f"bulk-{n}").id)

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(one, range(count)))


def command(settings, source):
    env = {
        **os.environ,
        "PAYMENT_DATABASE_URL": settings.database_url,
        "PAYMENT_STRIPE_API_KEY": settings.stripe_api_key.get_secret_value(),
        "PAYMENT_STRIPE_API_BASE": settings.stripe_api_base or "",
        "PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS": "0.01",
    }
    argv = [sys.executable, "-m", "payment_cli", "process-refund", "--from", str(source),
            "--operator", "batch", "--json"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)


def test_a_killed_bulk_refund_run_again_refunds_each_payment_once(
    settings, stripe_emulator, tmp_path
):
    ids = paid(settings, LINES)
    source = tmp_path / "refunds.csv"
    source.write_text("payment_id,amount,reason,note\n" + "".join(
        f"{payment},{'' if n % 2 else '5.00'},requested_by_customer,line {n}\n"
        for n, payment in enumerate(ids)))

    first = command(settings, source)
    done = 0
    assert first.stdout is not None
    while done < LINES // 2:
        assert first.stdout.readline(), "the first run ended early"
        done += 1
    first.send_signal(signal.SIGKILL)
    first.wait()
    started = time.monotonic()
    second = command(settings, source)
    out, _ = second.communicate(timeout=600)
    elapsed = time.monotonic() - started

    assert second.returncode == 0, out[-2000:]
    *lines, last = [json.loads(line) for line in out.decode().splitlines()]
    summary = last["summary"]
    assert summary["lines"] == LINES and summary["failed"] == 0
    assert summary["replayed"] >= LINES // 2
    assert len(lines) == LINES
    print(f"rerun of {LINES} lines: {elapsed:.1f} s, {summary}")

    with stripe_emulator.store.lock:
        refunds = [o for o in stripe_emulator.store.objects.values()
                   if o.get("object") == "refund"]
    by_intent: dict[str, int] = {}
    for refund in refunds:
        by_intent[refund["payment_intent"]] = by_intent.get(refund["payment_intent"], 0) + 1
    assert len(by_intent) == LINES and set(by_intent.values()) == {1}

    engine = sa.create_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT p.amount_refunded, count(r.id), min(r.status), max(r.status) "
            "FROM payments p JOIN refunds r ON r.payment_id = p.id GROUP BY p.id")).all()
    engine.dispose()
    assert len(rows) == LINES
    assert all(count == 1 and low == high == "succeeded" for _, count, low, high in rows)
    assert sorted({amount for amount, *_ in rows}) == [500, 2000]
