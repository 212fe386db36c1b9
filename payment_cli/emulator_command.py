"""``payment-cli stripe-emulator``: run the Stripe test-mode emulator in the foreground."""

from __future__ import annotations

import signal
from types import FrameType

import click

from payment_lib.testing import StripeEmulator


@click.command("stripe-emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=12111, show_default=True, type=int, help="Port to listen on; 0 picks one."
)
@click.option("--webhook-url", help="POST every event, signed, to this URL.")
@click.option(
    "--webhook-secret", help="whsec_... secret to sign webhooks with (generated if omitted)."
)
def stripe_emulator(
    host: str, port: int, webhook_url: str | None, webhook_secret: str | None
) -> None:
    """Run a local Stripe test-mode emulator until Ctrl-C or SIGTERM.

    Point the SDK (or PAYMENT_STRIPE_API_BASE) at the printed URL with any sk_test_ key.
    The control endpoint /_emulator/ sets faults and inspects state (see docs/emulator.md).

    Example: payment-cli stripe-emulator --port 12111 --webhook-url http://127.0.0.1:8000/hooks
    """
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
    if webhook_url:
        click.echo(f"Webhooks: {webhook_url} signed with {emulator.webhook_secret}")
    try:
        emulator.serve_forever()
    finally:
        emulator.stop()
        click.echo("Stripe emulator stopped.")
