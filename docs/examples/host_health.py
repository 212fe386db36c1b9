"""Is this app ready to serve: ``health_checks`` (behind ``GET /healthz``) and ``SchemaGate``
(which answers 503 to every API request until the schema is current).

``health_checks`` is the one place that decides what "healthy" means: today the database
answers and its schema is the revision this payment_lib ships. When payment_lib has its own
doctor checks (``payment-cli doctor``), call them here and nothing else changes. Stripe is
deliberately not probed: a load balancer polling /healthz must not spend Stripe's rate limit,
and an app that cannot reach Stripe still serves reads (payments fail with
``provider_unavailable`` meanwhile; alert on ``stripe_circuit_open``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from docs.examples.host_errors import SchemaBehind
from payment_lib import DatabaseUnavailable, PaymentError, Payments

UPGRADE = "Run `payment-cli db upgrade`."


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    error: PaymentError | None = None  # why not ok, for the response's "error"

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def health_checks(payments: Payments) -> list[Check]:
    """The database answers, and its schema is not behind this payment_lib's newest revision.

    A schema *ahead* (at a revision this payment_lib does not know: a newer release migrated
    it) is fine: migrations only add, so the previous release keeps serving during a rollout.
    """
    try:
        current = payments.database_revision()
    except DatabaseUnavailable as error:
        return [
            Check("database", False, "unreachable", error),
            Check("schema", False, "unknown: the database is unreachable"),
        ]
    database = Check("database", True, "reachable")
    head, known = _shipped()
    if current == head:
        return [database, Check("schema", True, f"at revision {head}, the newest")]
    if current is not None and current not in known:
        return [
            database,
            Check("schema", True, f"at revision {current}, newer than this app's {head}"),
        ]
    at = current or "none (empty)"
    behind = SchemaBehind(
        f"The database schema is at revision {at}; this app needs {head}. {UPGRADE}",
        retry_after=30,
    )
    return [database, Check("schema", False, f"at revision {at}, not {head}", behind)]


@functools.cache
def _shipped() -> tuple[str | None, tuple[str, ...]]:
    """The newest revision and all revisions this payment_lib ships: fixed for the process,
    and reading them parses every migration file, so once."""
    return Payments.latest_revision(), tuple(Payments.known_revisions())


def first_failure(checks: list[Check]) -> PaymentError | None:
    return next((check.error for check in checks if check.error is not None), None)


class SchemaGate:
    """A FastAPI dependency: refuse the request (503) until every health check passes. Once
    they pass, the schema is trusted for the life of the process (migrations run before a new
    version starts, never under a running one), so requests cost no extra query; until then
    each request checks again, so the app recovers by itself after ``db upgrade``."""

    def __init__(self, payments: Payments) -> None:
        self._payments = payments
        self._ready = False

    def __call__(self) -> None:
        if self._ready:
            return
        failure = first_failure(health_checks(self._payments))
        if failure is not None:
            raise failure
        self._ready = True
