"""What a database error says about the environment, in one line a person can act on.

``describe`` turns the driver's error into the library's: a missing, unwritable or corrupt
SQLite file, a schema that is missing or behind, or ``None`` when it is none of those (the
engine then decides whether the database is unavailable). URLs are shown with the password
masked (``postgresql+psycopg://payments:***@db/payments``); the driver's own text only goes to
the debug log.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import make_url

from payment_lib.domain.environment_errors import (
    DatabaseDriverMissing,
    DatabaseFileCorrupt,
    DatabaseFileMissing,
    DatabaseFileUnwritable,
    SchemaOutOfDate,
)
from payment_lib.domain.errors import DatabaseUnavailable, PaymentError

VARIABLE = "PAYMENT_DATABASE_URL"
UPGRADE = "run `payment-cli db upgrade`"
_CORRUPT = ("file is not a database", "database disk image is malformed")
_READ_ONLY = ("readonly database", "read-only", "readonly")
# SQLSTATEs of a table or column the code expects and the database lacks.
_SCHEMA_STATES = ("42P01", "42703")


def masked(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show only its scheme
        return url.partition("://")[0] + "://…"


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names, or None for an in-memory database or another backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = (parsed.database or "").removeprefix("file:")
    if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    return Path(database)


def missing_sqlite_file(url: str) -> DatabaseFileMissing | None:
    """The error for a SQLite URL whose file does not exist yet (None if it does, or not
    SQLite). Commands other than ``db upgrade`` use it so as not to create an empty file."""
    path = sqlite_path(url)
    if path is None or path.exists():
        return None
    return DatabaseFileMissing(
        f"The SQLite database file {path} does not exist: {UPGRADE} to create it, or point "
        f"{VARIABLE} at the right file."
    )


def driver_missing(url: str, error: BaseException) -> DatabaseDriverMissing:
    """The error for a URL whose driver is unknown or not installed."""
    driver = make_url(url).drivername
    return DatabaseDriverMissing(
        f"{VARIABLE}: the driver {driver!r} is not installed or unknown ({masked(url)}): use "
        "postgresql+psycopg://user:password@host:5432/name or sqlite:///path/payments.db.",
    )


def describe(url: str, error: BaseException) -> PaymentError | None:
    """The environment fault ``error`` (a DB-API exception) shows, or None."""
    text = str(error).lower()
    state = getattr(error, "sqlstate", None)
    if "no such table" in text or "no such column" in text or state in _SCHEMA_STATES:
        return SchemaOutOfDate(
            f"The database at {masked(url)} lacks tables or columns this code uses: its schema "
            f"is missing or behind; {UPGRADE}."
        )
    path = sqlite_path(url)
    if path is None:
        return None
    if any(marker in text for marker in _CORRUPT):
        return DatabaseFileCorrupt(
            f"The SQLite file {path} is not a database or is damaged: restore it from a backup, "
            f"or point {VARIABLE} at another file."
        )
    if any(marker in text for marker in _READ_ONLY):
        return _unwritable(path)
    if "unable to open database file" in text:
        if not path.parent.is_dir():
            return DatabaseFileMissing(
                f"The directory of the SQLite file {path} does not exist: create it, or point "
                f"{VARIABLE} at another path."
            )
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            return _unwritable(path)
    return None


def _unwritable(path: Path) -> DatabaseFileUnwritable:
    return DatabaseFileUnwritable(
        f"The SQLite file {path} cannot be written (read-only file, directory or mode): let "
        "this user write the file and its directory, which holds the journal."
    )


def unavailable(url: str, error: BaseException) -> DatabaseUnavailable:
    """``DatabaseUnavailable`` naming where the database is (host:port) and what to do."""
    parsed = make_url(url)
    text = str(error).lower()
    if "refused" in text:
        reason = "connection refused"
    elif "timeout" in text or "timed out" in text:
        reason = "timed out"
    elif "translate host name" in text or "name or service not known" in text:
        reason = "unknown host"
    elif "locked" in text:
        reason = "the database is locked by another process"
    else:
        reason = "connection failed or dropped"
    if parsed.get_backend_name() == "sqlite":
        where = masked(url)
    else:
        where = f"{masked(url)} ({parsed.host or 'localhost'}:{parsed.port or 5432})"
    return DatabaseUnavailable(
        f"The database at {where} could not be used: {reason}. Check that it is running and "
        f"that {VARIABLE} points at it, then run the command again."
    )
