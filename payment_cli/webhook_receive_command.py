"""payment-cli webhooks receive: one signed delivery, or many events at once (a backfill)."""

from __future__ import annotations

from typing import BinaryIO

import click

from payment_cli.context import Context, pass_context
from payment_cli.output import emit, json_option


@click.command("receive")
@click.option("--signature", help="The Stripe-Signature header, verbatim (one delivery).")
@click.option(
    "--file",
    "source",
    type=click.File("rb"),
    default="-",
    help="Read the one delivery's payload from this file (default: stdin).",
)
@click.option(
    "--from",
    "many",
    type=click.File("rb"),
    help="Read many events from this NDJSON file ('-': stdin), one a line: "
    '{"payload": BODY, "signature": HEADER}, or with --trusted a Stripe event.',
)
@click.option(
    "--trusted",
    is_flag=True,
    help="With --from: also store lines that are Stripe events as Stripe's events API returns "
    "them (read with the secret key), unsigned.",
)
@json_option
@pass_context
def webhooks_receive(
    context: Context,
    signature: str | None,
    source: BinaryIO,
    many: BinaryIO | None,
    trusted: bool,
    as_json: bool,
) -> None:
    """Verify and store one event delivery, or (--from) many events; a worker processes them.

    The payload is read byte for byte (the signature covers the exact bytes). A duplicate is
    acknowledged and changes nothing. A bad, missing or too old signature exits 2
    (invalid_signature). With --from, every line is checked first and nothing is stored if
    one is bad (its line number is named); then all are stored in one transaction.

    Example: payment-cli webhooks receive --signature "t=1767225600,v1=5257a869..." --file
    event.json; payment-cli webhooks receive --from events.ndjson --trusted
    """
    if many is not None:
        if signature is not None:
            raise click.UsageError("--signature is for one delivery; --from lines carry theirs.")
        report = context.payments.receive_webhooks(many, trusted=trusted)
        text = (
            f"{report.received} events read: {report.stored} stored, "
            f"{report.duplicates} already stored"
        )
        emit(report.to_dict(), text, as_json=as_json)
        return
    if signature is None:
        raise click.UsageError("Give --signature (one delivery) or --from FILE (many events).")
    if trusted:
        raise click.UsageError("--trusted is for --from: one delivery is always verified.")
    received = context.payments.receive_webhook(source.read(), signature)
    state = "duplicate, already stored" if received.duplicate else "stored"
    emit(
        received.to_dict(),
        f"{received.stripe_event_id}  {received.event_type}  {state}",
        as_json=as_json,
    )
