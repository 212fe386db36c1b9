"""Persistence: tables, repositories and the unit of work over SQLAlchemy 2."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from payment_lib.db.engine import Availability, make_engine
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.db.webhook_inbox import WebhookInbox


class Database:
    """An engine and its session factory for one database URL."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        transaction_pooler: bool = False,
    ) -> None:
        self.url = url
        self.availability = Availability(url)
        self.engine: Engine = make_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            availability=self.availability,
            transaction_pooler=transaction_pooler,
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Received webhooks are stored by one writer, so concurrent deliveries share a
        # statement and a commit (group commit); on PostgreSQL with one connection of its own.
        inbox_engine = self.engine
        if self.engine.dialect.name == "postgresql":
            inbox_engine = make_engine(
                url,
                pool_size=1,
                max_overflow=0,
                availability=self.availability,
                transaction_pooler=transaction_pooler,
            )
        self.webhook_inbox = WebhookInbox(inbox_engine, self.availability.failed, bulk=self.engine)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self.availability.failed)

    def dispose(self) -> None:
        self.webhook_inbox.close()
        if self.webhook_inbox.engine is not self.engine:
            self.webhook_inbox.engine.dispose()
        self.engine.dispose()


__all__ = ["Database", "UnitOfWork"]
