"""How many PaymentIntent create+confirm requests per second the Stripe emulator sustains.

The emulator runs in this process; client processes keep one HTTP/1.1 connection each and
send what the SDK would send for ``payment_intents.create(confirm=True, pm_card_visa)``
(form body, Bearer key, Stripe-Version, a fresh Idempotency-Key), so the figure measures the
server, not the SDK. ``--two-step`` creates, then confirms (two requests per payment).

Usage: .venv/bin/python benchmarks/emulator_throughput.py [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import time
import uuid
from urllib.parse import urlencode, urlsplit

from payment_lib.testing import StripeEmulator

PAYMENT = {
    "amount": "2000",
    "currency": "usd",
    "payment_method": "pm_card_visa",
    "return_url": "https://shop.example/return",
}


def client(url: str, api_key: str, seconds: float, two_step: bool) -> tuple[int, list[float]]:
    """Pay in a loop for ``seconds``; returns payments made and their latencies."""
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Stripe-Version": "2026-10-28.endive",
        "Content-Type": "application/x-www-form-urlencoded",
    }

    def post(path: str, body: dict[str, str]) -> dict[str, object]:
        connection.request(
            "POST",
            path,
            body=urlencode(body),
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        response = connection.getresponse()
        answer: dict[str, object] = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {answer}")
        return answer

    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while (started := time.perf_counter()) < deadline:
        if two_step:
            intent = post("/v1/payment_intents", {**PAYMENT, "confirm": "false"})
            post(
                f"/v1/payment_intents/{intent['id']}/confirm", {"return_url": PAYMENT["return_url"]}
            )
        else:
            intent = post("/v1/payment_intents", {**PAYMENT, "confirm": "true"})
            assert intent["status"] == "succeeded"
        latencies.append(time.perf_counter() - started)
    connection.close()
    return len(latencies), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--two-step", action="store_true", help="create, then confirm")
    options = parser.parse_args()

    with StripeEmulator() as emulator:
        client(emulator.url, emulator.api_key, 0.5, options.two_step)  # warm up
        emulator.reset()
        arguments = [(emulator.url, emulator.api_key, options.seconds, options.two_step)]
        started = time.perf_counter()
        cpu_started = time.process_time()  # this process = the emulator's threads
        with multiprocessing.get_context("spawn").Pool(options.clients) as pool:
            results = pool.starmap(client, arguments * options.clients)
        elapsed = time.perf_counter() - started
        server_cpu = time.process_time() - cpu_started
        created = emulator.count("payment_intent")

    payments = sum(count for count, _ in results)
    latencies = sorted(latency for _, samples in results for latency in samples)
    requests = payments * (2 if options.two_step else 1)
    print(f"clients: {options.clients} processes, one keep-alive connection each")
    print(f"mode: {'create, then confirm' if options.two_step else 'create with confirm=true'}")
    print(f"payments: {payments} in {options.seconds:.1f} s ({created} PaymentIntents stored)")
    print(
        f"throughput: {payments / options.seconds:,.0f} payments/s, "
        f"{requests / options.seconds:,.0f} requests/s"
    )
    print(
        f"latency per payment: p50 {statistics.median(latencies) * 1000:.2f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms"
    )
    print(
        f"emulator CPU: {server_cpu / requests * 1e6:.0f} us per request "
        f"(one core would sustain about {requests / server_cpu:,.0f} requests/s)"
    )
    print(f"wall time including client start-up: {elapsed:.1f} s")


if __name__ == "__main__":
    main()
