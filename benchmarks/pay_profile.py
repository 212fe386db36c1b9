"""Where pay()'s CPU goes beyond the bare path: differential cProfile and per-phase CPU time.

    .venv/bin/python benchmarks/pay_profile.py                # 300 payments each way
    .venv/bin/python benchmarks/pay_profile.py --payments 500 --top 30

PostgreSQL and the emulator as ``payments_load.py`` starts them (their CPU is not counted).

1. Differential profile: N library payments (``Payments.pay``) and N bare ones (the SDK's
   ``payment_intents.create(confirm=True)`` plus one INSERT) one after another under cProfile
   on the CPU clock; own time per payment summed by package (sqlalchemy, psycopg, structlog,
   payment_lib's modules, ...), library minus bare. The profiler inflates small calls about
   3 times: read the differences as shares, not as microseconds saved.
2. Phases: N more library payments without the profiler, with pay()'s phases timed where they
   run on this thread's CPU clock (``time.thread_time_ns``): the request checks, transaction 1
   (``_begin``), the Stripe call, transaction 2 (``record_outcome``), the pool's checkouts and
   check-ins, the scripts' round trips, the log lines. Interleaved with N bare payments in blocks
   of 20, so the library's total over the bare path is measured in the same window.

Only names that exist on main as well are wrapped, so the same script measures main.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent))
import payments_load as load
from python_costs import timed_into

from payment_lib.observability import configure_logging

BLOCK = 20


def package_of(filename: str) -> str:
    """A profile entry's group: a third-party package, payment_lib's module, or the stdlib."""
    path = filename.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/payment_lib/" in path:
        return "payment_lib." + path.split("/payment_lib/", 1)[1].removesuffix(".py")
    if "/benchmarks/" in path:
        return "benchmark"
    if filename.startswith("<") or filename == "~":
        return "builtins"
    return "stdlib." + Path(path).stem


def profiled(pay: Callable[[str], None], keys: list[str]) -> dict[str, float]:
    """Own CPU µs per payment by package, under cProfile."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for key in keys:
        pay(key)
    profiler.disable()
    stats = pstats.Stats(profiler)
    spent: collections.Counter[str] = collections.Counter()
    for (filename, _line, _name), entry in stats.stats.items():  # type: ignore[attr-defined]
        spent[package_of(filename)] += entry[2]
    return {name: seconds * 1e6 / len(keys) for name, seconds in spent.items()}


def differential(library: Any, bare: Any, emulator: Any, count: int, top: int) -> None:
    emulator.prepare(0)
    mine = profiled(library.pay, load.unique_keys("prof-library", count))
    emulator.prepare(0)
    theirs = profiled(bare.pay, load.unique_keys("prof-bare", count))
    rows = sorted(
        ((name, mine.get(name, 0.0), theirs.get(name, 0.0)) for name in {*mine, *theirs}),
        key=lambda row: -(row[1] - row[2]),
    )
    print(f"\nDifferential cProfile, own CPU µs per payment ({count} each, profiler on):")
    print(f"{'package':<44} {'library':>9} {'bare':>9} {'diff':>9}")
    for name, lib, base in rows[:top]:
        print(f"{name:<44} {lib:9.1f} {base:9.1f} {lib - base:+9.1f}")
    total_lib, total_bare = sum(mine.values()), sum(theirs.values())
    print(f"{'total':<44} {total_lib:9.1f} {total_bare:9.1f} {total_lib - total_bare:+9.1f}")


def phases(library: Any, bare: Any, emulator: Any, count: int) -> None:
    """CPU µs per payment of pay()'s phases, and library against bare in the same window."""
    from sqlalchemy import Connection, Engine, event

    from payment_lib.db import payment_writes
    from payment_lib.services import payment_outcomes, payments
    from payment_lib.services.payment_requests import PaymentRequest

    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    wrapped = [
        (payments, "_begin", "transaction 1 (_begin, all)"),
        (payments, "confirm", "Stripe call (confirm)"),
        (payments, "record_outcome", "transaction 2 (record_outcome, all)"),
        (payment_writes, "run_script", "scripts: run_script"),
        (payment_outcomes, "_log_outcome", "log: outcome line"),
    ]
    originals = [(module, name, getattr(module, name)) for module, name, _ in wrapped]
    for module, name, label in wrapped:
        setattr(module, name, timed_into(spent, label, getattr(module, name)))
    build = PaymentRequest.build
    PaymentRequest.build = timed_into(spent, "request checks (PaymentRequest.build)", build)  # type: ignore[method-assign]
    bound = type(structlog.get_logger("x").bind())
    levels = {level: getattr(bound, level) for level in ("info", "warning", "error")}
    for level, method in levels.items():
        setattr(bound, level, timed_into(spent, "log lines (all)", method))
    pool = library.payments.database.engine.pool

    def before_checkout(*_args: Any) -> None:
        calls["checkouts"] += 1

    event.listen(pool, "checkout", before_checkout)
    connect = Engine.connect

    def timed_connect(self: Any) -> Any:
        started = time.thread_time_ns()
        try:
            return connect(self)
        finally:
            spent["pool checkout (engine.connect)"] += time.thread_time_ns() - started

    Engine.connect = timed_connect  # type: ignore[method-assign]
    close = Connection.close

    def timed_close(self: Any) -> None:
        started = time.thread_time_ns()
        try:
            close(self)
        finally:
            spent["pool check-in (Connection.close)"] += time.thread_time_ns() - started

    Connection.close = timed_close  # type: ignore[method-assign]
    try:
        emulator.prepare(0)
        cpu: collections.Counter[str] = collections.Counter()
        keys = {
            target.name: iter(load.unique_keys(f"phase-{target.name}", count))
            for target in (library, bare)
        }
        pay_total = 0
        for number in range(count // BLOCK):
            for target in (library, bare) if number % 2 == 0 else (bare, library):
                started = time.thread_time_ns()
                for _ in range(BLOCK):
                    target.pay(next(keys[target.name]))
                cpu[target.name] += time.thread_time_ns() - started
                if target is library:
                    pay_total += BLOCK
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
        PaymentRequest.build = build  # type: ignore[method-assign]
        for level, method in levels.items():
            setattr(bound, level, method)
        Engine.connect = connect  # type: ignore[method-assign]
        Connection.close = close  # type: ignore[method-assign]
        event.remove(pool, "checkout", before_checkout)
    done = pay_total
    print(f"\nPhases, CPU µs per payment ({done} library payments, timers on):")
    print(f"  library pay() total          {cpu['library'] / 1000 / done:8.1f}")
    print(f"  bare path total              {cpu[bare.name] / 1000 / done:8.1f}")
    over = (cpu["library"] - cpu[bare.name]) / 1000 / done
    print(f"  library - bare               {over:+8.1f}")
    for label, ns in sorted(spent.items()):
        print(f"  {label:<40} {ns / 1000 / done:8.1f}")
    print(f"  pool checkouts per payment   {calls['checkouts'] / done:8.2f}")


def untrack(library: Any) -> None:
    from sqlalchemy import event

    pool = library.payments.database.engine.pool
    if event.contains(pool, "checkout", library._checked_out):
        event.remove(pool, "checkout", library._checked_out)
        event.remove(pool, "checkin", library._checked_in)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300, help="payments each way (300)")
    parser.add_argument("--top", type=int, default=25, help="packages shown (25)")
    options = parser.parse_args()
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    with load.postgres_server(None) as admin, load.fresh_database(admin) as url:
        emulator = load.Emulator()
        library = load.LibraryTarget(url, emulator.url, {})
        # payments_load's count of connections in use: pool listeners the bare path has not.
        untrack(library)
        bare = load.BaselineTarget(url, emulator.url)
        try:
            for target in (library, bare):
                load.warm_up(target, emulator, 5)
            differential(library, bare, emulator, options.payments, options.top)
            phases(library, bare, emulator, options.payments)
        finally:
            library.close()
            bare.close()
            emulator.stop()
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
