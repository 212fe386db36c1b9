"""payment-cli doctor and stats: a deployment's health for monitoring, and its numbers."""

from __future__ import annotations

import sys

import click

from payment_cli.context import Context, pass_context
from payment_cli.output import emit, json_option

# Exit codes of doctor, documented in docs/cli.md (a monitor's OK, WARNING and CRITICAL).
EXIT_HEALTHY = 0
EXIT_WARNING = 11
EXIT_UNHEALTHY = 12
EXIT_BY_STATUS = {"ok": EXIT_HEALTHY, "warning": EXIT_WARNING, "failed": EXIT_UNHEALTHY}


@click.command("doctor")
@click.option(
    "--worker-seen-within",
    default=300,
    show_default=True,
    type=click.IntRange(1, 86_400),
    help="Seconds: a worker whose last pass is older than this fails the worker check.",
)
@json_option
@pass_context
def doctor(context: Context, worker_seen_within: int, as_json: bool) -> None:
    """Check the deployment: database reachable and migrated, Stripe key valid and the API
    reachable, webhook secrets set, SMTP reachable, a worker seen recently, the backlog.

    Exits 0 when every check is ok, 11 when some only warn (parked events, emails given up
    on, old queues), 12 when any failed: ready for a monitor. Never prints a secret.

    Example: payment-cli doctor --json
    """
    report = context.payments.check_health(worker_seen_within_seconds=worker_seen_within)
    width = max(len(check.name) for check in report.checks)
    lines = [f"{c.name:<{width}}  {c.status:<7}  {c.detail}" for c in report.checks]
    lines.append(f"overall: {report.status}")
    emit(report.to_dict(), "\n".join(lines), as_json=as_json)
    sys.exit(EXIT_BY_STATUS[report.status])


@click.command("stats")
@json_option
@pass_context
def stats(context: Context, as_json: bool) -> None:
    """The deployment in numbers: payments, refunds, subscriptions, emails and webhook events
    by status; queue depths and ages; the webhook lag; parked events; the workers seen; the
    drift the last reconcile found.

    Example: payment-cli stats --json
    """
    found = context.payments.operations_stats()
    data = found.to_dict()
    lines = []
    for table in ("payments", "refunds", "subscriptions", "notifications", "webhook_events"):
        counts = found.by_status[table]
        shown = ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "none"
        lines.append(f"{table:<15} {shown}")
    for name, queue in found.queues.items():
        age = "-" if queue.oldest_age_seconds is None else f"{queue.oldest_age_seconds:.0f} s"
        lines.append(f"queue {name:<19} depth {queue.depth}, oldest {age}")
    lag = found.webhook_lag_seconds
    lines.append(f"webhook lag     {'-' if lag is None else f'{lag:.0f} s'}")
    lines.append(f"parked events   {found.parked_events}")
    for worker in found.workers:
        lines.append(
            f"worker {worker['worker_id']}  seen {worker['seen_at']}  passes {worker['passes']}"
        )
    last = found.last_reconcile
    if last is None:
        lines.append("last reconcile  never")
    else:
        drift = ", ".join(f"{k} {n}" for k, n in sorted(last["drift"].items())) or "no drift"
        lines.append(f"last reconcile  {last['finished_at']}: {drift}")
    emit(data, "\n".join(lines), as_json=as_json)
