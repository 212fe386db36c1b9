"""The operators' keyset pages (issue 14, item 6) on SQLite and PostgreSQL: rows made at the
very same instant are each listed once, in (created_at, id) order, across pages."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from payment_lib.db.tables import Payment
from payment_lib.domain.errors import InvalidRequest

SAME = dt.datetime(2027, 1, 31, 9, 0, tzinfo=dt.UTC)


def add_payments(payments, count, created_at=SAME):
    ids = [uuid.uuid4() for _ in range(count)]
    with payments.database.unit_of_work() as uow:
        for n, payment_id in enumerate(ids):
            uow.session.add(Payment(
                id=payment_id, user_id=uuid.uuid4(), amount=100, currency="usd",
                status="failed" if n % 2 else "succeeded", idempotency_key=f"k-{payment_id}",
                request_fingerprint="f", created_at=created_at, updated_at=created_at,
            ))
        uow.commit()
    return ids


def test_pages_over_rows_made_at_the_same_instant_miss_nothing_and_repeat_nothing(payments):
    ids = add_payments(payments, 7)

    seen, cursor = [], None
    while True:
        page = payments.find_payments(limit=2, cursor=cursor)
        seen += [p.id for p in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == sorted(ids, reverse=True)  # newest first, then by id


def test_filters_and_time_bounds_apply_to_every_page(payments):
    add_payments(payments, 6)
    add_payments(payments, 2, created_at=SAME + dt.timedelta(hours=1))

    failed = payments.find_payments(status="failed", until=SAME + dt.timedelta(minutes=1))
    later = payments.find_payments(since=SAME + dt.timedelta(minutes=1))

    assert [p.status for p in failed.items] == ["failed"] * 3
    assert len(later.items) == 2 and failed.next_cursor is None


@pytest.mark.parametrize(
    "given",
    [{"limit": 0}, {"limit": 1001}, {"cursor": "%%%"}, {"status": "lost"},
     {"since": dt.datetime(2027, 1, 1)}, {"user_id": "someone"}],
)
def test_bad_filters_are_refused(payments, given):
    with pytest.raises(InvalidRequest):
        payments.find_payments(**given)
