"""Webhook signing and delivery, as Stripe signs and retries them.

``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]``: HMAC-SHA256 of ``"{t}.{body}"`` keyed with
the whole ``whsec_...`` string, one ``v1`` per secret (several during a rotation). Each attempt
is signed anew. A background thread POSTs events in the order recorded and retries non-2xx
answers after configurable delays. For tests, events can be held and released reversed or
twice, and any stored event can be sent again.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_RETRY_DELAYS = (1.0, 5.0, 25.0)


def signature_header(payload: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """The ``Stripe-Signature`` header for a payload, with one ``v1`` per secret."""
    signed = f"{timestamp}.".encode() + payload
    parts = [f"t={timestamp}"]
    for secret in secrets:
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        parts.append(f"v1={digest}")
    return ",".join(parts)


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST of one event: the HTTP status, or the network error."""

    event_id: str
    attempt: int
    status: int | None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class _Job:
    event_id: str
    attempt: int


class WebhookDelivery:
    """Delivers recorded events to one endpoint from a background thread."""

    def __init__(self, payload_of: Callable[[str], bytes | None]) -> None:
        self._payload_of = payload_of
        self._changed = threading.Condition()
        self._queue: list[tuple[float, int, _Job]] = []
        self._order = itertools.count()
        self._held: list[str] | None = None
        self._sending = 0
        self._attempts: list[DeliveryAttempt] = []
        self._generation = 0
        self._stopped = False
        self.url: str | None = None
        self.secrets: tuple[str, ...] = ()
        self.retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
        self.timeout = 5.0
        self._thread: threading.Thread | None = None

    def configure(
        self,
        *,
        url: str | None,
        secret: str | Sequence[str] = (),
        retry_delays: Sequence[float] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Deliver to ``url`` (None: record events without delivering them).

        Args:
            url: the endpoint receiving POSTs.
            secret: the ``whsec_...`` signing secret, or several during a rotation.
            retry_delays: seconds to wait before each retry; its length bounds the retries.
            timeout: seconds to wait for the endpoint's answer.
        """
        with self._changed:
            self.url = url
            self.secrets = (secret,) if isinstance(secret, str) else tuple(secret)
            if retry_delays is not None:
                self.retry_delays = tuple(retry_delays)
            if timeout is not None:
                self.timeout = timeout

    @property
    def enabled(self) -> bool:
        return self.url is not None

    @property
    def attempts(self) -> list[DeliveryAttempt]:
        """Every delivery attempt so far, in order."""
        with self._changed:
            return list(self._attempts)

    def enqueue(self, event_id: str) -> None:
        """Deliver a newly recorded event (or hold it while held)."""
        if self.url is None:  # the common case in tests: no endpoint, no locking
            return
        with self._changed:
            if not self.enabled:
                return
            if self._held is not None:
                self._held.append(event_id)
                return
            self._push(event_id, 1, 0.0)

    def resend(self, event_id: str) -> None:
        """Send a stored event again, as the Dashboard's "Resend" does."""
        with self._changed:
            self._push(event_id, 1, 0.0)

    def hold(self) -> None:
        """Keep new events back until ``release``."""
        with self._changed:
            if self._held is None:
                self._held = []

    def release(self, *, reverse: bool = False, duplicates: bool = False) -> None:
        """Deliver the held events: in order, reversed, and/or each twice."""
        with self._changed:
            held, self._held = self._held or [], None
            for event_id in reversed(held) if reverse else held:
                for _ in range(2 if duplicates else 1):
                    self._push(event_id, 1, 0.0)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or being sent; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._sending, timeout)

    def reset(self) -> None:
        """Forget the endpoint, queue, held events and attempts."""
        with self._changed:
            self._generation += 1
            self._queue.clear()
            self._held = None
            self._attempts.clear()
            self.url = None
            self.secrets = ()
            self.retry_delays = DEFAULT_RETRY_DELAYS
            self._changed.notify_all()

    def start(self) -> None:
        """Run the delivery thread (again, after ``stop``)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _push(self, event_id: str, attempt: int, delay: float) -> None:
        heapq.heappush(
            self._queue, (time.monotonic() + delay, next(self._order), _Job(event_id, attempt))
        )
        self._changed.notify_all()

    def _next_job(self) -> tuple[_Job, int] | None:
        with self._changed:
            while not self._stopped:
                if self._queue:
                    due = self._queue[0][0] - time.monotonic()
                    if due <= 0:
                        job = heapq.heappop(self._queue)[2]
                        self._sending += 1
                        return job, self._generation
                    self._changed.wait(due)
                else:
                    self._changed.wait()
            return None

    def _run(self) -> None:
        while (claimed := self._next_job()) is not None:
            job, generation = claimed
            attempt = self._send(job)
            with self._changed:
                self._sending -= 1
                if generation == self._generation:
                    self._attempts.append(attempt)
                    retries_done = job.attempt - 1
                    if not attempt.succeeded and retries_done < len(self.retry_delays):
                        self._push(job.event_id, job.attempt + 1, self.retry_delays[retries_done])
                self._changed.notify_all()

    def _send(self, job: _Job) -> DeliveryAttempt:
        payload = self._payload_of(job.event_id)
        url = self.url
        if payload is None or url is None:
            return DeliveryAttempt(job.event_id, job.attempt, None, "nothing to send")
        parts = urlsplit(url)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": signature_header(payload, self.secrets, int(time.time())),
        }
        connection = http.client.HTTPConnection(parts.netloc, timeout=self.timeout)
        try:
            target = parts.path or "/"
            connection.request(
                "POST",
                f"{target}?{parts.query}" if parts.query else target,
                body=payload,
                headers=headers,
            )
            response = connection.getresponse()
            response.read()
            return DeliveryAttempt(job.event_id, job.attempt, response.status)
        except OSError as error:
            return DeliveryAttempt(job.event_id, job.attempt, None, str(error))
        finally:
            connection.close()
