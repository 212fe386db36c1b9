"""Receiving webhooks fast (issue 17, P3): one INSERT ... ON CONFLICT DO NOTHING and its commit
per delivery, shared by the deliveries that arrive while it runs (group commit), on both
databases. Statements are counted, not timed; each call returns only once its event is
committed."""

from __future__ import annotations

import io
import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from webhook_helpers import event_payload, settings, sign, smtp  # noqa: F401 (fixtures)

from payment_lib import InvalidSignature, configure_logging

INSERT = "INSERT INTO webhook_events"


@contextmanager
def counted(payments) -> Iterator[list[str]]:
    """The SQL statements the inbox's writer sends while inside, one line each (on PostgreSQL
    through an engine of its own)."""
    statements: list[str] = []

    def capture(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        statements.append(" ".join(statement.split())[:120])

    sa.event.listen(payments.database.webhook_inbox.engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        sa.event.remove(payments.database.webhook_inbox.engine, "before_cursor_execute", capture)


def charge_event(number: int, event_id: str | None = None) -> bytes:
    charge = {"id": f"ch_receive_{number}", "object": "charge", "amount": 2000}
    return event_payload("charge.succeeded", charge, event_id or f"evt_receive_{number}")


def receive(payments, payload: bytes):
    return payments.receive_webhook(payload, sign(payload))


def stored_ids(payments) -> list[str]:
    with payments.database.engine.connect() as connection:
        found = connection.execute(sa.text("SELECT stripe_event_id FROM webhook_events"))
        return sorted(row[0] for row in found)


def test_receiving_one_event_is_one_insert_and_its_commit(payments):
    receive(payments, charge_event(0))  # the first connection's set-up is not under test

    with counted(payments) as statements:
        received = receive(payments, charge_event(1))

    assert received.status == "stored"
    inserts = [s for s in statements if s.startswith(INSERT)]
    others = [s for s in statements if not s.startswith(INSERT)]
    assert len(inserts) == 1, "\n".join(statements)
    # PostgreSQL: the INSERT alone, in autocommit; SQLite: its BEGIN IMMEDIATE (and COMMIT).
    expected = [] if payments.database.engine.dialect.name == "postgresql" else ["BEGIN IMMEDIATE"]
    assert others == expected, "\n".join(statements)
    assert stored_ids(payments) == ["evt_receive_0", "evt_receive_1"]


def test_receiving_opens_no_orm_session(payments):
    receive(payments, charge_event(0))
    sessions: list[object] = []

    def opened(session, _transaction) -> None:
        sessions.append(session)

    sa.event.listen(Session, "after_transaction_create", opened)
    try:
        receive(payments, charge_event(1))
        receive(payments, charge_event(1))  # a duplicate too
    finally:
        sa.event.remove(Session, "after_transaction_create", opened)
    assert sessions == []


@contextmanager
def first_insert_held(payments) -> Iterator[threading.Event]:
    """The first INSERT into the inbox waits (in the database call) until the event yielded is
    set: the deliveries that arrive meanwhile queue behind it."""
    release, held = threading.Event(), threading.Event()

    def hold(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if statement.startswith(INSERT) and not held.is_set():
            held.set()
            release.wait(10)

    engine = payments.database.webhook_inbox.engine
    sa.event.listen(engine, "before_cursor_execute", hold)
    try:
        yield release
    finally:
        release.set()
        sa.event.remove(engine, "before_cursor_execute", hold)


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_concurrent_deliveries_share_one_insert_and_each_returns_once_committed(payments):
    receive(payments, charge_event(0))
    payloads = [charge_event(n) for n in range(1, 9)]
    # A delivery repeated while the first is held (7 -> 1), and two in the same group (5, 5).
    payloads += [charge_event(1), charge_event(5)]
    inbox = payments.database.webhook_inbox

    with (
        counted(payments) as statements,
        ThreadPoolExecutor(len(payloads)) as pool,
        first_insert_held(payments) as release,
    ):
        first: Future = pool.submit(receive, payments, payloads[0])
        wait_until(lambda: any(s.startswith(INSERT) for s in statements))
        rest = [pool.submit(receive, payments, p) for p in payloads[1:]]
        wait_until(lambda: inbox.queued == len(rest))
        time.sleep(0.05)
        assert not first.done() and not any(f.done() for f in rest)  # none committed yet
        if payments.database.engine.dialect.name == "postgresql":  # SQLite: reads wait
            assert stored_ids(payments) == ["evt_receive_0"]
        release.set()
        results = [first.result(10)] + [f.result(10) for f in rest]

    assert len([s for s in statements if s.startswith(INSERT)]) == 2, "\n".join(statements)
    assert [r.stripe_event_id for r in results] == [
        *(f"evt_receive_{n}" for n in range(1, 9)),
        "evt_receive_1",
        "evt_receive_5",
    ]
    assert [r.duplicate for r in results] == [False] * 8 + [True, True]
    assert stored_ids(payments) == [f"evt_receive_{n}" for n in range(9)]


def test_the_same_delivery_from_many_threads_is_stored_once(payments):
    payload = charge_event(1)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: receive(payments, payload), range(24)))

    assert sorted(r.duplicate for r in results) == [False] + [True] * 23
    assert stored_ids(payments) == ["evt_receive_1"]


def test_a_refused_delivery_in_a_busy_moment_stores_nothing_and_fails_alone(payments):
    good = [charge_event(n) for n in range(8)]
    forged = charge_event(99)
    with ThreadPoolExecutor(8) as pool:
        stored = [pool.submit(receive, payments, p) for p in good]
        refused = pool.submit(payments.receive_webhook, forged, sign(forged, "whsec_not_ours_1"))
        assert [f.result(10).status for f in stored] == ["stored"] * 8
        with pytest.raises(InvalidSignature):
            refused.result(10)
    assert stored_ids(payments) == sorted(f"evt_receive_{n}" for n in range(8))


def test_receiving_counts_stored_duplicate_and_refused_deliveries(payments):
    payload = charge_event(1)
    receive(payments, payload)
    receive(payments, payload)
    with pytest.raises(InvalidSignature):
        payments.receive_webhook(payload, sign(payload, "whsec_not_ours_1"))

    def counted_as(outcome: str) -> float | None:
        return payments.metrics.registry.get_sample_value(
            "webhooks_received_total", {"outcome": outcome}
        )

    assert (counted_as("stored"), counted_as("duplicate"), counted_as("refused")) == (1, 1, 1)


def test_each_received_event_is_logged_once_with_a_trace_id(payments):
    stream = io.StringIO()
    configure_logging("info", stream=stream)
    receive(payments, charge_event(1))
    receive(payments, charge_event(1))

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    received = [line for line in lines if line["event"] == "webhook received"]
    assert [line["duplicate"] for line in received] == [False, True]
    assert all(line["stripe_event_id"] == "evt_receive_1" for line in received)
    assert all(line.get("trace_id") for line in received)
    assert received[0]["trace_id"] != received[1]["trace_id"]


def test_a_json_document_holding_nul_characters_is_stored_losslessly(payments):
    charge = {"id": "ch_nul", "object": "charge", "description": "a\u0000b", "k\u0000": "\ud800"}
    payload = event_payload("charge.succeeded", charge, "evt_nul_1")

    receive(payments, payload)

    with payments.database.unit_of_work() as uow:
        event = uow.webhook_events.get("evt_nul_1")
        assert event is not None
        assert event.payload["data"]["object"] == charge


@pytest.mark.parametrize(
    ("written", "card"),
    [
        ('"' + "".join(f"\\u003{d}" for d in "4242424242424242") + '"', "escaped digits"),
        ("10000000004e5", "exponent"),  # 1000000000400000.0 once parsed: Luhn-valid
        ("1000000008E6", "capital exponent"),
    ],
)
def test_a_card_number_that_only_parsing_reveals_is_scrubbed_too(payments, written, card):
    assert stored_note(payments, written) == "[REDACTED]", card


@pytest.mark.postgresql_only
@pytest.mark.through_pooler
def test_a_delivery_after_the_writers_connection_was_lost_is_stored(payments):
    """The writer keeps its connection (no pre-ping); one the server closed meanwhile is
    replaced and the INSERT, idempotent, run again on the new one."""
    receive(payments, charge_event(0))
    with payments.database.engine.connect() as connection:
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )

    received = receive(payments, charge_event(1))

    assert received.status == "stored"
    assert stored_ids(payments) == ["evt_receive_0", "evt_receive_1"]


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ('"a\\u0000b"', "a\x00b"),
        ('"\\uD800 upper"', "\ud800 upper"),
        ('"\\ue000json:x"', "\ue000json:x"),
        ('"\ue000json:y"', "\ue000json:y"),
        ('"\\uD83D\\uDE00"', "\U0001f600"),
    ],
)
def test_text_jsonb_cannot_hold_as_written_is_stored_losslessly(payments, written, kept):
    assert stored_note(payments, written) == kept


def stored_note(payments, written: str) -> object:
    """Receive a charge event whose ``note`` is the JSON text ``written``; the note stored."""
    payload = (
        '{"id": "evt_note_1", "object": "event", "type": "charge.succeeded", '
        f'"data": {{"object": {{"id": "ch_1", "object": "charge", "note": {written}}}}}}}'
    ).encode()

    receive(payments, payload)

    with payments.database.unit_of_work() as uow:
        event = uow.webhook_events.get("evt_note_1")
        assert event is not None
        return event.payload["data"]["object"]["note"]


def test_a_backfill_stores_many_events_per_statement_without_an_orm_session(payments):
    lines = [charge_event(n).decode() for n in range(450)] + [charge_event(3).decode()]
    statements: list[str] = []
    sessions: list[object] = []

    def capture(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        statements.append(" ".join(statement.split()))

    def opened(session, _transaction) -> None:
        sessions.append(session)

    engine = payments.database.engine
    sa.event.listen(engine, "before_cursor_execute", capture)
    sa.event.listen(Session, "after_transaction_create", opened)
    try:
        report = payments.receive_webhooks(lines, trusted=True)
    finally:
        sa.event.remove(Session, "after_transaction_create", opened)
        sa.event.remove(engine, "before_cursor_execute", capture)

    assert report.to_dict() == {"received": 451, "stored": 450, "duplicates": 1}
    assert sessions == []
    inserts = [s for s in statements if s.startswith(INSERT)]
    assert len(inserts) <= 3, "\n".join(inserts)
    if engine.dialect.name == "postgresql":  # one statement text for any number of rows
        assert all("jsonb_populate_recordset" in s for s in inserts), "\n".join(inserts)
    assert len(stored_ids(payments)) == 450


def test_a_card_number_in_a_body_json_reads_as_utf_16_is_scrubbed(payments):
    """UTF-16 text of ASCII is valid UTF-8 too (with NULs): the pre-check must not read that
    text and miss the card number the parser finds."""
    payload = (
        event_payload(
            "charge.succeeded",
            {"id": "ch_16", "object": "charge", "note": "4242424242424242"},
            "evt_utf16_1",
        )
        .decode()
        .encode("utf-16-le")
    )

    receive(payments, payload)

    with payments.database.unit_of_work() as uow:
        event = uow.webhook_events.get("evt_utf16_1")
        assert event is not None
        assert event.payload["data"]["object"]["note"] == "[REDACTED]"


POISON_TRIGGER = {
    "postgresql": [
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.stripe_event_id = 'evt_receive_5' THEN RAISE EXCEPTION 'refused'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON webhook_events FOR EACH ROW "
        "EXECUTE FUNCTION refuse_poison()",
    ],
    "sqlite": [
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON webhook_events "
        "WHEN NEW.stripe_event_id = 'evt_receive_5' BEGIN SELECT RAISE(ABORT, 'refused'); END",
    ],
}


def delivered_as_one_group(payments, payloads: list[bytes]) -> list[Future]:
    """The first payload's INSERT held until every other delivery has queued behind it (they
    are then stored in one statement); each delivery's finished future, in order."""
    inbox = payments.database.webhook_inbox
    with ThreadPoolExecutor(len(payloads)) as pool, first_insert_held(payments) as release:
        first: Future = pool.submit(receive, payments, payloads[0])
        rest = [pool.submit(receive, payments, p) for p in payloads[1:]]
        wait_until(lambda: inbox.queued == len(rest))
        release.set()
        futures = [first, *rest]
        wait(futures, timeout=10)
    return futures


def test_an_event_the_database_refuses_fails_alone_in_its_group(payments):
    receive(payments, charge_event(0))
    engine = payments.database.engine
    with engine.begin() as connection:
        for statement in POISON_TRIGGER[engine.dialect.name]:
            connection.exec_driver_sql(statement)
    delivered = delivered_as_one_group(payments, [charge_event(n) for n in range(1, 9)])

    failed = [n for n, f in enumerate(delivered, start=1) if f.exception() is not None]
    assert failed == [5]
    assert stored_ids(payments) == [f"evt_receive_{n}" for n in range(9) if n != 5]


def test_each_inbox_row_keeps_its_own_values_when_written_as_json(payments):
    """The rows' JSON (PostgreSQL) keeps each row's own values: one datetime used for two
    times, distinct times, another zone, another row."""
    import datetime as dt

    from payment_lib.db.tables import WebhookEvent
    from payment_lib.services.webhooks import event_row

    now = dt.datetime(2026, 12, 1, 7, 0, 1, 250, tzinfo=dt.UTC)
    later = dt.datetime(2026, 12, 2, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    rows = []
    for number in range(3):
        event = json.loads(charge_event(number))
        rows.append(event_row(event, verified=number != 1, now=now))
    rows[1]["next_attempt_at"] = later  # a time of its own, in another zone
    rows[2]["created_at"] = rows[2]["next_attempt_at"] = later

    assert payments.database.webhook_inbox.add_all(rows, [None] * len(rows)) == 3

    table = WebhookEvent.__table__
    with payments.database.engine.connect() as connection:
        stored = connection.execute(
            sa.select(
                table.c.id,
                table.c.created_at,
                table.c.next_attempt_at,
                table.c.signature_verified,
            ).order_by(table.c.stripe_event_id)
        ).all()
    assert [tuple(row) for row in stored] == [
        (rows[0]["id"], now, now, True),
        (rows[1]["id"], now, later, False),
        (rows[2]["id"], later, later, True),
    ]


def test_every_delivery_of_a_large_group_is_answered_with_its_own_outcome(payments):
    """Every waiter of a large group is woken and returns, each with its own event and
    outcome, and each event is stored once."""
    receive(payments, charge_event(0))
    payloads = [charge_event(n) for n in range(1, 41)] + [charge_event(n) for n in (3, 17, 40)]
    results = [f.result() for f in delivered_as_one_group(payments, payloads)]

    assert [r.stripe_event_id for r in results] == [
        *(f"evt_receive_{n}" for n in range(1, 41)),
        *(f"evt_receive_{n}" for n in (3, 17, 40)),
    ]
    assert [r.duplicate for r in results] == [False] * 40 + [True] * 3
    assert stored_ids(payments) == sorted(f"evt_receive_{n}" for n in range(41))


class Interrupted(BaseException):
    """What a signal handler raises in the main thread (as Ctrl-C raises KeyboardInterrupt)."""


def test_a_delivery_interrupted_while_it_waits_does_not_stall_the_deliveries_after_it(payments):
    """A signal in the main thread (Ctrl-C, a timeout alarm) can interrupt a delivery waiting for
    its turn. It leaves the queue: the deliveries after it are still stored and answered (they
    used to wait for ever for it to store them)."""
    receive(payments, charge_event(0))
    answered: list[object] = []

    def deliver(number: int) -> threading.Thread:
        thread = threading.Thread(
            target=lambda: answered.append(receive(payments, charge_event(number))), daemon=True
        )
        thread.start()
        return thread

    def interrupt(_signal: int, _frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with counted(payments) as statements, first_insert_held(payments) as release:
            first = deliver(1)
            wait_until(lambda: any(s.startswith(INSERT) for s in statements))
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            with pytest.raises(Interrupted):
                receive(payments, charge_event(2))  # queued behind the held INSERT
            third = deliver(3)
            wait_until(lambda: payments.database.webhook_inbox.queued >= 1)
            release.set()
            first.join(10)
            third.join(10)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    assert not first.is_alive() and not third.is_alive(), "a delivery never returned"
    assert len(answered) == 2
    assert {"evt_receive_0", "evt_receive_1", "evt_receive_3"} <= set(stored_ids(payments))
