"""Start-up of whole payment-cli processes, against a bare interpreter in the same run.

Each command runs ``--runs`` times as its own process (``python -m payment_cli ...``, as the
installed ``payment-cli`` script does); printed: the median and the best wall time, and the
difference from the baseline, the median of ``python -c "import click"`` (an interpreter that
has loaded the CLI framework and nothing of ours). The read command uses a migrated SQLite file.

Aim (issue 14): ``--help`` under 150 ms, a read command under 250 ms on this machine.

Usage: .venv/bin/python benchmarks/cli_startup.py [--runs 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from payment_lib.db.migrations import upgrade

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'payments.db'}"
        upgrade(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
        env["PAYMENT_DATABASE_URL"] = url
        cli = [sys.executable, "-m", "payment_cli"]
        cases = {
            "baseline: python -c 'import click'": [sys.executable, "-c", "import click"],
            "payment-cli --help": [*cli, "--help"],
            "payment-cli plans --help": [*cli, "plans", "--help"],
            "payment-cli plans list": [*cli, "plans", "list"],
            "payment-cli payments list --json": [*cli, "payments", "list", "--json"],
        }
        results = {name: timed(command, env, args.runs) for name, command in cases.items()}
    base = statistics.median(next(iter(results.values())))
    rows = [
        {
            "command": name,
            "median_ms": round(statistics.median(s) * 1000, 1),
            "best_ms": round(min(s) * 1000, 1),
            "over_baseline_ms": round((statistics.median(s) - base) * 1000, 1),
        }
        for name, s in results.items()
    ]
    if args.json:
        print(json.dumps({"runs": args.runs, "results": rows}, indent=2))
    else:
        header = f"{'command':<38} {'median':>9} {'best':>9} {'over baseline':>14}"
        print(f"{header}  ({args.runs} runs)")
        for r in rows:
            print(
                f"{r['command']:<38} {r['median_ms']:>7} ms {r['best_ms']:>7} ms "
                f"{r['over_baseline_ms']:>11} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
