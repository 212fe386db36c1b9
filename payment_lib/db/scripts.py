"""Several statements sent to PostgreSQL as one message: one round trip, one transaction.

A round trip costs this process CPU whatever it carries (psycopg, the kernel's loopback), and
BEGIN and COMMIT are round trips of their own. PostgreSQL runs the statements of one simple
``Query`` message as one implicit transaction, committed when the last succeeds and rolled
back entirely when one fails; each statement still takes its own snapshot, so a statement
sees what was committed while an earlier one waited for a lock.

The simple protocol takes no parameters, so the statements are sent through psycopg's
``ClientCursor``, which quotes each value into the text with the server's own rules (psycopg's
adapters, the same ones that dump values for the extended protocol). The statements are
SQLAlchemy Core statements compiled once per dialect; their values go through their columns'
bind processors, and the text through ``Connection.exec_driver_sql``, so SQLAlchemy's events
and error translation (``DatabaseUnavailable``) apply as for any statement.

PostgreSQL only: SQLite runs one statement per call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import ClauseElement, Connection, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class Script:
    """Compiled statements, joined; each bound value's processor, and literal values."""

    sql: str
    processors: Mapping[str, Callable[[Any], Any]]
    literals: Mapping[str, Any]

    @classmethod
    def compile(cls, dialect: Dialect, statements: tuple[Executable, ...]) -> Script:
        """The statements as one text for ``dialect``. Their bound parameters share one
        namespace: a name bound in two statements must mean the same value."""
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
        return cls("; ".join(texts), processors, literals)

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
    """Run ``script`` in one round trip; the first row each statement returned (None for a
    statement that returned no row). Its first statement must return rows (a SELECT, or
    RETURNING): SQLAlchemy closes the cursor of a first result without them.

    On a connection in autocommit the statements are one transaction of their own; inside a
    transaction, they are part of it.
    """
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    factory = driver.cursor_factory
    driver.cursor_factory = psycopg.ClientCursor
    try:
        result = connection.exec_driver_sql(script.sql, script.parameters(values))
    finally:
        driver.cursor_factory = factory
    try:
        cursor = result.cursor
        rows: list[Any | None] = []
        while True:
            rows.append(cursor.fetchone() if cursor.description is not None else None)
            if not cursor.nextset():
                return rows
    finally:
        result.close()
