"""The operations repository: worker heartbeats, reconcile summaries, and the counts and ages
``payment-cli stats`` and ``doctor`` report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from payment_lib.db.tables import ReconcileRun, WorkerHeartbeat


class OperationsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def beat(
        self, worker_id: str, *, started_at: dt.datetime, now: dt.datetime, passes: int
    ) -> None:
        """Record that ``worker_id`` had made ``passes`` passes at ``now`` (a row per worker)."""
        row = self.session.get(WorkerHeartbeat, worker_id, with_for_update=True)
        if row is None:
            row = WorkerHeartbeat(worker_id=worker_id, started_at=started_at)
            self.session.add(row)
        row.seen_at, row.passes = now, passes

    def heartbeats(self, *, limit: int) -> list[WorkerHeartbeat]:
        """The workers seen most recently first."""
        query = select(WorkerHeartbeat).order_by(WorkerHeartbeat.seen_at.desc()).limit(limit)
        return list(self.session.scalars(query))

    def add_reconcile(self, run: ReconcileRun) -> None:
        self.session.add(run)

    def last_reconcile(self) -> ReconcileRun | None:
        query = select(ReconcileRun).order_by(ReconcileRun.finished_at.desc()).limit(1)
        return self.session.scalars(query).first()

    def counts_by_status(self, status: InstrumentedAttribute[str]) -> dict[str, int]:
        """How many rows of ``status``'s table have each status."""
        query = select(status, func.count()).group_by(status)
        return {str(name): int(count) for name, count in self.session.execute(query)}

    def count(self, created: InstrumentedAttribute[dt.datetime], *where: Any) -> int:
        """How many rows of ``created``'s table match ``where``."""
        query = select(func.count()).select_from(created.class_).where(*where)
        return int(self.session.scalar(query) or 0)

    def oldest(
        self, created: InstrumentedAttribute[dt.datetime], *where: Any
    ) -> dt.datetime | None:
        """The oldest ``created`` among the rows matching ``where``."""
        return self.session.scalar(select(func.min(created)).where(*where))

    def ping(self) -> None:
        """One round trip: raises (DatabaseUnavailable, through the unit of work) if the
        database cannot be reached."""
        self.session.execute(select(1))
