"""Settings: built from keyword arguments, or from PAYMENT_* variables when a caller asks.

Nothing here runs at import time; the library never reads the environment on its own.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from payment_lib.domain.errors import ConfigurationError

ENV_PREFIX = "PAYMENT_"
# Variables the test suite reads; they are not library settings.
_NOT_SETTINGS_PREFIX = "PAYMENT_TEST_"


class Settings(BaseModel):
    """Everything payment_lib needs to run; every field has a PAYMENT_<NAME> variable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = "sqlite:///payments.db"
    database_pool_size: int = Field(20, gt=0)
    database_max_overflow: int = Field(10, ge=0)
    # "transaction" when the database is reached through a transaction pooler (PgBouncer's
    # pool_mode=transaction): no prepared statements then (docs/deployment.md).
    database_pooler: Literal["none", "transaction"] = "none"
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str | None = None
    stripe_timeout_seconds: float = Field(30.0, gt=0, allow_inf_nan=False)
    stripe_retry_backoff_seconds: float = Field(0.5, ge=0, allow_inf_nan=False)
    return_url: str | None = None
    webhook_secrets: tuple[SecretStr, ...] = ()
    webhook_tolerance_seconds: int = Field(300, gt=0)
    rate_limit_per_hour: int = Field(5, gt=0)
    renewal_retry_days: tuple[int, ...] = (1, 3, 5)
    # How many days before a trial ends its reminder email is queued; 0: no reminders.
    trial_reminder_days: int = Field(3, ge=0, le=730)
    smtp_host: str = "localhost"
    smtp_port: int = Field(25, gt=0, lt=65536)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: str = "none"
    smtp_from: str = "payments@localhost"
    # Where operator alerts go (a dispute opened, with its evidence deadline); none: not sent.
    admin_email: str | None = None
    # What a dispute does to the subscription its payment paid for: "lost" ends it when the
    # dispute is lost, "opened" as soon as one is opened, "never" leaves it alone.
    dispute_ends_subscription: Literal["lost", "opened", "never"] = "lost"
    # How often a running worker reconciles the last day with Stripe; 0 turns it off.
    reconcile_interval_seconds: int = Field(3600, ge=0)
    # How many days before the month a card expires its owner is reminded (once per card and
    # expiry), for cards that live subscriptions renew with; 0 sends no reminders.
    card_expiry_reminder_days: int = Field(30, ge=0)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            field, reason = _first_problem(error)
            raise ConfigurationError(f"{field}: {reason}.", param=field) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from PAYMENT_* variables (``os.environ`` unless given).

        Raises:
            ConfigurationError: one line naming the variable and what is wrong with it.
        """
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        ignored = []
        for variable, raw in source.items():
            if not variable.startswith(ENV_PREFIX) or variable.startswith(_NOT_SETTINGS_PREFIX):
                continue
            field = variable[len(ENV_PREFIX) :].lower()
            if field not in cls.model_fields:
                likely = difflib.get_close_matches(field, cls.model_fields, n=1, cutoff=0.8)
                if likely:
                    raise ConfigurationError(
                        f"{variable}: unknown setting; did you mean "
                        f"{ENV_PREFIX}{likely[0].upper()}?"
                    )
                ignored.append(variable)  # e.g. Kubernetes' PAYMENT_SERVICE_HOST
                continue
            if not raw.strip():
                continue  # an empty variable is unset
            values[field] = _split_list(raw) if _is_list(field) else raw
        if ignored:
            structlog.get_logger(__name__).warning(
                "unknown PAYMENT_ variables ignored", variables=sorted(ignored)
            )
        try:
            return cls(**values)
        except ConfigurationError as error:
            field = error.param or ""
            variable = ENV_PREFIX + field.upper()
            raise ConfigurationError(error.message.replace(field, variable, 1)) from None

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite:", "sqlite+", "postgresql:", "postgresql+")):
            raise ValueError("must be a sqlite or postgresql SQLAlchemy URL")
        return url

    @field_validator("stripe_api_key")
    @classmethod
    def _secret_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not key.get_secret_value().startswith(
            ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
        ):
            raise ValueError("must be a secret key starting with sk_test_ or sk_live_")
        return key

    @field_validator("webhook_secrets")
    @classmethod
    def _webhook_secrets(cls, secrets: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(not s.get_secret_value().startswith("whsec_") for s in secrets):
            raise ValueError("each secret must start with whsec_")
        return secrets

    @field_validator("renewal_retry_days")
    @classmethod
    def _retry_days(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if any(day <= 0 for day in days) or list(days) != sorted(set(days)):
            raise ValueError("must be increasing positive whole days, e.g. 1,3,5")
        return days

    @field_validator("smtp_security")
    @classmethod
    def _smtp_security(cls, value: str) -> str:
        if value not in _SMTP_SECURITY:
            raise ValueError("must be one of none, starttls or ssl")
        return value

    @field_validator("stripe_api_base")
    @classmethod
    def _api_base(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url


_SMTP_SECURITY = ("none", "starttls", "ssl")


def _is_list(field: str) -> bool:
    return field in ("webhook_secrets", "renewal_retry_days")


def _split_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _first_problem(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "settings"
    reason = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        reason = "unknown setting"
    return field, reason
