"""The default connection pool holds what 100 concurrent payments use at once (issue 17, P2).

benchmarks/payments_load.py (100 concurrent payments, 300 ms Stripe latency, PostgreSQL) saw
22-27 connections checked out at once; with the old 5 + 10 every one of the 15 was in use and
payments queued for a connection (p95 740-780 ms against 520-560 with 20 + 10). The rule of
thumb is in docs/deployment.md.
"""

from __future__ import annotations

from payment_lib.config import Settings


def test_the_default_pool_keeps_enough_connections_for_100_concurrent_payments():
    settings = Settings()
    assert settings.database_pool_size >= 20
    assert settings.database_pool_size + settings.database_max_overflow >= 30
