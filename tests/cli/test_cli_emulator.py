"""payment-cli stripe-emulator trigger / events resend, against a running emulator."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe
from click.testing import CliRunner

from payment_cli.cli import main
from payment_lib.testing import StripeEmulator

SECRET = "whsec_cli_emulator_secret"


class Receiver:
    """A webhook endpoint recording the signed deliveries it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        self.arrived = threading.Condition()

    def wait_for(self, count: int) -> list[stripe.Event]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, 5)
            return [
                stripe.Webhook.construct_event(body, signature, SECRET)
                for body, signature in self.received
            ]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with receiver.arrived:
                receiver.received.append((body, self.headers["Stripe-Signature"]))
                receiver.arrived.notify_all()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield receiver, f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()


@pytest.fixture
def emulator(receiver: tuple[Receiver, str]) -> Iterator[StripeEmulator]:
    with StripeEmulator(webhook_url=receiver[1], webhook_secret=SECRET) as running:
        yield running


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["stripe-emulator", *args])
    return result.exit_code, result.stdout, result.stderr


def test_trigger_makes_the_emulator_deliver_the_signed_event(
    emulator: StripeEmulator, receiver: tuple[Receiver, str]
) -> None:
    code, out, _ = cli("trigger", "payment_intent.succeeded", "--url", emulator.url)

    succeeded = emulator.events("payment_intent.succeeded")
    delivered = receiver[0].wait_for(3)
    assert (code, len(succeeded)) == (0, 1), out
    assert succeeded[0]["id"] in [event.id for event in delivered]
    assert f"{succeeded[0]['id']} payment_intent.succeeded" in out


def test_trigger_json_lists_every_event_it_caused(emulator: StripeEmulator) -> None:
    code, out, _ = cli("trigger", "charge.dispute.created", "--url", emulator.url, "--json")

    answer = json.loads(out)
    assert (code, answer["event_type"], answer["event"]["type"]) == (
        0,
        "charge.dispute.created",
        "charge.dispute.created",
    )
    assert [event["id"] for event in answer["events"]] == [
        event["id"] for event in emulator.events()
    ]


def test_trigger_of_an_event_type_it_cannot_make_is_a_usage_error(
    emulator: StripeEmulator,
) -> None:
    code, _, err = cli("trigger", "invoice.paid", "--url", emulator.url)

    assert code == 2 and "invoice.paid" in err


def test_trigger_without_a_running_emulator_fails_in_one_line() -> None:
    code, _, err = cli("trigger", "customer.created", "--url", "http://127.0.0.1:9")

    assert code == 1 and "cannot reach" in err and len(err.strip().splitlines()) == 1


def test_events_resend_delivers_the_event_again(
    emulator: StripeEmulator, receiver: tuple[Receiver, str]
) -> None:
    cli("trigger", "customer.created", "--url", emulator.url)
    event_id = emulator.events("customer.created")[0]["id"]
    receiver[0].wait_for(1)

    code, out, _ = cli("events", "resend", event_id, "--url", emulator.url)

    assert (code, [event.id for event in receiver[0].wait_for(2)]) == (0, [event_id, event_id])
    assert event_id in out


def test_events_resend_of_an_unknown_event_fails(emulator: StripeEmulator) -> None:
    code, _, err = cli("events", "resend", "evt_unknown", "--url", emulator.url)

    assert code == 1 and "evt_unknown" in err
