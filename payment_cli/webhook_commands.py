"""payment-cli webhooks list and replay-webhook (webhooks receive: webhook_receive_command)."""

from __future__ import annotations

import sys

import click

from payment_cli.context import Context, pass_context
from payment_cli.output import EXIT_FAILED, emit, json_option
from payment_cli.webhook_receive_command import webhooks_receive
from payment_lib import WebhookEventInfo


def _event_line(event: WebhookEventInfo) -> str:
    when = event.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    line = f"{event.stripe_event_id}  {event.event_type:<32} {event.status:<9} {when}"
    if event.attempts:
        line += f"  attempts {event.attempts}"
    if event.last_error:
        line += f"\n  last error: {event.last_error}"
    return line


@click.group()
def webhooks() -> None:
    """Stripe webhook events: receive one (or many, for a backfill), list the inbox.

    Example: payment-cli webhooks list --unprocessed
    """


webhooks.add_command(webhooks_receive)


@webhooks.command("list")
@click.option("--unprocessed", is_flag=True, help="Only events not processed yet (or parked).")
@click.option(
    "--status",
    help="Only events with this status: pending, processed, ignored (a type the library "
    "does not act on) or parked.",
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@json_option
@pass_context
def webhooks_list(
    context: Context, unprocessed: bool, status: str | None, limit: int, as_json: bool
) -> None:
    """List stored events, oldest first, with their status.

    Example: payment-cli webhooks list --status parked --json
    """
    found = context.payments.list_webhook_events(
        unprocessed=unprocessed, status=status, limit=limit
    )
    text = "\n".join(_event_line(e) for e in found) if found else "no events"
    emit({"events": [e.to_dict() for e in found]}, text, as_json=as_json)


@click.command("replay-webhook")
@click.argument("event_id")
@click.option(
    "--from-stripe",
    is_flag=True,
    help="Fetch the event from Stripe's events API first when it is not stored.",
)
@json_option
@pass_context
def replay_webhook(context: Context, event_id: str, from_stripe: bool, as_json: bool) -> None:
    """Run a stored event through its handler again, e.g. one parked after failures.

    Exits 1 when the handler fails again (the error is printed and recorded).

    Example: payment-cli replay-webhook evt_1QkX2y2eZvKYlo2C0a1b2c3d --from-stripe
    """
    event = context.payments.replay_webhook(event_id, from_stripe=from_stripe)
    emit(event.to_dict(), _event_line(event), as_json=as_json)
    if not event.processed or event.last_error:
        sys.exit(EXIT_FAILED)
