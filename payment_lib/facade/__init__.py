"""The facade: one object, built from settings, with a method for every use case.

Its methods live in one module per area (wiring, money, subscriptions, events); each hands
the ports it wires to the services, which do the work.
"""

import datetime as dt
import threading
from collections.abc import Callable

from payment_lib import worker as _worker
from payment_lib.facade.cards import CardsApi
from payment_lib.facade.events import EventsApi
from payment_lib.facade.money import MoneyApi
from payment_lib.facade.operations import OperationsApi
from payment_lib.facade.pauses import PausesApi
from payment_lib.facade.subscriptions import SubscriptionsApi
from payment_lib.worker import WorkerReport


class Payments(MoneyApi, SubscriptionsApi, PausesApi, CardsApi, EventsApi, OperationsApi):
    """payment_lib's public entry point.

    Example:
        >>> payments = Payments.from_settings(Settings(database_url="sqlite:///payments.db"))
        >>> payments.upgrade_database()
        >>> payments.list_plans()
    """

    def run_worker_once(
        self, now: dt.datetime | None = None, *, should_stop: Callable[[], bool] | None = None
    ) -> WorkerReport:
        """One worker pass: webhooks, emails, renewals due at ``now`` (default: the clock),
        recovery of payments and refunds left pending. Safe on many workers at once."""
        return _worker.run_once(self, now=now, should_stop=should_stop)

    def run_worker(self, *, interval: float, stop: threading.Event) -> int:
        """Worker passes ``interval`` seconds apart until ``stop`` is set (a signal handler
        sets it): the current item finishes first. Returns the number of passes."""
        return _worker.run_forever(self, interval=interval, stop=stop)


__all__ = ["Payments"]
