"""The facade: one object, built from settings, with a method for every use case."""

from __future__ import annotations

from typing import TYPE_CHECKING

from payment_lib.config import Settings
from payment_lib.db import Database
from payment_lib.db import migrations as _migrations
from payment_lib.metrics import Metrics
from payment_lib.services import plans as _plans
from payment_lib.services.plans import PlanInfo

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class Payments:
    """payment_lib's public entry point.

    Example:
        >>> payments = Payments.from_settings(Settings(database_url="sqlite:///payments.db"))
        >>> payments.upgrade_database()
        >>> payments.list_plans()
    """

    def __init__(self, settings: Settings, *, database: Database, metrics: Metrics) -> None:
        self.settings = settings
        self.database = database
        self.metrics = metrics

    @classmethod
    def from_settings(
        cls, settings: Settings, *, registry: CollectorRegistry | None = None
    ) -> Payments:
        """Wire the real database and metrics from ``settings``; nothing connects until used."""
        return cls(settings, database=Database(settings.database_url), metrics=Metrics(registry))

    def close(self) -> None:
        """Release database connections."""
        self.database.dispose()

    def __enter__(self) -> Payments:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Schema

    def upgrade_database(self, revision: str = "head") -> str | None:
        """Apply migrations up to ``revision``; returns the revision reached."""
        _migrations.upgrade(self.settings.database_url, revision)
        return self.database_revision()

    def downgrade_database(self, revision: str = "-1") -> str | None:
        """Undo migrations down to ``revision`` ("base" empties the schema)."""
        _migrations.downgrade(self.settings.database_url, revision)
        return self.database_revision()

    def database_revision(self) -> str | None:
        """The database's current revision (None when empty)."""
        return _migrations.current_revision(self.settings.database_url)

    @staticmethod
    def latest_revision() -> str | None:
        """The newest revision this payment_lib ships."""
        return _migrations.head_revision()

    # Plans

    def add_plan(
        self,
        plan_id: str,
        *,
        name: str,
        amount: str,
        currency: str,
        interval: str,
        interval_count: int = 1,
    ) -> PlanInfo:
        """Add a plan, e.g. ``add_plan("basic-monthly", name="Basic", amount="9.99",
        currency="usd", interval="month")``.

        Raises:
            InvalidRequest: bad id, name, amount, currency or interval, or the id exists.
        """
        plan = _plans.validate_plan(plan_id, name, amount, currency, interval, interval_count)
        return _plans.add_plan(plan, uow=self.database.unit_of_work())

    def list_plans(self) -> list[PlanInfo]:
        """All plans, by id."""
        return _plans.list_plans(uow=self.database.unit_of_work())

    def seed_demo_plans(self) -> list[PlanInfo]:
        """Add the demo plans (basic-monthly, pro-yearly, ...) that are missing."""
        return _plans.seed_demo_plans(uow=self.database.unit_of_work())
