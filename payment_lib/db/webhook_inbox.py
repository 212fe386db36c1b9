"""Storing received webhook events: one INSERT ... ON CONFLICT DO NOTHING and its commit for
every group of deliveries that arrive together (group commit), SQLAlchemy Core, no ORM.

A host app's web server receives deliveries on many threads. The first to arrive stores its
event at once (a single INSERT, in autocommit on PostgreSQL: no BEGIN or COMMIT round trips);
the deliveries that arrive while it runs queue up, and when it returns the next of them stores
every queued event in one statement (up to ``GROUP``) and one commit. Each call returns only
once the statement holding its event has committed, so a webhook answered 200 is stored. A
delivery alone pays what it did before; under load the statement, its commit, the pool's
checkout (and its pre-ping) are shared by the group.

A duplicate (stored before, or twice in one group) is reported as one and stored once. A
database error for the group is retried event by event, so that a bad event fails alone; a
database that cannot be reached fails every call of the group with ``DatabaseUnavailable``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payment_lib.db.engine import is_unavailable
from payment_lib.db.tables import WebhookEvent
from payment_lib.domain.errors import DatabaseUnavailable

GROUP = 200  # events in one statement at most (a few kB each)


@functools.cache
def _adding(dialect: str) -> Any:
    """The INSERT, built once per dialect; the rows are its parameters (SQLAlchemy's
    "insertmanyvalues" sends many as one multi-row statement)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = WebhookEvent.__table__
    return (
        insert(table)  # type: ignore[arg-type]
        .on_conflict_do_nothing(index_elements=["stripe_event_id"])
        .returning(table.c.stripe_event_id)
    )


class _Waiting:
    """One delivery's event, waiting for the statement that stores it."""

    __slots__ = ("added", "done", "error", "row")

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.added = False
        self.done = False
        self.error: BaseException | None = None


class WebhookInbox:
    """The inbox's writer: ``add_once`` from any number of threads."""

    def __init__(
        self, engine: Engine, unavailable: Callable[[BaseException], DatabaseUnavailable]
    ) -> None:
        self._engine = engine
        self._unavailable = unavailable
        self._statement = _adding(engine.dialect.name)
        self._autocommit = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._turn = threading.Condition(self._lock)
        self._queue: list[_Waiting] = []
        self._storing = False
        # The connection of the group just stored, kept for the next one when deliveries are
        # queued already (no checkout, no pre-ping); back in the pool as soon as none are.
        self._handed: Connection | None = None

    @property
    def queued(self) -> int:
        """Events waiting for the statement in flight to finish."""
        return len(self._queue)

    def add_once(self, row: dict[str, Any]) -> bool:
        """Store an event (an inbox row) unless its stripe_event_id is stored; True if it was
        added. Returns once it is committed.

        Raises:
            DatabaseUnavailable: the database could not be reached; maybe not stored.
        """
        mine = _Waiting(row)
        with self._lock:
            self._queue.append(mine)
        while True:
            with self._lock:
                while self._storing and not mine.done:
                    self._turn.wait()
                if mine.done:
                    break
                self._storing = True  # this thread stores the queue, its own event included
                group, self._queue = self._queue[:GROUP], self._queue[GROUP:]
                handed, self._handed = self._handed, None
            kept = None
            try:
                kept = self._store(group, handed)
            finally:
                with self._lock:
                    self._storing = False
                    if self._queue and kept is not None:
                        self._handed, kept = kept, None
                    self._turn.notify_all()
                if kept is not None:
                    _close(kept)
        if mine.error is not None:
            raise mine.error
        return mine.added

    def close(self) -> None:
        """Give the kept connection back to the pool (the next delivery checks one out)."""
        with self._lock:
            handed, self._handed = self._handed, None
        if handed is not None:
            _close(handed)

    def _store(self, group: list[_Waiting], handed: Connection | None) -> Connection | None:
        """Store a group; every one of them is done afterwards, added or with its error.
        Returns the connection, for the next group, unless the statement failed."""
        connection = handed
        try:
            if connection is None:
                connection = self._engine.connect()
                if self._autocommit:
                    connection.execution_options(isolation_level="AUTOCOMMIT")
            added = self._insert(connection, [waiting.row for waiting in group])
        except Exception as error:
            if connection is not None:
                _close(connection)
            if len(group) > 1 and not is_unavailable(error):
                for waiting in group:  # a bad event fails alone
                    kept = self._store([waiting], None)
                    if kept is not None:
                        _close(kept)
                return None
            failure = self._translated(error)
            for waiting in group:
                waiting.error, waiting.done = failure, True
            return None
        except BaseException:  # interrupted: the others must not wait forever
            for waiting in group:
                waiting.error = DatabaseUnavailable("Storing the event was interrupted.")
                waiting.done = True
            raise
        for waiting in group:
            event_id = waiting.row["stripe_event_id"]
            waiting.added = event_id in added
            added.discard(event_id)  # the same event again in this group: a duplicate
            waiting.done = True
        return connection

    def _insert(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
        """INSERT the rows (each stripe_event_id once), commit; the ids added."""
        unique: dict[str, dict[str, Any]] = {}
        for row in rows:
            unique.setdefault(row["stripe_event_id"], row)
        parameters = rows[0] if len(unique) == 1 else list(unique.values())
        added = {found[0] for found in connection.execute(self._statement, parameters)}
        connection.commit()
        return added

    def _translated(self, error: Exception) -> Exception:
        if is_unavailable(error) and not isinstance(error, DatabaseUnavailable):
            return self._unavailable(error)
        return error


def _close(connection: Connection) -> None:
    """Back to the pool; a connection lost with the database is discarded, not an error."""
    try:
        connection.close()
    except Exception as error:
        if not is_unavailable(error):
            raise
