"""The webhook inbox as callers see it: each stored event's status, and listing them.

An event's status tells what became of it: ``pending`` (to process, or retrying after a
failure), ``processed`` (its handler took it), ``ignored`` (a type the library does not act
on; processed too, so nothing claims it again), ``parked`` (failed too often; waits for a
replay). The payload is never shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from payment_lib.db.tables import WebhookEvent
from payment_lib.domain.errors import InvalidRequest
from payment_lib.observability import iso
from payment_lib.services.ports import NewUnitOfWork

STATUSES = ("pending", "processed", "ignored", "parked")


@dataclass(frozen=True)
class WebhookEventInfo:
    """A stored event as callers see it (never its payload)."""

    stripe_event_id: str
    event_type: str
    processed: bool
    processed_at: dt.datetime | None
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    signature_verified: bool
    status: str  # one of STATUSES

    @property
    def parked(self) -> bool:
        """Given up on after repeated failures; waits for a replay."""
        return self.status == "parked"

    @classmethod
    def of(cls, event: WebhookEvent) -> WebhookEventInfo:
        return cls(
            stripe_event_id=event.stripe_event_id,
            event_type=event.event_type,
            processed=event.processed,
            processed_at=event.processed_at,
            attempts=event.attempts,
            last_error=event.last_error,
            created_at=event.created_at,
            next_attempt_at=event.next_attempt_at,
            signature_verified=event.signature_verified,
            status=event.status,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "stripe_event_id": self.stripe_event_id,
            "event_type": self.event_type,
            "processed": self.processed,
            "processed_at": iso(self.processed_at),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "next_attempt_at": iso(self.next_attempt_at),
            "parked": self.parked,
            "signature_verified": self.signature_verified,
            "status": self.status,
        }


def list_events(
    *,
    new_uow: NewUnitOfWork,
    unprocessed: bool = False,
    limit: int = 100,
    status: str | None = None,
) -> list[WebhookEventInfo]:
    """Stored events, oldest first; only those not processed yet when ``unprocessed``, only
    those with ``status`` (one of STATUSES) when given.

    Raises:
        InvalidRequest: an unknown status.
    """
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}.", param="status")
    with new_uow() as uow:
        found = uow.webhook_events.listing(unprocessed=unprocessed, limit=limit, status=status)
        return [WebhookEventInfo.of(e) for e in found]
