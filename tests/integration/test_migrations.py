"""Alembic owns the schema: upgrade, downgrade and upgrade again work on both databases."""

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from payment_lib import Payments
from payment_lib.db.migrations import current_revision, downgrade, head_revision, upgrade
from payment_lib.db.tables import metadata

TABLES = {
    "payments",
    "payment_methods",
    "subscriptions",
    "webhook_events",
    "refunds",
    "plans",
    "notifications",
    "disputes",
    "customers",
    "worker_heartbeats",
    "reconcile_runs",
}


def _tables(url):
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trips(empty_database_url):
    upgrade(empty_database_url)
    assert _tables(empty_database_url) == TABLES
    assert current_revision(empty_database_url) == head_revision()
    downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) == set()
    assert current_revision(empty_database_url) is None
    upgrade(empty_database_url)
    assert _tables(empty_database_url) == TABLES


def test_orm_metadata_and_migrations_agree(database_url):
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_seed_indexes_exist(database_url):
    engine = sa.create_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        payment_indexes = {
            tuple(index["column_names"]): bool(index["unique"])
            for index in inspector.get_indexes("payments")
        }
        webhook_indexes = {
            tuple(index["column_names"]): bool(index["unique"])
            for index in inspector.get_indexes("webhook_events")
        }
    finally:
        engine.dispose()
    assert payment_indexes[("idempotency_key",)] is True
    for columns in [("user_id",), ("status",), ("created_at",), ("user_id", "created_at")]:
        assert columns in payment_indexes
    assert webhook_indexes[("stripe_event_id",)] is True
    assert ("event_type",) in webhook_indexes and ("processed",) in webhook_indexes


def test_0003_gives_stored_events_a_status_from_what_happened_to_them(empty_database_url):
    upgrade(empty_database_url, "0002")
    engine = sa.create_engine(empty_database_url)
    rows = [("evt_done", True, "now"), ("evt_due", False, "now"), ("evt_parked", False, None)]
    try:
        with engine.begin() as connection:
            for event_id, processed, next_attempt in rows:
                connection.execute(
                    sa.text(
                        "INSERT INTO webhook_events (id, stripe_event_id, event_type, payload, "
                        "processed, signature_verified, attempts, next_attempt_at, created_at) "
                        "VALUES (:id, :event_id, 'x', '{}', :processed, true, 0, :next, :now)"
                    ),
                    {
                        "id": uuid.uuid4().hex if engine.dialect.name == "sqlite" else uuid.uuid4(),
                        "event_id": event_id,
                        "processed": processed,
                        "next": dt.datetime.now(dt.UTC) if next_attempt else None,
                        "now": dt.datetime.now(dt.UTC),
                    },
                )
        upgrade(empty_database_url)
        with engine.connect() as connection:
            found = dict(
                connection.execute(
                    sa.text("SELECT stripe_event_id, status FROM webhook_events")
                ).all()
            )
    finally:
        engine.dispose()
    assert found == {"evt_done": "processed", "evt_due": "pending", "evt_parked": "parked"}


def test_the_known_revisions_run_oldest_first_to_the_newest():
    known = Payments.known_revisions()
    assert known[0] == "0001" and known[-1] == Payments.latest_revision()
    assert len(set(known)) == len(known)


def test_the_revisions_the_schema_check_knows_are_the_shipped_migrations():
    """payment_lib.db.schema_version checks the schema without Alembic; it must know exactly
    the revisions migrations/ holds."""
    from payment_lib.db import migrations, schema_version

    assert list(schema_version.REVISIONS) == migrations.known_revisions()
    assert migrations.head_revision() == schema_version.HEAD
