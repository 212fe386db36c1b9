"""One unit of work, one transaction: rolled back unless ``commit()`` is called."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from payment_lib.db.customer_repository import CustomerRepository
from payment_lib.db.disputes import DisputeRepository
from payment_lib.db.payment_repository import PaymentRepository
from payment_lib.db.refund_repository import RefundRepository
from payment_lib.db.repositories import (
    Locks,
    NotificationRepository,
    PaymentMethodRepository,
    PlanRepository,
    SubscriptionRepository,
    WebhookEventRepository,
)


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

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

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
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    @property
    def disputes(self) -> DisputeRepository:
        """Disputes, in this unit of work's transaction."""
        return DisputeRepository(self.session)
