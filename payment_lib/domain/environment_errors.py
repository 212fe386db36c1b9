"""Faults of the environment rather than of a request: the database's driver, file or schema,
a migration revision, Stripe's address or key. Each has its own stable code (and its own exit
code in payment-cli); each message names the problem and the fix, never a secret.

They subclass the general errors callers may already catch (a missing driver is a
``ConfigurationError``, a SQLite file that cannot be used is ``DatabaseUnavailable`` but not
worth retrying until a person fixes it, an unreachable Stripe is ``ProviderUnavailable`` and
retryable).
"""

from __future__ import annotations

from payment_lib.domain.errors import (
    ConfigurationError,
    DatabaseUnavailable,
    InvalidRequest,
    ProviderUnavailable,
)


class DatabaseDriverMissing(ConfigurationError):
    """The database URL names a driver that is unknown or not installed."""

    code = "database_driver"
    default_message = (
        "PAYMENT_DATABASE_URL: the database driver is not available; use postgresql+psycopg:// "
        "or sqlite:///."
    )


class DatabaseFileMissing(DatabaseUnavailable):
    """The SQLite file (or the directory it should be in) does not exist."""

    code = "database_file_missing"
    retryable = False
    default_message = "The SQLite database file does not exist: run `payment-cli db upgrade`."


class DatabaseFileUnwritable(DatabaseUnavailable):
    """The SQLite file (or its directory, which holds the journal) cannot be written."""

    code = "database_file_unwritable"
    retryable = False
    default_message = "The SQLite database file cannot be written: check its permissions."


class DatabaseFileCorrupt(DatabaseUnavailable):
    """The SQLite file is not a database, or is damaged."""

    code = "database_file_corrupt"
    retryable = False
    default_message = "The SQLite database file is not a database or is damaged."


class SchemaOutOfDate(ConfigurationError):
    """The database has no schema, or one at another revision than this code expects."""

    code = "schema_out_of_date"
    default_message = "The database schema is missing or out of date: run `payment-cli db upgrade`."


class UnknownRevision(InvalidRequest):
    """A migration revision this version of payment_lib does not ship."""

    code = "unknown_revision"
    default_message = "Unknown migration revision."


class ProviderUnreachable(ProviderUnavailable):
    """No connection could be opened to Stripe's API address (refused, no such host)."""

    code = "provider_unreachable"
    default_message = "Stripe could not be reached: check PAYMENT_STRIPE_API_BASE and the network."


class StripeKeyRejected(ConfigurationError):
    """Stripe answered 401 or 403: the API key is wrong, revoked or lacks the permission."""

    code = "stripe_key_rejected"
    default_message = (
        "PAYMENT_STRIPE_API_KEY: Stripe rejected the API key; copy a valid secret key from the "
        "Stripe dashboard."
    )
