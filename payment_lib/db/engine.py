"""Engines for PostgreSQL and SQLite, with SQLite made safe for concurrent writers, and the one
place where a database that cannot be reached becomes ``DatabaseUnavailable``.

Every statement, connection attempt and migration goes through an engine made here; its
``handle_error`` hook turns SQLAlchemy's and the driver's operational errors (connection
refused, the server shutting down or restarting, a connection lost mid-statement, SQLite's
file that cannot be opened or stays locked) into the library's retryable error, and logs one
warning when an outage starts and one line when a new connection succeeds again.
"""

from __future__ import annotations

import select
import threading
from typing import Any

import structlog
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.pool import StaticPool

from payment_lib.db import faults
from payment_lib.domain.errors import DatabaseUnavailable

log = structlog.get_logger(__name__)

# What "the database is not there" looks like to SQLAlchemy: the DB-API's OperationalError and
# InterfaceError (a closed connection), a disconnect found by the pool, a pool that waited for
# a connection in vain.
UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)


# SQLSTATEs of a statement that waited on another transaction's lock in vain: a deadlock, a
# serialization failure, lock_timeout. The driver calls them operational errors, but the
# database is there: the transaction can go on after a savepoint rollback.
LOCK_CONFLICTS = frozenset({"40P01", "40001", "55P03"})


def is_lock_conflict(error: BaseException) -> bool:
    """True when ``error`` is PostgreSQL giving up a lock wait (deadlock, lock_timeout)."""
    cause = getattr(error, "orig", None) or error
    return getattr(cause, "sqlstate", None) in LOCK_CONFLICTS


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database could not be reached or dropped the connection."""
    return isinstance(error, (DatabaseUnavailable, *UNAVAILABLE)) and not is_lock_conflict(error)


class Availability:
    """Whether one engine's database answers, as last seen: one warning per outage.

    ``failed`` is called for every translated error; only the first of an outage is logged
    (as a warning). ``answered`` is called for every new connection; the first one after an
    outage is logged ("database available again").
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = faults.masked(url)
        self._down = False
        self._lock = threading.Lock()

    def failed(self, error: BaseException) -> DatabaseUnavailable:
        """The error to raise for ``error``; warns if this starts an outage."""
        if isinstance(error, DatabaseUnavailable):
            return error
        with self._lock:
            starting, self._down = not self._down, True
        if starting:
            cause = getattr(error, "orig", None) or error
            reason = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
            log.warning("database unavailable", database=self.where)
            log.debug(
                "database unavailable: detail",
                database=self.where,
                error=f"{type(cause).__name__}: {reason}"[:300],
            )
        return faults.unavailable(self.url, getattr(error, "orig", None) or error)

    def answered(self) -> None:
        with self._lock:
            ending, self._down = self._down, False
        if ending:
            log.info("database available again", database=self.where)


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    availability: Availability | None = None,
    transaction_pooler: bool = False,
) -> Engine:
    """An engine for ``url``; on SQLite every transaction takes the write lock up front.

    SQLite's default deferred transactions let two writers both read, then one fails to
    upgrade its lock; BEGIN IMMEDIATE makes a writer wait (busy_timeout) instead, which is
    the SQLite counterpart of the row and advisory locks used on PostgreSQL.

    Errors meaning the database cannot be reached are raised as ``DatabaseUnavailable``,
    reported to ``availability`` (a new one if not given).

    Behind a ``transaction_pooler`` (PgBouncer's transaction mode) a connection's next
    transaction may run on another server session, so psycopg prepares no statements.

    No pooled connection is tested with a round trip at checkout (``pool_pre_ping``): one the
    server closed is noticed by a poll of its socket and replaced (``_refuse_closed_by_server``).
    """
    try:
        if not url.startswith("sqlite"):
            connect_args: dict[str, Any] = {"prepare_threshold": None} if transaction_pooler else {}
            engine = create_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_recycle=RECYCLE_SECONDS,
                connect_args=connect_args,
            )
            event.listen(engine, "checkout", _refuse_closed_by_server)
        else:
            engine = _sqlite_engine(url)
    except (exc.NoSuchModuleError, ImportError) as error:
        raise faults.driver_missing(url, error) from None
    _translate_unavailability(engine, availability or Availability(url))
    if engine.dialect.name == "postgresql":
        event.listen(engine, "before_cursor_execute", _text_without_nul, retval=True)
    return engine


# A pooled connection older than this is replaced at its next checkout: a connection a
# firewall or NAT dropped without a word is not kept for ever.
RECYCLE_SECONDS = 1800


def _refuse_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Checkout hook: a pooled connection the server closed (a restart, a terminated backend,
    an idle timeout) is replaced before use, without the round trip of a ping (SQLAlchemy's
    ``pool_pre_ping``: one per checkout, two per payment).

    An idle connection has nothing to read unless the server said goodbye (its FATAL message,
    then the end of the stream) or the socket is gone; anything readable counts as closed, the
    worst case being one needless reconnect. A connection that breaks mid-statement is
    invalidated by SQLAlchemy and raises ``DatabaseUnavailable`` as before.
    """
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        raise exc.DisconnectionError("connection closed")
    try:
        socket = dbapi_connection.pgconn.socket
    except Exception:  # no socket at all: closed
        raise exc.DisconnectionError("connection closed") from None
    poller = select.poll()
    poller.register(socket, select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        raise exc.DisconnectionError("connection closed by the server")


def _text_without_nul(
    _connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
) -> tuple[str, Any]:
    """PostgreSQL's text types cannot hold NUL characters, which valid JSON from Stripe may
    carry into a field we copy (a dispute's reason, say): each becomes U+FFFD there, rather
    than the statement failing. JSON documents keep theirs (``json_document``)."""
    return statement, _replace_nul(parameters)


def _replace_nul(parameters: Any) -> Any:
    if isinstance(parameters, dict):
        # A plain loop: a script's statements each pass this with ~25 parameters (a generator
        # in any() cost three times as much).
        for value in parameters.values():
            if isinstance(value, str) and "\x00" in value:
                return {
                    key: value.replace("\x00", "\ufffd") if isinstance(value, str) else value
                    for key, value in parameters.items()
                }
        return parameters
    if isinstance(parameters, list | tuple) and parameters:
        if isinstance(parameters[0], dict | list | tuple):  # executemany
            return type(parameters)(_replace_nul(row) for row in parameters)
        if any(isinstance(value, str) and "\x00" in value for value in parameters):
            return type(parameters)(
                value.replace("\x00", "\ufffd") if isinstance(value, str) else value
                for value in parameters
            )
    return parameters


def _translate_unavailability(engine: Engine, availability: Availability) -> None:
    @event.listens_for(engine, "handle_error")
    def _unavailable(context: ExceptionContext) -> None:
        # The pool's pre-ping finds dead pooled connections and replaces them itself.
        if context.is_pre_ping:
            return
        fault = faults.describe(availability.url, context.original_exception)
        if fault is not None:
            raise fault from context.original_exception
        if is_unavailable(context.sqlalchemy_exception or context.original_exception):
            raise availability.failed(context.original_exception) from (
                context.sqlalchemy_exception or context.original_exception
            )

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection: Any, _record: Any) -> None:
        availability.answered()


def _sqlite_engine(url: str) -> Engine:
    options: dict[str, Any] = {}
    if ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:"):
        options["poolclass"] = StaticPool
    engine = create_engine(url, connect_args={"check_same_thread": False}, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
