"""How many PaymentIntent create+confirm requests per second the Stripe emulator sustains.

The emulator runs in this process; client processes keep one HTTP/1.1 connection each and
send what the SDK would send for ``payment_intents.create(confirm=True, pm_card_visa)``
(form body, Bearer key, Stripe-Version, a fresh Idempotency-Key) with a minimal HTTP client,
so the figure measures the server, not the SDK. ``--two-step`` creates, then confirms (two
requests per payment).

Usage: .venv/bin/python benchmarks/emulator_throughput.py [--seconds 5] [--clients 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import time
from urllib.parse import urlencode, urlsplit

from payment_lib.testing import StripeEmulator

PAYMENT = {
    "amount": "2000",
    "currency": "usd",
    "payment_method": "pm_card_visa",
    "return_url": "https://shop.example/return",
}


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP to stay cheap."""

    def __init__(self, url: str, api_key: str) -> None:
        netloc = urlsplit(url).netloc
        host, port = netloc.rsplit(":", 1)
        self.socket = socket.create_connection((host, int(port)), timeout=30)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.socket.makefile("rb")
        self.head = (
            "POST {path} HTTP/1.1\r\n"
            f"Host: {netloc}\r\n"
            f"Authorization: Bearer {api_key}\r\n"
            "Stripe-Version: 2026-10-28.endive\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Idempotency-Key: {key}\r\n"
            "Content-Length: {length}\r\n\r\n"
        )

    def post(self, path: str, body: bytes, key: str) -> bytes:
        head = self.head.format(path=path, key=key, length=len(body))
        self.socket.sendall(head.encode() + body)
        status = self.reader.readline().split()[1]
        length = 0
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        answer = self.reader.read(length)
        if status != b"200":
            raise RuntimeError(f"{status.decode()}: {answer[:200]!r}")
        return answer

    def close(self) -> None:
        self.reader.close()
        self.socket.close()


def client(url: str, api_key: str, seconds: float, two_step: bool) -> tuple[int, list[float]]:
    """Pay in a loop for ``seconds``; returns payments made and their latencies."""
    connection = Connection(url, api_key)
    if two_step:
        create = urlencode({k: v for k, v in PAYMENT.items() if k != "return_url"}).encode()
    else:
        create = urlencode({**PAYMENT, "confirm": "true"}).encode()
    confirm = urlencode({"return_url": PAYMENT["return_url"]}).encode()
    prefix = f"bench-{os.getpid()}-"
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while (started := time.perf_counter()) < deadline:
        key = prefix + str(len(latencies))
        answer = connection.post("/v1/payment_intents", create, key)
        if two_step:
            intent_id = json.loads(answer)["id"]
            answer = connection.post(f"/v1/payment_intents/{intent_id}/confirm", confirm, key + "c")
        if b'"status": "succeeded"' not in answer:
            raise RuntimeError(f"not succeeded: {answer[:200]!r}")
        latencies.append(time.perf_counter() - started)
    connection.close()
    return len(latencies), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
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
