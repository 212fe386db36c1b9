"""payment-cli webhooks receive/list and replay-webhook."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from payment_cli.bulk_commands import replay_file
from payment_cli.context import Context, pass_context
from payment_cli.operator_commands import emit_page
from payment_cli.output import EXIT_FAILED, emit, json_option, parse_time
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
    """Stripe webhook events: receive one, list the inbox.

    Example: payment-cli webhooks list --unprocessed
    """


@webhooks.command("receive")
@click.option("--signature", required=True, help="The Stripe-Signature header, verbatim.")
@click.option(
    "--file",
    "source",
    type=click.File("rb"),
    default="-",
    help="Read the payload from this file (default: stdin).",
)
@json_option
@pass_context
def webhooks_receive(context: Context, signature: str, source: BinaryIO, as_json: bool) -> None:
    """Verify and store one event delivery; a worker processes it later.

    The payload is read byte for byte (the signature covers the exact bytes). A duplicate is
    acknowledged and changes nothing. A bad, missing or too old signature exits 2
    (invalid_signature).

    Example: payment-cli webhooks receive --signature "t=1767225600,v1=5257a869..." --file
    event.json
    """
    received = context.payments.receive_webhook(source.read(), signature)
    state = "duplicate, already stored" if received.duplicate else "stored"
    emit(
        received.to_dict(),
        f"{received.stripe_event_id}  {received.event_type}  {state}",
        as_json=as_json,
    )


@webhooks.command("list")
@click.option("--unprocessed", is_flag=True, help="Only events not processed yet (or parked).")
@click.option(
    "--status",
    help="Only events with this status: pending, processed, ignored (a type the library "
    "does not act on) or parked.",
)
@click.option("--type", "event_type", help="Only events of this type, e.g. charge.refunded.")
@click.option("--since", "since_text", help="Only events stored at or after this ISO 8601 time.")
@click.option("--cursor", help="Go on after the page that printed this next_cursor.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@json_option
@pass_context
def webhooks_list(
    context: Context,
    unprocessed: bool,
    status: str | None,
    event_type: str | None,
    since_text: str | None,
    cursor: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List stored events, oldest first, with their status; --cursor goes on where a page
    ended.

    Example: payment-cli webhooks list --status parked --type charge.refunded --json
    """
    page = context.payments.find_webhook_events(
        unprocessed=unprocessed,
        status=status,
        event_type=event_type,
        since=parse_time(since_text, "since"),
        limit=limit,
        cursor=cursor,
    )
    emit_page("events", page, _event_line, command="webhooks list", as_json=as_json)


@click.command("replay-webhook")
@click.argument("event_id", required=False)
@click.option(
    "--from-stripe",
    is_flag=True,
    help="Fetch the event from Stripe's events API first when it is not stored.",
)
@click.option(
    "--from",
    "source",
    type=click.File("rb"),
    help="Replay each event id of this file instead (- for stdin), one per line.",
)
@json_option
@pass_context
def replay_webhook(
    context: Context,
    event_id: str | None,
    from_stripe: bool,
    source: BinaryIO | None,
    as_json: bool,
) -> None:
    """Run a stored event through its handler again, e.g. one parked after failures; or, with
    --from FILE, every event the file names (one result line each, a summary).

    Exits 1 when the handler fails again (the error is printed and recorded).

    Example: payment-cli replay-webhook evt_1QkX2y2eZvKYlo2C0a1b2c3d --from-stripe

    Example: payment-cli replay-webhook --from parked-events.txt --json
    """
    if source is not None:
        if event_id:
            raise click.UsageError("--from takes the events from the file: give no EVENT_ID.")
        replay_file(context.payments, source, from_stripe=from_stripe, as_json=as_json)
        return
    if event_id is None:
        raise click.UsageError("Give the EVENT_ID to replay, or --from FILE.")
    event = context.payments.replay_webhook(event_id, from_stripe=from_stripe)
    emit(event.to_dict(), _event_line(event), as_json=as_json)
    if not event.processed or event.last_error:
        sys.exit(EXIT_FAILED)
