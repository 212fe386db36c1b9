"""Several statements sent to PostgreSQL in one round trip, as one transaction.

A round trip costs this process CPU whatever it carries (psycopg, the kernel's loopback), and
BEGIN and COMMIT are round trips of their own. In libpq's pipeline mode the statements go out
together and one Sync ends them: outside a transaction block, PostgreSQL runs the statements
before a Sync as one implicit transaction, committed when the last succeeds and rolled back
entirely when one fails. Each statement still takes its own snapshot when it runs, so a
statement sees what was committed while an earlier one waited for a lock.

A script is SQLAlchemy Core statements compiled once per dialect; their values go through
their columns' bind processors, as SQLAlchemy would send them. It runs on the psycopg
connection of a pooled SQLAlchemy ``Connection`` through SQLAlchemy's cursor-level execution
(``Connection._cursor_execute``, as dialects run their own statements and as the webhook
inbox runs its INSERT): each statement passes its cursor events (the engine's NUL
replacement; a host app's instrumentation) and echo, without an execution context and result
objects (more CPU than the round trip itself on the request path). An error the server answers
at the pipeline's end goes through SQLAlchemy's error handling too (its exception classes, the
engine's ``handle_error``: ``DatabaseUnavailable``; a lost connection invalidated). Both are
private methods of SQLAlchemy 2: ``tests/integration/test_scripts.py`` pins what they do.

A script of one statement goes without a pipeline (in autocommit it is a transaction of its
own already). PostgreSQL only: SQLite runs one statement per call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import ClauseElement, Connection, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

# libpq 14 or later (psycopg's binary package brings its own); else a transaction block.
_PIPELINE = psycopg.Pipeline.is_supported()


@dataclass(frozen=True)
class Script:
    """Compiled statements; each bound value's processor, and literal values."""

    statements: tuple[str, ...]
    processors: Mapping[str, Callable[[Any], Any]]
    literals: Mapping[str, Any]

    @classmethod
    def compile(cls, dialect: Dialect, statements: tuple[Executable, ...]) -> Script:
        """The statements for ``dialect``. Their bound parameters share one namespace: a name
        bound in two statements must mean the same value."""
        texts: list[str] = []
        processors: dict[str, Callable[[Any], Any]] = {}
        literals: dict[str, Any] = {}
        for statement in statements:
            assert isinstance(statement, ClauseElement)
            compiled = statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            if compiled.insert_prefetch or compiled.update_prefetch:
                # SQLAlchemy computes these defaults while executing its own statements.
                raise ValueError(f"set these columns in the script: {compiled.update_prefetch}")
            texts.append(compiled.string)
            for name, bind in compiled.binds.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors[name] = processor
                if not bind.required:
                    if name in literals and literals[name] != bind.effective_value:
                        raise ValueError(f"{name}: bound to two values in one script")
                    literals[name] = bind.effective_value
        return cls(tuple(texts), processors, literals)

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """What the driver gets for ``values``: every value through its bind processor."""
        bound = {**self.literals, **values}
        for name, processor in self.processors.items():
            if name in bound:
                bound[name] = processor(bound[name])
        return bound


def run_script(
    connection: Connection, script: Script, values: Mapping[str, Any]
) -> list[Any | None]:
    """Run ``script`` in one round trip; the first row each statement returned (None when it
    returned none).

    On a connection not in a transaction the statements are one transaction of their own
    (the driver is in autocommit while they run: no BEGIN); inside a transaction, they are
    part of it.
    """
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    parameters = script.parameters(values)
    own = not connection.in_transaction() and not driver.autocommit
    cursors: list[Any] = [driver.cursor() for _ in script.statements]
    try:
        if own:
            driver.autocommit = True
        try:
            with _together(driver, len(cursors)):
                for cursor, statement in zip(cursors, script.statements, strict=True):
                    # SQLAlchemy's cursor-level execution: its events (the engine's NUL
                    # replacement, a host's instrumentation), echo, and its error handling for
                    # an error raised while sending; the pipeline answers at its end.
                    connection._cursor_execute(cursor, statement, parameters)
        except psycopg.Error as error:
            # What the server answered at the Sync, as SQLAlchemy raises an error: its class,
            # the engine's handle_error (DatabaseUnavailable), a lost connection invalidated.
            statements = "; ".join(script.statements)
            connection._handle_dbapi_exception(error, statements, parameters, cursors[-1], None)
        return [cursor.fetchone() if cursor.description else None for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()
        if own:
            _end_autocommit(connection, driver)


def _together(driver: psycopg.Connection[Any], statements: int) -> AbstractContextManager[Any]:
    """How the statements go: one as it is (one round trip, its own transaction in autocommit:
    a pipeline would only add psycopg's work); several in a pipeline, else a transaction."""
    if statements == 1:
        return nullcontext()
    return driver.pipeline() if _PIPELINE else driver.transaction()


def _end_autocommit(connection: Connection, driver: psycopg.Connection[Any]) -> None:
    """Take the driver out of autocommit before the pool lends it again; a connection that
    cannot be is not lent again."""
    try:
        driver.autocommit = False
    except psycopg.Error as error:
        connection.invalidate(error)
