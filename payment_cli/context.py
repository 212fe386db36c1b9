"""The CLI's shared context: the facade, built on first use from PAYMENT_* variables."""

from __future__ import annotations

import click

from payment_lib import Payments, Settings


class Context:
    """Builds the facade on first use, from PAYMENT_* variables and global options."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self._payments: Payments | None = None

    @property
    def settings(self) -> Settings:
        """PAYMENT_* variables, with the global options on top (ConfigurationError if bad)."""
        settings = Settings.from_env()
        if self.database_url:
            settings = settings.model_copy(update={"database_url": self.database_url})
        return settings

    @property
    def payments(self) -> Payments:
        if self._payments is None:
            self._payments = Payments.from_settings(self.settings)
        return self._payments

    def close(self) -> None:
        if self._payments is not None:
            self._payments.close()


pass_context = click.make_pass_decorator(Context)
