"""Scripts (``db/scripts.py``): several statements in one round trip to PostgreSQL, as one
transaction, with SQLAlchemy's errors and a lost connection handled as for any statement."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from payment_lib.db import Database
from payment_lib.db.scripts import Script, run_script
from payment_lib.domain.errors import DatabaseUnavailable

pytestmark = pytest.mark.postgresql_only

NOTES = sa.Table(
    "script_notes",
    sa.MetaData(),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
)


@pytest.fixture
def database(database_url):
    db = Database(database_url)
    NOTES.create(db.engine)
    yield db
    db.dispose()


def add(name: str) -> sa.Executable:
    """INSERT a note whose id is the bound ``<name>`` and whose body is ``body``."""
    return (
        sa.insert(NOTES)
        .values(id=sa.bindparam(name, type_=sa.Uuid()), body=sa.bindparam("body"))
        .returning(NOTES.c.id)
    )


def script(database: Database, *statements: sa.Executable) -> Script:
    return Script.compile(database.engine.dialect, statements)


def notes(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        return list(connection.execute(sa.select(NOTES.c.body)).scalars())


def test_each_statement_returns_its_first_row(database):
    first, second = uuid.uuid4(), uuid.uuid4()
    both = script(database, add("a"), add("b"))

    with database.unit_of_work().core(autocommit=True) as connection:
        rows = run_script(connection, both, {"a": first, "b": second, "body": "hello\x00"})

    assert [row[0] for row in rows if row] == [first, second]
    # NUL characters are replaced as for any other statement.
    assert notes(database) == ["hello\ufffd", "hello\ufffd"]


def test_a_failing_statement_undoes_the_earlier_ones(database):
    taken = uuid.uuid4()
    with database.unit_of_work().core() as connection:
        connection.execute(sa.insert(NOTES).values(id=taken, body="first"))
    both = script(database, add("a"), add("b"))

    with (
        pytest.raises(sa.exc.IntegrityError),
        database.unit_of_work().core(autocommit=True) as connection,
    ):
        run_script(connection, both, {"a": uuid.uuid4(), "b": taken, "body": "second"})

    assert notes(database) == ["first"]
    # The connection went back to the pool out of autocommit: a transaction still is one.
    with database.engine.connect() as connection:
        assert connection.connection.driver_connection.autocommit is False


def test_a_later_statement_sees_what_committed_while_an_earlier_one_waited(database):
    """The request path's transaction 1: the lock, then a statement whose snapshot is taken
    once the lock is held, so it counts what the lock's holder committed."""
    lock = sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.BigInteger())))
    count = sa.select(sa.func.count()).select_from(NOTES)
    holder = database.engine.connect()
    transaction = holder.begin()
    holder.execute(lock, {"key": 42})
    holder.execute(sa.insert(NOTES).values(id=uuid.uuid4(), body="while you waited"))
    counted: list[int] = []

    def wait_then_count() -> None:
        with database.unit_of_work().core(autocommit=True) as connection:
            _locked, row = run_script(connection, script(database, lock, count), {"key": 42})
            assert row is not None
            counted.append(row[0])

    waiting = threading.Thread(target=wait_then_count)
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive()  # waits for the lock
    transaction.commit()
    holder.close()
    waiting.join(10)

    assert counted == [1]


def test_a_connection_lost_is_invalidated_and_reported_unavailable(database):
    connection_id: list[int] = []
    invalidated: list[object] = []
    sa.event.listen(database.engine.pool, "invalidate", lambda *args: invalidated.append(args))

    with (
        pytest.raises(DatabaseUnavailable),
        database.unit_of_work().core(autocommit=True) as connection,
    ):
        connection_id.append(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar())
        with database.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({connection_id[0]})")
        run_script(connection, script(database, add("a")), {"a": uuid.uuid4(), "body": "x"})

    assert len(invalidated) == 1  # not returned to the pool
    # The pool lends a new connection next, and it works.
    with database.unit_of_work().core(autocommit=True) as connection:
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != connection_id[0]
        run_script(connection, script(database, add("a")), {"a": uuid.uuid4(), "body": "y"})
    assert notes(database) == ["y"]


def test_sqlalchemys_cursor_events_see_each_statement(database):
    """A host app's SQL instrumentation (OpenTelemetry's, say, or statement counters) listens
    to SQLAlchemy's cursor events: a script's statements are seen as any others are."""
    seen: list[tuple[str, str]] = []

    def before(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        seen.append(("before", statement.split()[0]))

    def after(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        seen.append(("after", statement.split()[0]))

    sa.event.listen(database.engine, "before_cursor_execute", before)
    sa.event.listen(database.engine, "after_cursor_execute", after)
    count = sa.select(sa.func.count()).select_from(NOTES)
    with database.unit_of_work().core(autocommit=True) as connection:
        run_script(connection, script(database, add("a"), count), {"a": uuid.uuid4(), "body": "x"})

    assert sorted(seen) == sorted(
        [("before", "INSERT"), ("before", "SELECT"), ("after", "INSERT"), ("after", "SELECT")]
    )


def test_a_script_of_one_statement_is_one_round_trip_and_fails_as_any_statement(database):
    """One statement needs no pipeline (its own transaction in autocommit): it goes as it is,
    and an error is SQLAlchemy's, the connection left out of autocommit for the next user."""
    taken = uuid.uuid4()
    one = script(database, add("a"))
    with database.unit_of_work().core(autocommit=True) as connection:
        (row,) = run_script(connection, one, {"a": taken, "body": "first"})
        assert row == (taken,)
        with pytest.raises(sa.exc.IntegrityError):
            run_script(connection, one, {"a": taken, "body": "again"})
        driver = connection.connection.driver_connection
        assert driver.autocommit is False
        assert driver.pgconn.pipeline_status == 0  # never in pipeline mode
    with database.unit_of_work().core() as connection:
        (row,) = run_script(connection, one, {"a": uuid.uuid4(), "body": "in a transaction"})
        connection.rollback()
    assert notes(database) == ["first"]
