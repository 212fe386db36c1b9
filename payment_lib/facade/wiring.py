"""The facade's wiring: settings, the database, metrics, the clock and the Stripe gateway
(built on first use), handed to the services; and the schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from payment_lib.config import Settings
from payment_lib.db import Database
from payment_lib.metrics import Metrics
from payment_lib.observability import utcnow
from payment_lib.services import payment_outcomes as _outcomes
from payment_lib.services.disputes import DisputeSettings
from payment_lib.services.ports import Clock

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from payment_lib.stripe_gateway import StripeGateway


class Wiring:
    """The facade's wiring: settings, the database, metrics, the clock and the Stripe gateway"""

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database,
        metrics: Metrics,
        gateway: StripeGateway | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.database = database
        self.metrics = metrics
        self.clock = clock
        self._gateway = gateway

    @property
    def gateway(self) -> StripeGateway:
        """The Stripe gateway, built on first use (importing the SDK only then)."""
        if self._gateway is None:
            from payment_lib.stripe_gateway import StripeGateway

            self._gateway = StripeGateway.from_settings(self.settings, metrics=self.metrics)
        return self._gateway

    @classmethod
    def from_settings(
        cls, settings: Settings, *, registry: CollectorRegistry | None = None
    ) -> Self:
        """Wire the real database and metrics from ``settings``; nothing connects until used."""
        database = Database(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            transaction_pooler=settings.database_pooler == "transaction",
        )
        return cls(settings, database=database, metrics=Metrics(registry))

    def close(self) -> None:
        """Release database connections."""
        self.database.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _outcome_policy(self) -> _outcomes.OutcomePolicy:
        return _outcomes.OutcomePolicy(
            now=self.clock(), retry_days=self.settings.renewal_retry_days, metrics=self.metrics
        )

    def _dispute_settings(self) -> DisputeSettings:
        return DisputeSettings(
            admin_email=self.settings.admin_email,
            ends_subscription=self.settings.dispute_ends_subscription,
        )

    def upgrade_database(self, revision: str = "head") -> str | None:
        """Apply migrations up to ``revision``; returns the revision reached."""
        from payment_lib.db import migrations  # alembic is slow to import

        migrations.upgrade(self.settings.database_url, revision)
        return self.database_revision()

    def downgrade_database(self, revision: str = "-1") -> str | None:
        """Undo migrations down to ``revision`` ("base" empties the schema)."""
        from payment_lib.db import migrations  # alembic is slow to import

        migrations.downgrade(self.settings.database_url, revision)
        return self.database_revision()

    def database_revision(self) -> str | None:
        """The database's current revision (None when empty)."""
        from payment_lib.db import migrations  # alembic is slow to import

        return migrations.current_revision(self.settings.database_url)

    @staticmethod
    def latest_revision() -> str | None:
        """The newest revision this payment_lib ships."""
        from payment_lib.db import migrations  # alembic is slow to import

        return migrations.head_revision()

    @staticmethod
    def known_revisions() -> list[str]:
        """Every revision this payment_lib ships, oldest first: a database at one of them
        other than the newest is behind; at none of them, ahead (a newer release migrated it)."""
        from payment_lib.db import migrations  # alembic is slow to import

        return migrations.known_revisions()
