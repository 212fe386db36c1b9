"""``payment-cli stripe-emulator``: run the Stripe test-mode emulator in the foreground, or steer
a running one (``trigger`` an event, ``events resend`` one)."""

from __future__ import annotations

import json
import signal
from types import FrameType
from urllib.parse import urlsplit

import click

from payment_lib.testing import StripeEmulator
from payment_lib.testing.trigger import EVENT_TYPES, TriggerError, resend, trigger

DEFAULT_URL = "http://127.0.0.1:12111"


def _http_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """An http:// or https:// URL with a host, or a usage error (exit 2)."""
    if value is None:
        return None
    parsed = urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise click.BadParameter("must be an http:// or https:// URL, e.g. " + DEFAULT_URL)
    try:
        parsed.port  # noqa: B018 (raises for a port out of range)
    except ValueError:
        raise click.BadParameter("the port must be 0 to 65535.") from None
    return value


def _webhook_secret(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not (value.startswith("whsec_") and len(value) > len("whsec_")):
        raise click.BadParameter("must be a webhook signing secret starting with whsec_.")
    return value


_url_option = click.option(
    "--url",
    default=DEFAULT_URL,
    show_default=True,
    callback=_http_url,
    help="Base URL of the running emulator.",
)


@click.group("stripe-emulator", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=12111,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 to 65535); 0 picks one.",
)
@click.option("--webhook-url", callback=_http_url, help="POST every event, signed, to this URL.")
@click.option(
    "--webhook-secret",
    callback=_webhook_secret,
    help="whsec_... secret to sign webhooks with (generated if omitted).",
)
@click.pass_context
def stripe_emulator(
    context: click.Context,
    host: str,
    port: int,
    webhook_url: str | None,
    webhook_secret: str | None,
) -> None:
    """Run a local Stripe test-mode emulator until Ctrl-C or SIGTERM.

    Point the SDK (or PAYMENT_STRIPE_API_BASE) at the printed URL with any sk_test_ key.
    The control endpoint /_emulator/ sets faults and inspects state (see
    `payment-cli docs emulator`).
    With a subcommand, steers an emulator already running instead (trigger, events resend).

    Example: payment-cli stripe-emulator --port 12111 --webhook-url http://127.0.0.1:8000/hooks
    """
    if context.invoked_subcommand is not None:
        return
    emulator = StripeEmulator(host, port, webhook_url=webhook_url, webhook_secret=webhook_secret)
    try:
        emulator.start()
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None

    def stop(signum: int, frame: FrameType | None) -> None:
        emulator.shutdown()

    # Ctrl-C and SIGTERM both end serve_forever; no KeyboardInterrupt can land mid-output.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    click.echo(f"Stripe emulator listening on {emulator.url}")
    click.echo(f"API key: any sk_test_ key, for example {emulator.api_key}")
    if webhook_url:  # a secret given is not printed back; a generated one must be
        secret = "the secret given" if webhook_secret else emulator.webhook_secret
        click.echo(f"Webhooks: {webhook_url} signed with {secret}")
    try:
        emulator.serve_forever()
    finally:
        emulator.stop()
        click.echo("Stripe emulator stopped.")


@stripe_emulator.command("trigger")
@click.argument("event_type", metavar="EVENT_TYPE", type=click.Choice(EVENT_TYPES))
@_url_option
@click.option("--json", "as_json", is_flag=True, help="Print the events caused as JSON.")
def trigger_command(event_type: str, url: str, as_json: bool) -> None:
    """Make a running emulator send EVENT_TYPE, as Stripe's `stripe trigger` does.

    Creates the objects behind the event through the API (a succeeded payment for
    payment_intent.succeeded, a disputed one for charge.dispute.created...); the emulator
    records the event and delivers it, signed, to its webhook endpoint. Prints every event the
    requests caused.

    Example: payment-cli stripe-emulator trigger payment_intent.succeeded --url http://127.0.0.1:12111
    """
    try:
        triggered = trigger(url, event_type)
    except TriggerError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(
            json.dumps(
                {"event_type": event_type, "event": triggered.event, "events": triggered.events}
            )
        )
        return
    click.echo(f"Triggered {event_type} at {url}:")
    for event in triggered.events:
        click.echo(f"  {event['id']} {event['type']}")


@stripe_emulator.group("events")
def events() -> None:
    """Events recorded by a running emulator."""


@events.command("resend")
@click.argument("event_id")
@_url_option
def resend_command(event_id: str, url: str) -> None:
    """Deliver a recorded event to the emulator's webhook endpoint again, signed anew.

    Example: payment-cli stripe-emulator events resend evt_1Abc --url http://127.0.0.1:12111
    """
    try:
        resend(url, event_id)
    except TriggerError as error:
        raise click.ClickException(f"{event_id}: {error}") from None
    click.echo(f"Resent {event_id}.")
