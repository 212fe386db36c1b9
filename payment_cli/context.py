"""The CLI's shared context: the facade, built on first use from PAYMENT_* variables."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from payment_lib.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from payment_lib.config import Settings
    from payment_lib.facade import Payments

DATABASE_VARIABLE = "PAYMENT_DATABASE_URL"


class Context:
    """Builds the facade on first use, from PAYMENT_* variables and global options.

    ``check_schema``: before the first use, refuse a SQLite file that does not exist (rather
    than create an empty one) and a schema that is missing or not at the newest revision;
    the ``db`` commands, which fix exactly that, turn it off.
    """

    def __init__(self, database_url: str | None, *, check_schema: bool = True) -> None:
        self.database_url = database_url
        self.check_schema = check_schema
        self._payments: Payments | None = None

    @property
    def settings(self) -> Settings:
        """PAYMENT_* variables, with the global options on top (ConfigurationError if bad):
        ``--database-url`` is checked exactly as the variable is."""
        from payment_lib.config import Settings  # pydantic: only when a command runs

        if not self.database_url:
            return Settings.from_env()
        try:
            return Settings.from_env({**os.environ, DATABASE_VARIABLE: self.database_url})
        except ConfigurationError as error:
            raise ConfigurationError(self.named(error.message), param=error.param) from None

    def named(self, message: str) -> str:
        """``message`` naming ``--database-url`` when that, not the variable, gave the URL."""
        return (
            message.replace(DATABASE_VARIABLE, "--database-url") if self.database_url else message
        )

    @property
    def payments(self) -> Payments:
        if self._payments is None:
            settings = self.settings
            if self.check_schema:
                from payment_lib.db import faults, schema_version

                missing = faults.missing_sqlite_file(settings.database_url)
                if missing is not None:
                    raise missing
                schema_version.check_schema(settings.database_url)
            from payment_lib.facade import Payments  # the database layer: only when used

            self._payments = Payments.from_settings(settings)
        return self._payments

    def close(self) -> None:
        if self._payments is not None:
            self._payments.close()


pass_context = click.make_pass_decorator(Context)
