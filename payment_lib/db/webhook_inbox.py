"""Storing received webhook events: one INSERT ... ON CONFLICT DO NOTHING and its commit for
every group of deliveries that arrive together (group commit), SQLAlchemy Core, no ORM.

A host app's web server receives deliveries on many threads. The first to arrive stores its
event at once (one INSERT, in autocommit on PostgreSQL: no BEGIN or COMMIT round trips); the
deliveries that arrive while it runs queue up, and when it returns the next of them stores
every queued event in one statement (up to ``GROUP``) and one commit. Each call returns only
once the statement holding its event has committed, so a webhook answered 200 is stored.

At most one statement of the inbox is in flight, so on PostgreSQL the writer keeps one
connection of its own (its engine's pool holds one, without pre-ping): no checkout and no
``SELECT 1`` per delivery. If that connection was lost (a database restart), the statement is
run once more on a new one: the INSERT is idempotent, so running it twice is safe.

A duplicate (stored before, or twice in one group) is reported as one and stored once. A
database error for the group is retried event by event, so that a bad event fails alone; a
database that cannot be reached fails every call of the group with ``DatabaseUnavailable``.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payment_lib.db.engine import is_unavailable
from payment_lib.db.json_document import (
    storable_as_received,
    storable_as_written,
    to_storable,
)
from payment_lib.db.tables import WebhookEvent
from payment_lib.domain.errors import DatabaseUnavailable

GROUP = 200  # events in one statement at most (a few kB each)
BULK = 1000  # a backfill's events in one statement
_TABLE: Table = WebhookEvent.__table__  # type: ignore[assignment]
_ENCODER = json.JSONEncoder()  # built once (json.dumps with an option builds one per call)
_JSON = (str, int, float)  # what JSON writes as it is (bool is an int)


@functools.cache
def _adding(dialect: str) -> Any:
    """The INSERT of one row or a few, built once per dialect (SQLite)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(_TABLE)
        .on_conflict_do_nothing(index_elements=["stripe_event_id"])
        .returning(_TABLE.c.stripe_event_id)
    )


@functools.cache
def _from_json(columns: tuple[str, ...]) -> str:
    """PostgreSQL: the INSERT of any number of rows, given as one JSON array of objects. Its
    text is the same for 1 row or 200 (psycopg parses it once and prepares it; a multi-row
    VALUES statement is new text for each number of rows, parsed again every time: 0.8 ms for
    8), and its one parameter is plain text (an array of JSON documents is escaped character
    by character). Sent as the driver's SQL: SQLAlchemy's compiled-statement machinery cost
    0.1 ms more per statement than the statement itself (0.27)."""
    listed = ", ".join(columns)
    return (
        f"INSERT INTO {_TABLE.name} ({listed}) SELECT {listed} FROM jsonb_populate_recordset("
        f"CAST(NULL AS {_TABLE.name}), CAST(%(rows)s AS jsonb)) "
        "ON CONFLICT (stripe_event_id) DO NOTHING RETURNING stripe_event_id"
    )


class _Waiting:
    """One delivery's event, waiting for the statement that stores it."""

    __slots__ = ("added", "done", "error", "json", "row", "turn")

    def __init__(self, row: dict[str, Any], json_row: str | None) -> None:
        self.row = row
        self.json = json_row  # PostgreSQL: the row as the statement's JSON takes it
        self.added = False
        self.done = False
        self.error: BaseException | None = None
        # Held until its thread may go on: released once, when its group is stored or when it
        # is first in the queue and the statement in flight is done (then it stores the
        # queue). A lock of its own, not a condition of the shared lock: the thread woken
        # needs no lock held by the waker (one wake-up, not two).
        self.turn = threading.Lock()
        self.turn.acquire()


class WebhookInbox:
    """The inbox's writer: ``add_once`` from any number of threads.

    ``engine``: on PostgreSQL one of its own (a pool of one connection, no pre-ping); on
    SQLite the library's (its one writer at a time needs no more)."""

    def __init__(
        self,
        engine: Engine,
        unavailable: Callable[[BaseException], DatabaseUnavailable],
        *,
        bulk: Engine | None = None,
    ) -> None:
        self.engine = engine
        self._bulk = bulk or engine  # backfills: the library's engine (not the kept connection)
        self._unavailable = unavailable
        self._statement = _adding(engine.dialect.name)
        self._postgresql = engine.dialect.name == "postgresql"
        # Each column's bind processing (UTC times), as SQLAlchemy applies it to a statement's
        # parameters; applied here to the JSON rows.
        self._processors = {
            column.name: column.type._cached_bind_processor(engine.dialect) for column in _TABLE.c
        }
        self._lock = threading.Lock()  # guards the queue and ``_storing``, never held long
        self._queue: list[_Waiting] = []
        self._storing = False  # a thread stores a group (or is woken to store the next)
        self._next: _Waiting | None = None  # the waiter last woken to store the queue
        # PostgreSQL: the connection kept, used by one group at a time, and its DB-API cursor
        # (one statement at a time: a cursor for each cost 10-30 µs)
        self._kept: tuple[Connection, Any] | None = None

    @property
    def queued(self) -> int:
        """Events waiting for the statement in flight to finish."""
        return len(self._queue)

    def add_once(self, row: dict[str, Any], written: str | None = None) -> bool:
        """Store an event (an inbox row) unless its stripe_event_id is stored; True if it was
        added. Returns once it is committed. ``written``: the payload's JSON text as received,
        when it is the document to store (not scrubbed): PostgreSQL is sent that text rather
        than the document written again, unless JSONB cannot hold it as it is.

        The first caller to find no statement in flight stores its event itself; those that
        come meanwhile queue, and the first of them, woken when the statement is done, stores
        the queue in one statement, then wakes the others.

        Raises:
            DatabaseUnavailable: the database could not be reached; maybe not stored.
        """
        # PostgreSQL: the row's JSON written by its own thread, before it queues, so that the
        # thread storing the group sends the statement sooner (less between two statements).
        mine = _Waiting(row, self._as_json(row, written) if self._postgresql else None)
        with self._lock:
            self._queue.append(mine)
            waits, self._storing = self._storing, True
        if waits:
            try:
                mine.turn.acquire()  # until stored, or first in the queue with nothing in flight
            except BaseException:  # a signal in this (main) thread: Ctrl-C, an alarm
                self._leave(mine)
                raise
        if not mine.done:  # first in the queue: this thread stores the queue
            with self._lock:
                group, self._queue = self._queue[:GROUP], self._queue[GROUP:]
            try:
                self._store(group)
            finally:
                with self._lock:
                    following = self._chosen_next()
                if following is not None:  # the next statement first, then the answers
                    following.turn.release()
                for waiting in group:
                    if waiting is not mine:
                        waiting.turn.release()
        if mine.error is not None:
            raise mine.error
        return mine.added

    def _leave(self, mine: _Waiting) -> None:
        """A waiter interrupted leaves the queue (its event is stored only if its group was
        already taken); if it was chosen to store the queue next, the next in line is."""
        with self._lock:
            if mine in self._queue:
                self._queue.remove(mine)
            if self._next is not mine:
                return
            following = self._chosen_next()
        if following is not None:
            following.turn.release()

    def _chosen_next(self) -> _Waiting | None:
        """(Under the lock.) The first waiter in the queue, chosen to store it next; None when
        the queue is empty (then no one stores)."""
        following = self._queue[0] if self._queue else None
        self._storing, self._next = following is not None, following
        return following

    def close(self) -> None:
        """Close the kept connection (the next delivery opens one)."""
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is not None:
            _close(*kept)

    def _store(self, group: list[_Waiting]) -> None:
        """Store a group; every one of them is done afterwards, added or with its error."""
        try:
            added = self._run(group)
        except Exception as error:
            if len(group) > 1 and not is_unavailable(error):
                for waiting in group:  # a bad event fails alone
                    self._store([waiting])
                return
            failure = self._translated(error)
            for waiting in group:
                waiting.error, waiting.done = failure, True
            return
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

    def _run(self, group: Sequence[_Waiting]) -> set[str]:
        """INSERT and commit on the kept connection; if it was lost, once more on a new one."""
        kept, self._kept = self._kept, None
        if kept is not None:
            try:
                added = self._insert(*kept, group)
            except Exception as error:
                _close(*kept)
                if not is_unavailable(error):
                    raise
            else:
                self._kept = kept
                return added
        connection, cursor = self.engine.connect(), None
        try:
            if self._postgresql:
                connection.execution_options(isolation_level="AUTOCOMMIT")
                cursor = connection.connection.cursor()
            added = self._insert(connection, cursor, group)
        except BaseException:
            _close(connection, cursor)
            raise
        if self._postgresql:
            self._kept = (connection, cursor)
        else:
            _close(connection)
        return added

    def add_all(self, rows: Sequence[dict[str, Any]], written: Sequence[str | None]) -> int:
        """Store many events in one transaction (a backfill), ``BULK`` to a statement, each
        stripe_event_id once; the number added. ``written`` as in ``add_once``, one per row.

        Raises:
            DatabaseUnavailable: the database could not be reached; nothing stored.
        """
        unique: dict[str, tuple[dict[str, Any], str | None]] = {}
        for row, text in zip(rows, written, strict=True):
            if row["stripe_event_id"] not in unique:
                json_row = self._as_json(row, text) if self._postgresql else None
                unique[row["stripe_event_id"]] = (row, json_row)
        pairs = list(unique.values())
        added = 0
        try:
            with self._bulk.begin() as connection:
                for start in range(0, len(pairs), BULK):
                    added += len(self._execute(connection, None, pairs[start : start + BULK]))
        except Exception as error:
            raise self._translated(error) from error
        return added

    def _insert(self, connection: Connection, cursor: Any, group: Sequence[_Waiting]) -> set[str]:
        """INSERT the rows (each stripe_event_id once), commit; the ids added."""
        unique: dict[str, tuple[dict[str, Any], str | None]] = {}
        for waiting in group:
            unique.setdefault(waiting.row["stripe_event_id"], (waiting.row, waiting.json))
        added = self._execute(connection, cursor, list(unique.values()))
        if not self._postgresql:  # PostgreSQL: in autocommit, committed once it returns
            connection.commit()
        return added

    def _execute(
        self,
        connection: Connection,
        cursor: Any,
        pairs: Sequence[tuple[dict[str, Any], str | None]],
    ) -> set[str]:
        """The INSERT of rows with distinct stripe_event_ids, each with its JSON (``_as_json``,
        PostgreSQL) or None; on PostgreSQL with ``cursor``, a DB-API cursor of ``connection``
        (None: a new one); the ids added."""
        if self._postgresql:
            texts = ", ".join([json_row or "" for _, json_row in pairs])
            statement = _from_json(tuple(pairs[0][0]))
            return _executed(connection, cursor, statement, {"rows": f"[{texts}]"})
        rows = [row for row, _ in pairs]
        found = connection.execute(self._statement, rows[0] if len(rows) == 1 else rows)
        return {row[0] for row in found}

    def _as_json(self, row: dict[str, Any], written: str | None) -> str:
        """One row as a JSON object for ``jsonb_populate_recordset``: each value as its column
        stores it (times in UTC; ids and times as text), the payload as ``written`` when JSONB
        can hold that text as it is, else the document written, NUL-safe (``to_storable``)."""
        values: dict[str, Any] = {}
        for name, value in row.items():
            if name == "payload":
                continue
            processor = self._processors[name]
            stored = value if processor is None else processor(value)
            # ids and times as text, as default=str writes them
            values[name] = stored if value is None or isinstance(value, _JSON) else str(stored)
        if written is None or not storable_as_received(written):
            written = json.dumps(row["payload"])
            if not storable_as_written(written):
                written = json.dumps(to_storable(row["payload"]))
        return _ENCODER.encode(values)[:-1] + ', "payload": ' + written + "}"

    def _translated(self, error: Exception) -> Exception:
        if is_unavailable(error) and not isinstance(error, DatabaseUnavailable):
            return self._unavailable(error)
        return error


def _executed(
    connection: Connection, cursor: Any, statement: str, parameters: dict[str, str]
) -> set[str]:
    """Run a statement returning one column on ``cursor``, a DB-API cursor of ``connection``
    (None: a new one, closed after), through
    SQLAlchemy's cursor-level execution (``Connection._cursor_execute``, what dialects use for
    their own statements): its before/after_cursor_execute events and its error handling
    (``handle_error``: ``DatabaseUnavailable``, a lost connection invalidated) without its
    execution context and result objects (0.1 ms a statement, a third of it here); the
    values returned."""
    used = connection.connection.cursor() if cursor is None else cursor
    try:
        connection._cursor_execute(used, statement, parameters)
        return {row[0] for row in used.fetchall()}
    finally:
        if cursor is None:
            used.close()


def _close(connection: Connection, cursor: Any = None) -> None:
    """Back to the pool (its kept cursor closed first); a connection lost with the database is
    discarded, not an error."""
    try:
        if cursor is not None:
            cursor.close()
        connection.close()
    except Exception as error:
        if not is_unavailable(error):
            raise
