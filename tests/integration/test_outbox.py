"""The notification outbox keeps one row per dedupe key, race-free, on both databases."""

from payment_lib.db import Database


def test_enqueue_adds_once_per_dedupe_key(database_url):
    database = Database(database_url)
    try:
        for _ in range(2):
            with database.unit_of_work() as uow:
                added = uow.notifications.enqueue({
                    "recipient": "ada@example.com", "kind": "refund_confirmation",
                    "payload": {"amount": "5.00"}, "dedupe_key": "refund:1",
                })
                uow.commit()
        with database.unit_of_work() as uow:
            rows = uow.notifications.for_recipient("ada@example.com")
    finally:
        database.dispose()
    assert added is False
    assert [(n.kind, n.status, n.payload) for n in rows] == [
        ("refund_confirmation", "pending", {"amount": "5.00"})
    ]
