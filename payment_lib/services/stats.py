"""What a deployment is doing, in numbers (``payment-cli stats``): rows by status, the queues'
depths and ages, the webhook lag, parked events, the workers seen and the last reconcile's
drift. Also records the two things only the numbers need: a worker's heartbeat and each
reconcile's summary.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from payment_lib.db.tables import (
    Notification,
    Payment,
    ReconcileRun,
    Refund,
    Subscription,
    WebhookEvent,
)
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.states import UNSETTLED
from payment_lib.observability import iso
from payment_lib.services.ports import NewUnitOfWork
from payment_lib.services.reconcile import ReconcileReport

WORKERS_SHOWN = 20


@dataclass(frozen=True)
class Queue:
    """Items waiting and how long the oldest has waited (None when empty)."""

    depth: int
    oldest_age_seconds: float | None

    def to_dict(self) -> dict[str, object]:
        return {"depth": self.depth, "oldest_age_seconds": self.oldest_age_seconds}


@dataclass(frozen=True)
class OperationsStats:
    """One reading of the deployment's numbers."""

    measured_at: dt.datetime
    by_status: dict[str, dict[str, int]]  # table -> status -> rows
    queues: dict[str, Queue]
    parked_events: int
    workers: list[dict[str, Any]]
    last_reconcile: dict[str, Any] | None

    @property
    def webhook_lag_seconds(self) -> float | None:
        """How long the oldest event waiting to be processed has waited."""
        return self.queues["webhooks"].oldest_age_seconds

    def to_dict(self) -> dict[str, object]:
        return {
            "measured_at": iso(self.measured_at),
            **self.by_status,
            "queues": {name: queue.to_dict() for name, queue in self.queues.items()},
            "webhook_lag_seconds": self.webhook_lag_seconds,
            "parked_events": self.parked_events,
            "workers": self.workers,
            "last_reconcile": self.last_reconcile,
        }


def _queue(uow: UnitOfWork, now: dt.datetime, created: Any, *where: Any) -> Queue:
    depth = uow.operations.count(created, *where)
    oldest = uow.operations.oldest(created, *where) if depth else None
    age = round((now - oldest).total_seconds(), 3) if oldest is not None else None
    return Queue(depth, age)


def collect_stats(*, new_uow: NewUnitOfWork, now: dt.datetime) -> OperationsStats:
    with new_uow() as uow:
        ops = uow.operations
        by_status = {
            "payments": ops.counts_by_status(Payment.status),
            "refunds": ops.counts_by_status(Refund.status),
            "subscriptions": ops.counts_by_status(Subscription.status),
            "notifications": ops.counts_by_status(Notification.status),
            "webhook_events": ops.counts_by_status(WebhookEvent.status),
        }
        queues = {
            "webhooks": _queue(uow, now, WebhookEvent.created_at, WebhookEvent.status == "pending"),
            "notifications": _queue(
                uow, now, Notification.created_at, Notification.status.in_(("pending", "sending"))
            ),
            "unsettled_payments": _queue(
                uow, now, Payment.created_at, Payment.status.in_(UNSETTLED)
            ),
            "pending_refunds": _queue(uow, now, Refund.created_at, Refund.status == "pending"),
        }
        workers = [
            {
                "worker_id": w.worker_id,
                "started_at": iso(w.started_at),
                "seen_at": iso(w.seen_at),
                "passes": w.passes,
            }
            for w in ops.heartbeats(limit=WORKERS_SHOWN)
        ]
        last = ops.last_reconcile()
        return OperationsStats(
            measured_at=now,
            by_status=by_status,
            queues=queues,
            parked_events=by_status["webhook_events"].get("parked", 0),
            workers=workers,
            last_reconcile=_reconcile_dict(last) if last is not None else None,
        )


def _reconcile_dict(run: ReconcileRun) -> dict[str, Any]:
    summary = run.summary or {}
    return {
        "finished_at": iso(run.finished_at),
        "since": iso(run.since),
        "until": iso(run.until),
        "fixed": run.fixed,
        "checked": summary.get("checked", {}),
        "drift": summary.get("counts", {}),
        "unfixed": summary.get("unfixed", 0),
    }


@dataclass
class Heartbeat:
    """One worker process's passes, written at most every ``every`` seconds (workers may pass
    many times a second; doctor only asks whether one passed in the last minutes)."""

    worker_id: str
    started_at: dt.datetime
    every: float = 5.0
    passes: int = 0
    _written: float | None = None

    def beat(self, *, new_uow: NewUnitOfWork, now: dt.datetime) -> bool:
        """Count a pass finished at ``now``; True when it was written."""
        self.passes += 1
        moment = time.monotonic()
        if self._written is not None and moment - self._written < self.every:
            return False
        with new_uow() as uow:
            uow.operations.beat(
                self.worker_id, started_at=self.started_at, now=now, passes=self.passes
            )
            uow.commit()
        self._written = moment
        return True


def record_reconcile(report: ReconcileReport, *, new_uow: NewUnitOfWork, now: dt.datetime) -> None:
    """Keep what a reconcile found (its counts; the drifts themselves are in its report)."""
    summary = {"checked": report.checked, "counts": report.counts, "unfixed": report.unfixed}
    with new_uow() as uow:
        uow.operations.add_reconcile(
            ReconcileRun(
                since=report.since,
                until=report.until,
                fixed=report.fix,
                summary=summary,
                finished_at=now,
            )
        )
        uow.commit()
