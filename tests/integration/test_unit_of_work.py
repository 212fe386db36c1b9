"""The unit of work owns one transaction: nothing is kept unless it commits."""

import datetime as dt

import pytest

from payment_lib.db import Database
from payment_lib.db.tables import Plan
from payment_lib.domain.errors import InvalidRequest


@pytest.fixture
def database(database_url):
    db = Database(database_url)
    yield db
    db.dispose()


def _plan(plan_id="basic-monthly"):
    return Plan(
        id=plan_id, name="Basic", amount=999, currency="usd", interval="month", interval_count=1
    )


def test_committed_work_is_kept(database):
    with database.unit_of_work() as uow:
        uow.plans.add(_plan())
        uow.commit()
    with database.unit_of_work() as uow:
        assert [p.id for p in uow.plans.list()] == ["basic-monthly"]


def test_work_without_commit_is_rolled_back(database):
    with database.unit_of_work() as uow:
        uow.plans.add(_plan())
    with database.unit_of_work() as uow:
        assert uow.plans.list() == []


def test_an_error_inside_rolls_everything_back(database):
    with pytest.raises(RuntimeError), database.unit_of_work() as uow:
        uow.plans.add(_plan())
        uow.session.flush()
        raise RuntimeError("boom")
    with database.unit_of_work() as uow:
        assert uow.plans.get("basic-monthly") is None


def test_a_duplicate_plan_id_is_refused_clearly(database):
    with database.unit_of_work() as uow:
        uow.plans.add(_plan())
        uow.commit()
    with pytest.raises(InvalidRequest, match="already exists"), database.unit_of_work() as uow:
        uow.plans.add(_plan())
        uow.commit()


def test_times_come_back_as_aware_utc(database):
    with database.unit_of_work() as uow:
        uow.plans.add(_plan())
        uow.commit()
    with database.unit_of_work() as uow:
        created = uow.plans.get("basic-monthly").created_at
    assert created.tzinfo is not None
    assert created.utcoffset() == dt.timedelta(0)
