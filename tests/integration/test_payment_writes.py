"""The request path's statements (``db/payment_writes.py``), on both databases: the outcome of
a pending payment is written once, with its card linked, whoever adds that card meanwhile."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from payment_lib.db import Database
from payment_lib.db.payment_writes import insert_pending, record_pending
from payment_lib.db.tables import Payment, PaymentMethod

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def database(database_url):
    db = Database(database_url)
    yield db
    db.dispose()


def pending(database: Database) -> uuid.UUID:
    payment_id = uuid.uuid4()
    values = {
        "id": payment_id,
        "user_id": uuid.uuid4(),
        "amount": 2000,
        "currency": "usd",
        "status": "pending",
        "kind": "payment",
        "idempotency_key": f"order-{payment_id}",
        "request_fingerprint": "f" * 64,
        "details": {"payment_method": "pm_card_visa"},
        "amount_refunded": 0,
        "amount_lost": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    with database.unit_of_work().core() as connection:
        assert insert_pending(connection, values)
    return payment_id


def card(stripe_id: str) -> dict[str, object]:
    return {
        "user_id": uuid.uuid4(),
        "stripe_payment_method_id": stripe_id,
        "stripe_customer_id": None,
        "card_brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
    }


def succeeded() -> dict[str, object]:
    return {"status": "succeeded", "updated_at": NOW, "stripe_transaction_id": "pi_1"}


def failed() -> dict[str, object]:
    return {"status": "failed", "updated_at": NOW}


def stored(database: Database, payment_id: uuid.UUID) -> tuple[str, uuid.UUID | None]:
    query = sa.select(Payment.status, Payment.payment_method_id).where(Payment.id == payment_id)
    with database.engine.connect() as connection:
        status, method = connection.execute(query).one()
    return status, method


def card_id(database: Database, stripe_id: str) -> uuid.UUID:
    query = sa.select(PaymentMethod.id).where(PaymentMethod.stripe_payment_method_id == stripe_id)
    with database.engine.connect() as connection:
        return connection.execute(query).scalar_one()


def test_the_outcome_adds_a_new_card_and_links_it(database):
    payment_id = pending(database)

    with database.unit_of_work().core() as connection:
        method = record_pending(connection, payment_id, succeeded(), card("pm_new"))

    assert method == card_id(database, "pm_new")
    assert stored(database, payment_id) == ("succeeded", method)


def test_a_known_card_is_linked_not_added_again(database):
    first, second = pending(database), pending(database)
    with database.unit_of_work().core() as connection:
        known = record_pending(connection, first, succeeded(), card("pm_known"))

    with database.unit_of_work().core() as connection:
        again = record_pending(connection, second, succeeded(), card("pm_known"))

    assert again == known
    assert stored(database, second) == ("succeeded", known)


def test_a_payment_no_longer_pending_is_left_alone_and_no_card_added(database):
    payment_id = pending(database)
    with database.unit_of_work().core() as connection:
        assert record_pending(connection, payment_id, succeeded(), None) is True

    with database.unit_of_work().core() as connection:
        assert record_pending(connection, payment_id, failed(), card("pm_x")) is False

    assert stored(database, payment_id) == ("succeeded", None)
    with database.engine.connect() as connection:
        count = sa.select(sa.func.count()).select_from(PaymentMethod)
        assert connection.execute(count).scalar_one() == 0


def test_a_card_another_transaction_adds_meanwhile_is_linked(database):
    """Another transaction adds the same card while the outcome's statement runs: on
    PostgreSQL the statement waits for it, adds nothing, and its snapshot does not show the
    card, so the card is looked up again; the payment is linked to the one row."""
    payment_id = pending(database)
    other = database.engine.connect()
    transaction = other.begin()
    row = {**card("pm_race"), "id": uuid.uuid4(), "created_at": NOW, "stripe_updated": 0}
    other.execute(sa.insert(PaymentMethod.__table__).values(row))
    outcome: dict[str, object] = {}

    def record() -> None:
        with database.unit_of_work().core() as connection:
            recorded = record_pending(connection, payment_id, succeeded(), card("pm_race"))
            outcome["method"] = recorded

    recording = threading.Thread(target=record)
    recording.start()
    time.sleep(0.5)  # the statement is waiting for the other transaction
    transaction.commit()
    other.close()
    recording.join(30)

    assert outcome["method"] == row["id"]
    assert stored(database, payment_id) == ("succeeded", row["id"])


def test_linking_a_known_card_leaves_its_row_as_it_was(database):
    first, second = pending(database), pending(database)
    with database.unit_of_work().core() as connection:
        known = record_pending(connection, first, succeeded(), card("pm_kept"))
    columns = sa.select(PaymentMethod.__table__).where(PaymentMethod.id == known)
    with database.engine.connect() as connection:
        before = connection.execute(columns).one()

    with database.unit_of_work().core() as connection:
        later = {**card("pm_kept"), "exp_year": 2031}
        again = record_pending(connection, second, succeeded(), later)

    with database.engine.connect() as connection:
        assert connection.execute(columns).one() == before
    assert again == known
