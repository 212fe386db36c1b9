"""payment-cli worker: webhook inbox, email outbox, renewals and recovery, until stopped."""

from __future__ import annotations

import math
import signal
import sys
import threading
from types import FrameType

import click
import structlog

from payment_cli.context import Context, pass_context
from payment_cli.output import EXIT_FAILED, emit, json_option

log = structlog.get_logger("payment_cli")


def _finite(value: float) -> float:
    """NaN passes every range check (it compares false); refuse it by name."""
    if not math.isfinite(value):
        raise click.BadParameter("must be a number of seconds, not nan or inf.")
    return value


@click.command("worker")
@click.option("--once", is_flag=True, help="One pass over everything due, then exit.")
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.01, 3600),
    callback=lambda _ctx, _param, value: _finite(value),
    help="Seconds to wait between passes (0.01 to 3600).",
)
@json_option
@pass_context
def worker(context: Context, once: bool, interval: float, as_json: bool) -> None:
    """Process webhooks, send emails, renew subscriptions and recover stale payments.

    Run as many workers as you like, on as many machines, against one PostgreSQL database:
    they share the work through it. SIGTERM or SIGINT (Ctrl-C) lets the current item finish,
    then the worker exits 0. With --once it makes one pass, prints what it did and exits (1
    if a step failed).

    Example: payment-cli worker --interval 2
    """
    payments = context.payments
    if once:
        report = payments.run_worker_once()
        webhooks, notifications = report.webhooks, report.notifications
        text = (
            f"webhooks: {webhooks.processed} processed, {webhooks.retried} to retry, "
            f"{webhooks.parked} parked\n"
            f"emails: {notifications.sent} sent, {notifications.retried} to retry, "
            f"{notifications.parked} parked\n"
            f"renewals: {report.renewals}, ended: {report.ended_subscriptions}, "
            f"recovered: {report.recovered_payments} payments, "
            f"{report.recovered_refunds} refunds"
        )
        text += "".join(f"\nerror: {error}" for error in report.errors)
        emit(report.to_dict(), text, as_json=as_json)
        if report.errors:
            sys.exit(EXIT_FAILED)
        return
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    payments.run_worker(interval=interval, stop=stop)
