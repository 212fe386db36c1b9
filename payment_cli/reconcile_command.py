"""payment-cli reconcile: our record against Stripe's, for cron and monitoring."""

from __future__ import annotations

import sys

import click

from payment_cli.context import Context, pass_context
from payment_cli.output import EXIT_DRIFT, emit, json_option, parse_time
from payment_lib import ReconcileReport


def _summary(report: ReconcileReport) -> str:
    checked = report.checked
    lines = [
        f"{d.kind:<24} {d.stripe_id or '-':<30} payment {d.payment_id or '-'}  "
        f"ours {d.ours or '-'}, Stripe {d.stripe or '-'}" + ("  (fixed)" if d.fixed else "")
        for d in report.drifts
    ]
    hidden = sum(report.counts.values()) - len(report.drifts)
    if hidden:
        lines.append(f"... and {hidden} more")
    lines.append(
        f"{checked['payment_intents']} PaymentIntent(s), {checked['charges']} charge(s), "
        f"{checked['refunds']} refund(s), {checked['disputes']} dispute(s) and "
        f"{checked['payments']} payment(s) checked from {report.since:%Y-%m-%d %H:%M} to "
        f"{report.until:%Y-%m-%d %H:%M} UTC: "
        + (
            ", ".join(f"{count} {kind}" for kind, count in sorted(report.counts.items()))
            if report.drifted
            else "no drift"
        )
    )
    return "\n".join(lines)


@click.command("reconcile")
@click.option("--since", "since_text", help="Start of the window, ISO 8601 (default: a day ago).")
@click.option("--until", "until_text", help="End of the window, ISO 8601 (default: now).")
@click.option("--fix", is_flag=True, help="Apply what Stripe says to every drift it can.")
@json_option
@pass_context
def reconcile(
    context: Context, since_text: str | None, until_text: str | None, fix: bool, as_json: bool
) -> None:
    """Compare our payments, refunds and disputes with Stripe's, the ledger of record.

    Walks everything Stripe created in the window (any age) and reports each drift by kind.
    --fix applies Stripe's truth through the usual paths; Stripe itself is only read. Exits 0
    when nothing drifted and 10 when something did (fixed or not). A counter shows progress
    on a terminal.

    Example: payment-cli reconcile --since 2026-11-01 --fix --json
    """
    since, until = parse_time(since_text, "since"), parse_time(until_text, "until")
    progress = None
    if not as_json and sys.stderr.isatty():

        def progress(checked: int) -> None:
            click.echo(f"\rreconciling: {checked} objects checked", nl=False, err=True)

    report = context.payments.reconcile(since, until, fix=fix, progress=progress)
    if progress is not None:
        click.echo(err=True)
    emit(report.to_dict(), _summary(report), as_json=as_json)
    if report.drifted:
        sys.exit(EXIT_DRIFT)
