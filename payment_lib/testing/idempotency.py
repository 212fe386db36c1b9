"""Idempotency keys as Stripe keeps them.

The first request with a key stores its status and body once it starts executing (errors
included) and every later request with the key gets that response again, marked
``Idempotent-Replayed: true``. Another request (method, path or parameters) with the key is a
400 idempotency_error; a request while the first is still running is a 409
idempotency_key_in_use. Requests that fail validation before executing are forgotten.
Stripe keeps keys at least 24 hours; here they stay until ``expire()`` (or a reset).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from payment_lib.testing.errors import ApiError

MAX_KEY_LENGTH = 255

Fingerprint = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What the first request with a key answered."""

    status: int
    body: bytes
    request_id: str


class IdempotencyKeys:
    """Thread-safe store of keys: running, finished (with the stored answer), or unknown."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: dict[str, Fingerprint] = {}
        self._finished: dict[str, tuple[Fingerprint, StoredResponse]] = {}

    def begin(self, key: str, fingerprint: Fingerprint) -> StoredResponse | None:
        """Claim the key for a request, or return the stored answer to replay.

        Raises:
            ApiError: 400 for a key too long or reused with other parameters, 409 while the
                key's first request is still running.
        """
        if len(key) > MAX_KEY_LENGTH:
            raise ApiError(
                400,
                f"Invalid idempotency key: keys may be at most {MAX_KEY_LENGTH} characters long.",
                param="Idempotency-Key",
            )
        with self._changed:
            if key in self._running:
                raise ApiError(
                    409,
                    "There is currently another in-progress request using this idempotent key "
                    "(that probably means you submitted twice, and the other request is still "
                    f"going through): {key}. Please try again later.",
                    type="idempotency_error",
                    code="idempotency_key_in_use",
                )
            finished = self._finished.get(key)
            if finished is None:
                self._running[key] = fingerprint
                self._changed.notify_all()
                return None
        first, stored = finished
        if first[:2] != fingerprint[:2]:
            raise ApiError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{fingerprint[1]}' vs '{first[1]}'). Try using a key other than "
                f"'{key}' if you meant to execute a different request.",
                type="idempotency_error",
            )
        if first != fingerprint:
            raise ApiError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type="idempotency_error",
            )
        return stored

    def finish(self, key: str, response: StoredResponse) -> None:
        """Store the answer of the key's first request."""
        with self._changed:
            fingerprint = self._running.pop(key, None)
            if fingerprint is not None:  # None: the emulator was reset meanwhile
                self._finished[key] = (fingerprint, response)
            self._changed.notify_all()

    def forget(self, key: str) -> None:
        """Release a key whose request never executed (validation failure, injected fault)."""
        with self._changed:
            self._running.pop(key, None)
            self._changed.notify_all()

    def expire(self) -> int:
        """Forget every finished key, as Stripe does 24 hours after first use.

        Returns:
            How many keys were forgotten. Keys whose first request is still running stay.
        """
        with self._changed:
            expired = len(self._finished)
            self._finished.clear()
            return expired

    def wait_for_running(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` keys are running; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._running) >= count, timeout)

    def clear(self) -> None:
        with self._changed:
            self._running.clear()
            self._finished.clear()
            self._changed.notify_all()
