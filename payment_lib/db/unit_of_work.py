"""One unit of work, one transaction: rolled back unless ``commit()`` is called.

A database that cannot be reached leaves a unit of work as ``DatabaseUnavailable``: the engine
translates what goes through it; what does not (the pool's timeout) is translated here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from payment_lib.db.customer_repository import CustomerRepository
from payment_lib.db.disputes import DisputeRepository
from payment_lib.db.engine import is_unavailable
from payment_lib.db.listings import ListingRepository
from payment_lib.db.operations import OperationsRepository
from payment_lib.db.pauses import PauseRepository
from payment_lib.db.payment_repository import PaymentRepository
from payment_lib.db.refund_repository import RefundRepository
from payment_lib.db.repositories import (
    Locks,
    NotificationRepository,
    PaymentMethodRepository,
    PlanRepository,
    SubscriptionRepository,
)
from payment_lib.db.saved_cards import SavedCardRepository
from payment_lib.db.webhook_repository import WebhookEventRepository
from payment_lib.domain.errors import DatabaseUnavailable


class UnitOfWork:
    """``with uow: ...; uow.commit()``; leaving the block without commit rolls back."""

    session: Session
    plans: PlanRepository
    payments: PaymentRepository
    payment_methods: PaymentMethodRepository
    locks: Locks
    notifications: NotificationRepository
    subscriptions: SubscriptionRepository
    refunds: RefundRepository
    webhook_events: WebhookEventRepository
    customers: CustomerRepository

    def __init__(
        self,
        sessions: sessionmaker[Session],
        unavailable: Callable[[BaseException], DatabaseUnavailable] | None = None,
    ) -> None:
        self._sessions = sessions
        self._unavailable = unavailable or (lambda _error: DatabaseUnavailable())

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.plans = PlanRepository(self.session)
        self.payments = PaymentRepository(self.session)
        self.payment_methods = PaymentMethodRepository(self.session)
        self.locks = Locks(self.session)
        self.notifications = NotificationRepository(self.session)
        self.subscriptions = SubscriptionRepository(self.session)
        self.refunds = RefundRepository(self.session)
        self.webhook_events = WebhookEventRepository(self.session)
        self.customers = CustomerRepository(self.session)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and detaches the objects loaded here,
        # keeping their loaded state so callers can still read them.
        try:
            self.session.close()
        except Exception as closing:
            # Rolling back over a lost connection: what was not committed is gone anyway.
            if not is_unavailable(closing):
                raise
        if (
            error is not None
            and is_unavailable(error)
            and not isinstance(error, DatabaseUnavailable)
        ):
            raise self._unavailable(error) from error

    def commit(self) -> None:
        self.session.commit()

    @contextmanager
    def core(self, *, autocommit: bool = False) -> Iterator[Connection]:
        """Instead of ``with uow``: a Core connection in a transaction of its own, no ORM
        session (whose transaction costs more than a short statement). Committed when the
        block ends, rolled back when it raises; DatabaseUnavailable as in ``with uow``.

        ``autocommit``: on PostgreSQL, no transaction around the block: each script
        (``db.scripts``) is a transaction of its own, without the round trips of BEGIN and
        COMMIT (any other statement begins one, committed when the block ends). SQLite, whose
        scripts are several statements, keeps the transaction."""
        engine = self._sessions.kw["bind"]
        try:
            if autocommit and engine.dialect.name == "postgresql":
                with engine.connect() as connection:
                    yield connection
                    if connection.in_transaction():
                        connection.commit()
                return
            with engine.begin() as connection:
                yield connection
        except Exception as error:
            if is_unavailable(error) and not isinstance(error, DatabaseUnavailable):
                raise self._unavailable(error) from error
            raise

    @property
    def disputes(self) -> DisputeRepository:
        """Disputes, in this unit of work's transaction."""
        return DisputeRepository(self.session)

    @property
    def listings(self) -> ListingRepository:
        """The operators' filtered, keyset-paged listings, in this transaction."""
        return ListingRepository(self.session)

    @property
    def operations(self) -> OperationsRepository:
        """Worker heartbeats, reconcile summaries and counts, in this transaction."""
        return OperationsRepository(self.session)

    @property
    def pauses(self) -> PauseRepository:
        """Paused subscriptions due for an automatic resume, in this transaction."""
        return PauseRepository(self.session)

    @property
    def saved_cards(self) -> SavedCardRepository:
        """Saved cards as their owners see them, in this transaction."""
        return SavedCardRepository(self.session)
