"""Receiving many events at once, for backfills: NDJSON, one event a line, all or nothing.

A line is either a delivery as Stripe POSTed it, ``{"payload": "<the body, verbatim>",
"signature": "<its Stripe-Signature header>"}``, verified like ``receive_event`` (the same
secrets and tolerance: a capture older than the tolerance is refused as a replay), or, with
``trusted``, a Stripe event as Stripe's events API returns it (``{"id": "evt_...", "object":
"event", ...}``). Trusted events are stored as not signature-verified, like an event
``replay_event`` fetches: the caller vouches that they were read from Stripe's API with the
secret key, which is what makes them Stripe's. Without ``trusted`` such a line is refused.

Every line is checked before anything is stored; the first bad one raises (its line number in
the message) and nothing is stored. Then every event is stored in one transaction by the
inbox's writer (``WebhookInbox.add_all``: its ``INSERT ... ON CONFLICT DO NOTHING``, many
events to a statement, no ORM session): a duplicate (stored before, or repeated in the input)
is counted and changes nothing, so running the same file again is safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from payment_lib.domain.errors import InvalidRequest, InvalidSignature
from payment_lib.services.ports import Clock
from payment_lib.services.webhook_payloads import parse_event
from payment_lib.services.webhook_receive import scrubbed
from payment_lib.services.webhooks import MAX_PAYLOAD_BYTES, Verifier, event_row

log = structlog.get_logger(__name__)

# Stores many inbox rows in one transaction, each with its payload's text as received (or
# None); the number added (``WebhookInbox.add_all``).
StoreAll = Callable[[Sequence[dict[str, Any]], Sequence["str | None"]], int]


@dataclass(frozen=True)
class BackfillReport:
    """What receiving many events did: how many were read, stored, and already stored."""

    received: int
    stored: int
    duplicates: int

    def to_dict(self) -> dict[str, int]:
        return {"received": self.received, "stored": self.stored, "duplicates": self.duplicates}


def receive_events(
    lines: Iterable[bytes | str],
    *,
    trusted: bool,
    store_all: StoreAll,
    verify: Verifier,
    secrets: list[str],
    tolerance: int,
    clock: Clock,
) -> BackfillReport:
    """Check every line, then store every event once, in one transaction.

    Raises:
        InvalidRequest: a line is not JSON, not a delivery nor (with ``trusted``) an event,
            or too large; the message names its line. Nothing is stored.
        InvalidSignature: a delivery's signature is missing, wrong or too old.
    """
    now = clock()
    rows: list[dict[str, Any]] = []
    texts: list[str | None] = []
    for number, line in enumerate(lines, start=1):
        text = line.encode() if isinstance(line, str) else line
        if not text.strip():
            continue
        try:
            event, verified, written = _event_of(text, trusted, verify, secrets, tolerance)
        except InvalidSignature as error:
            raise InvalidSignature(f"Line {number}: {error.message}") from None
        except InvalidRequest as error:
            raise InvalidRequest(f"Line {number}: {error.message}", param="lines") from None
        event, kept = scrubbed(event, written)
        rows.append(event_row(event, verified=verified, now=now))
        texts.append(kept)
    stored = store_all(rows, texts)
    report = BackfillReport(received=len(rows), stored=stored, duplicates=len(rows) - stored)
    log.info("webhook events backfilled", trusted=trusted, **report.to_dict())
    return report


def _event_of(
    line: bytes, trusted: bool, verify: Verifier, secrets: list[str], tolerance: int
) -> tuple[dict[str, Any], bool, str | None]:
    """The event on one line, whether its signature was verified, and its JSON text (None if
    the line is not UTF-8: the parser reads UTF-16 and UTF-32 too)."""
    if len(line) > MAX_PAYLOAD_BYTES:
        raise InvalidRequest(f"The line is too large (at most {MAX_PAYLOAD_BYTES} bytes).")
    try:
        item = json.loads(line)
    except ValueError:
        raise InvalidRequest("The line is not JSON.") from None
    if isinstance(item, dict) and set(item) == {"payload", "signature"}:
        payload, signature = item["payload"], item["signature"]
        if not isinstance(payload, str) or not isinstance(signature, str):
            raise InvalidRequest("A delivery's payload and signature are JSON strings.")
        body = payload.encode()
        verify(body, signature, secrets, tolerance)
        return parse_event(body), True, payload
    if isinstance(item, dict) and item.get("object") == "event":
        if not trusted:
            raise InvalidRequest(
                "An unsigned Stripe event; only events read from Stripe's API with the secret "
                "key may be stored unsigned (trusted)."
            )
        return parse_event(line), False, _utf_8(line)
    raise InvalidRequest(
        'The line is neither a delivery ({"payload": ..., "signature": ...}) nor a Stripe event.'
    )


def _utf_8(line: bytes) -> str | None:
    try:
        return line.decode()
    except UnicodeDecodeError:
        return None
