"""How many SQL statements one payment costs, on both databases (issue 17, P1).

Each statement is a round trip and 40-50 us of CPU through SQLAlchemy, so the request path
counts them: the user's lock, one INSERT that also applies the rate limit and takes the key,
then the card and the outcome. Statements are counted, not timed.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa

from payment_lib import ProviderUnavailable, RateLimited
from payment_lib.db.tables import Payment

# Per plain payment that succeeds with a new card: PostgreSQL: advisory lock, INSERT pending;
# one UPDATE of the outcome that locks the payment row, then adds the card or locks the known
# one (ON CONFLICT DO UPDATE sees a card another transaction added meanwhile) and links it (a
# data-modifying CTE), in two round trips (test_a_payment_costs_two_round_trips_to_postgresql).
# SQLite (no INSERT inside WITH): INSERT pending; card INSERT, UPDATE outcome, plus BEGIN
# IMMEDIATE twice. (Were 11 and 12, then 5 and 6, then 3 and 5, then 4 and 5.)
EXPECTED = {"postgresql": 3, "sqlite": 5}


@contextmanager
def counted(payments) -> Iterator[list[str]]:
    """The statements one block sends: SQLAlchemy's on SQLite; on PostgreSQL, every statement
    libpq sends (``sent``), which also sees the request path's scripts (``db/scripts.py``) that
    run on the driver's connection, but not BEGIN and COMMIT."""
    if dialect(payments) == "postgresql":
        with sent_to_postgresql(payments) as messages:
            statements: list[str] = []
            yield statements
        statements.extend(statements_in(messages))
        return
    statements = []

    def capture(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        statements.append(" ".join(statement.split())[:120])

    sa.event.listen(payments.database.engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        sa.event.remove(payments.database.engine, "before_cursor_execute", capture)


def pay(payments, user_id: str, key: str | None = None, **extra: object):
    return payments.pay(
        user_id=user_id,
        amount="20.00",
        currency="usd",
        payment_method="pm_card_visa",
        idempotency_key=key or str(uuid.uuid4()),
        **extra,
    )


def dialect(payments) -> str:
    name: str = payments.database.engine.dialect.name
    return name


def test_a_payment_costs_few_statements(payments, user_id):
    with counted(payments) as statements:
        result = pay(payments, user_id)

    assert result.status == "succeeded"
    assert 0 < len(statements) <= EXPECTED[dialect(payments)], "\n".join(statements)


def test_no_savepoints_on_the_request_path(payments, user_id):
    with counted(payments) as statements:
        pay(payments, user_id)

    assert not [s for s in statements if "SAVEPOINT" in s.upper()], "\n".join(statements)


def test_a_replay_and_the_rate_limit_still_answer_the_same(payments, user_id):
    first = pay(payments, user_id, key="order-1")
    replayed = pay(payments, user_id, key="order-1")
    assert replayed.replayed and replayed.id == first.id and replayed.status == "succeeded"
    for _ in range(4):
        pay(payments, user_id)
    refused: Callable[[], object] = lambda: pay(payments, user_id)  # noqa: E731
    try:
        refused()
    except RateLimited as error:
        assert error.retry_after > 0
    else:
        raise AssertionError("the sixth attempt in an hour was not rate limited")
    # A replay is never rate limited.
    assert pay(payments, user_id, key="order-1").replayed


def test_no_database_connection_is_held_while_stripe_answers(payments, user_id, stripe_emulator):
    """Issue 17, P2: a slow Stripe must not hold the pool. The emulator takes 1.5 s; while the
    call is in flight the payment is pending and no connection of the library is checked out."""
    stripe_emulator.faults.set(latency=1.5, path_prefix="/v1/payment_intents")
    try:
        with ThreadPoolExecutor(1) as pool:
            paying = pool.submit(pay, payments, user_id)
            assert stripe_emulator.wait_for_in_flight(1, timeout=10)
            checked_out = payments.database.engine.pool.checkedout()
            result = paying.result(timeout=30)
    finally:
        stripe_emulator.faults.clear()

    assert checked_out == 0
    assert result.status == "succeeded"


def test_a_resumed_payment_updates_its_row_once(payments, user_id, stripe_emulator):
    """The general outcome path (resumed payments, renewals, webhooks): setting the
    PaymentIntent id is not flushed on its own before the card look-up."""
    stripe_emulator.faults.set(error_status=500, path_prefix="/v1/payment_intents")
    try:
        pay(payments, user_id, key="order-7")
    except ProviderUnavailable:
        pass
    finally:
        stripe_emulator.faults.clear()

    with counted(payments) as statements:
        result = pay(payments, user_id, key="order-7")

    assert result.status == "succeeded"
    updates = [s for s in statements if s.upper().startswith("UPDATE PAYMENTS")]
    assert len(updates) == 1, "\n".join(statements)


def test_the_outcome_is_stamped_with_the_library_clock(payments, user_id):
    """Every write of the request path takes its time from the clock the facade was given."""
    moment = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    payments.clock = lambda: moment

    result = pay(payments, user_id)

    query = sa.select(Payment.created_at, Payment.updated_at).where(Payment.id == result.id)
    with payments.database.engine.connect() as connection:
        stamps = connection.execute(query).one()
    assert list(stamps) == [moment, moment]


def test_a_checkout_does_not_ping_the_server(payments):
    """A ping is a round trip on every checkout (two a payment): a connection the server closed
    is found at checkout without one (the socket has the server's goodbye to read)."""
    assert payments.database.engine.pool._pre_ping is False


def test_connections_the_server_closed_are_replaced_at_checkout(payments, user_id):
    if dialect(payments) != "postgresql":
        return  # SQLite has no server to close them
    pay(payments, user_id)  # pooled connections, as in an application that has been running
    admin = sa.create_engine(payments.settings.database_url)
    try:
        with admin.connect() as connection:
            killed = connection.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        admin.dispose()
    assert killed >= 1
    time.sleep(0.2)  # the server's goodbye reaches the pooled sockets

    assert pay(payments, user_id).status == "succeeded"
    assert pay(payments, user_id).status == "succeeded"


@contextmanager
def sent_to_postgresql(payments) -> Iterator[list[list[str]]]:
    """Every message the library sends PostgreSQL during the block, read from libpq's own
    trace of each connection the pool lends out: [message type, text] (the text of a
    ``Parse`` or a simple ``Query``)."""
    messages: list[list[str]] = []
    with tempfile.TemporaryFile("w+") as trace:
        pool = payments.database.engine.pool

        def lent(dbapi_connection, _record, _proxy) -> None:
            dbapi_connection.pgconn.trace(trace.fileno())
            dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

        def returned(dbapi_connection, _record) -> None:
            dbapi_connection.pgconn.untrace()

        sa.event.listen(pool, "checkout", lent)
        sa.event.listen(pool, "checkin", returned)
        try:
            yield messages
        finally:
            sa.event.remove(pool, "checkout", lent)
            sa.event.remove(pool, "checkin", returned)
            trace.seek(0)
            for line in trace.read().splitlines():
                fields = line.split("\t")
                if fields[0] == "F" and len(fields) > 2:
                    # Parse: "name" "text" parameters...; Query: "text".
                    text = fields[3] if len(fields) > 3 else ""
                    if fields[2] == "Parse":
                        text = text.split('" "', 1)[1].rsplit('"', 1)[0]
                    messages.append([fields[2], text.strip('" ')[:160]])


def round_trips(messages: list[list[str]]) -> list[str]:
    """The messages that wait for the server's answer: a simple ``Query`` (BEGIN and COMMIT
    among them), or the ``Sync`` that ends an extended-protocol exchange (or a pipeline)."""
    return [f"{kind} {text}" for kind, text in messages if kind in ("Query", "Sync")]


def statements_in(messages: list[list[str]]) -> list[str]:
    """One entry per statement executed (an ``Execute``, or a simple ``Query`` but BEGIN and
    COMMIT), named by the text of the ``Parse`` before it when there is one."""
    statements, parsed = [], ""
    for kind, text in messages:
        if kind == "Parse":
            parsed = text
        elif kind == "Execute":
            statements.append(parsed)
        elif kind == "Query" and text.split(" ")[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            statements.append(text)
    return statements


def test_a_payment_costs_two_round_trips_to_postgresql(payments, user_id):
    """Issue 17, P1: each round trip costs this process CPU (psycopg and the kernel's loopback)
    whatever the statement. A payment needs two, one per transaction: the lock and the INSERT
    as one message (the INSERT counts the attempts after the lock is held), and the outcome
    with its card as another, each a transaction of its own without BEGIN or COMMIT."""
    if dialect(payments) != "postgresql":
        return  # SQLite has no round trips
    with sent_to_postgresql(payments) as messages:
        result = pay(payments, user_id)

    assert result.status == "succeeded"
    assert len(round_trips(messages)) == 2, "\n".join(round_trips(messages))
