"""payment-cli process-refund: refund a payment as the operator, who is treated as an admin."""

from __future__ import annotations

import getpass
import os
import sys
from typing import BinaryIO

import click

from payment_cli.bulk_commands import refund_file
from payment_cli.context import Context, pass_context
from payment_cli.output import EXIT_FAILED, emit, json_option
from payment_lib import Actor, RefundInfo


def _operator(name: str | None) -> str:
    """--operator, else the OS user running the command."""
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return f"uid-{os.getuid()}"


def refund_text(refund: RefundInfo) -> str:
    line = f"refund {refund.id}  {refund.status}  {refund.amount}"
    if refund.stripe_refund_id:
        line += f"  {refund.stripe_refund_id}"
    if refund.replayed:
        line += (
            f"  (made {refund.created_at:%Y-%m-%d %H:%M} UTC by {refund.requested_by}: nothing "
            "new refunded; to refund this amount again, give the new refund a key of its own "
            "with --idempotency-key)"
        )
    subscription = "none"
    if refund.subscription_id is not None:
        subscription = f"{refund.subscription_id} {refund.subscription_status}"
    return (
        f"{line}\n"
        f"payment {refund.payment_id}  {refund.payment_status}  {refund.amount_refunded} "
        f"refunded, {refund.remaining_refundable} remains refundable\n"
        f"subscription: {subscription}"
    )


@click.command("process-refund")
@click.argument("payment_id", required=False)
@click.option("--amount", help='Major units, e.g. "5.00"; default: everything that remains.')
@click.option(
    "--reason",
    type=click.Choice(["duplicate", "fraudulent", "requested_by_customer"]),
    help="Stripe's reason for the refund.",
)
@click.option("--note", help="Free text kept with the refund (at most 500 characters).")
@click.option(
    "--idempotency-key",
    help="Names this refund; default: derived from the payment and amount, so running the "
    "same command again refunds once.",
)
@click.option("--operator", help="Who is refunding, recorded with it; default: the OS user.")
@click.option(
    "--from",
    "source",
    type=click.File("rb"),
    help="Refund each line of this file instead (- for stdin): CSV or NDJSON of payment_id, "
    "amount, reason, note, key.",
)
@json_option
@pass_context
def process_refund(
    context: Context,
    payment_id: str | None,
    amount: str | None,
    reason: str | None,
    note: str | None,
    idempotency_key: str | None,
    operator: str | None,
    source: BinaryIO | None,
    as_json: bool,
) -> None:
    """Refund a payment in full, or in part with --amount, and show what remains; or, with
    --from FILE, every line of a file (one result line each, a summary, exit 1 when any line
    failed; run again after an interruption, lines done are replays, never second refunds).

    Prints the refund (id, amount, status), the payment's refunded and remaining amounts and
    the subscription's status after it: a full refund cancels the subscription at once.
    Running the same command again makes no second refund.

    Example: payment-cli process-refund 0b6f7c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e --amount 5.00
    --reason requested_by_customer --json

    Example: payment-cli process-refund --from refunds.csv --operator olga --json > results
    """
    if source is not None:
        if payment_id or amount or reason or note or idempotency_key:
            raise click.UsageError(
                "--from takes every refund from the file: give no PAYMENT_ID, --amount, "
                "--reason, --note or --idempotency-key with it."
            )
        refund_file(context.payments, source, operator=_operator(operator), as_json=as_json)
        return
    if payment_id is None:
        raise click.UsageError("Give the PAYMENT_ID to refund, or --from FILE.")
    refund = context.payments.refund(
        payment_id,
        actor=Actor.admin(_operator(operator)),
        amount=amount,
        reason=reason,
        note=note,
        idempotency_key=idempotency_key,
    )
    emit(refund.to_dict(), refund_text(refund), as_json=as_json)
    if refund.status == "failed":
        if not as_json:
            click.echo(f"error: {refund.failure_message} [refund_failed]", err=True)
        sys.exit(EXIT_FAILED)
