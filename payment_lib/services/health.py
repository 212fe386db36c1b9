"""Is this deployment healthy? (``payment-cli doctor``): each check's status (ok, warning,
failed) and a line saying why, for a person and for monitoring.

Checks: the database answers and is migrated to the newest revision; the Stripe key is set,
valid and the API answers (one read-only list call); webhook secrets are set; the SMTP server
accepts a session (and the login, with credentials); a worker recorded a pass recently (its
heartbeat); the backlog (parked events, emails given up on, old queues) is small. A check
never raises: what goes wrong is its detail. Secrets are never part of a detail.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from payment_lib.domain.errors import PaymentError
from payment_lib.services.notifications import SmtpSender
from payment_lib.services.ports import NewUnitOfWork, StripeGateway
from payment_lib.services.stats import OperationsStats, collect_stats

if TYPE_CHECKING:
    from payment_lib.config import Settings

OK, WARNING, FAILED = "ok", "warning", "failed"
_RANK = {OK: 0, WARNING: 1, FAILED: 2}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warning or failed
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class HealthReport:
    """Every check, and the worst status among them."""

    checks: list[Check]

    @property
    def status(self) -> str:
        return max((c.status for c in self.checks), key=_RANK.__getitem__, default=OK)

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status, "checks": [c.to_dict() for c in self.checks]}


@dataclass(frozen=True)
class HealthLimits:
    """How old is too old: a worker's last pass (failed), and the oldest waiting item of a
    queue (a warning)."""

    worker_seen_within: dt.timedelta = dt.timedelta(minutes=5)
    queue_age: dt.timedelta = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Deployment:
    """What the checks look at."""

    settings: Settings
    new_uow: NewUnitOfWork
    gateway: Callable[[], StripeGateway]
    revisions: Callable[[], tuple[str | None, str | None]]  # (the database's, the newest)
    now: dt.datetime


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except PaymentError as error:
        return Check(name, FAILED, f"{error.message} [{error.code}]")
    except Exception as error:
        return Check(name, FAILED, f"{type(error).__name__}: {str(error)[:200]}")


def check_health(deployment: Deployment, limits: HealthLimits | None = None) -> HealthReport:
    limits = limits or HealthLimits()
    d = deployment
    checks = [_guarded("database", lambda: _database(d))]
    reachable = checks[0].status == OK
    checks.append(
        _guarded("migrations", lambda: _migrations(d)) if reachable else _skipped("migrations")
    )
    checks.append(_guarded("stripe", lambda: _stripe(d)))
    checks.append(_guarded("webhook_secrets", lambda: _webhook_secrets(d)))
    checks.append(_guarded("smtp", lambda: _smtp(d)))
    if reachable and checks[1].status == OK:
        stats = collect_stats(new_uow=d.new_uow, now=d.now)
        checks.append(_guarded("worker", lambda: _worker(stats, limits)))
        checks.append(_guarded("backlog", lambda: _backlog(stats, limits)))
    else:
        checks += [_skipped("worker"), _skipped("backlog")]
    return HealthReport(checks)


def _skipped(name: str) -> Check:
    return Check(name, FAILED, "not checked: the database is not reachable or not migrated")


def _database(d: Deployment) -> Check:
    with d.new_uow() as uow:
        uow.operations.ping()
    return Check("database", OK, "reachable")


def _migrations(d: Deployment) -> Check:
    current, head = d.revisions()
    if current != head:
        return Check(
            "migrations",
            FAILED,
            f"at revision {current or 'none'}, the newest is {head}: run payment-cli db upgrade",
        )
    return Check("migrations", OK, f"at the newest revision {head}")


def _stripe(d: Deployment) -> Check:
    if d.settings.stripe_api_key is None:
        return Check("stripe", FAILED, "PAYMENT_STRIPE_API_KEY is not set")
    pages = d.gateway().walk(
        "payment_intents",
        created_from=d.now - dt.timedelta(minutes=1),
        created_to=d.now,
        page_size=1,
    )
    next(iter(pages), None)
    return Check("stripe", OK, "the key is valid and the API answers")


def _webhook_secrets(d: Deployment) -> Check:
    count = len(d.settings.webhook_secrets)
    if not count:
        return Check(
            "webhook_secrets",
            FAILED,
            "PAYMENT_WEBHOOK_SECRETS is not set: no event can be verified",
        )
    return Check("webhook_secrets", OK, f"{count} set")


def _smtp(d: Deployment) -> Check:
    s = d.settings
    where = f"{s.smtp_host}:{s.smtp_port}"
    try:
        session = SmtpSender(s).connect()
    except (smtplib.SMTPException, OSError) as error:
        return Check("smtp", FAILED, f"{where}: {type(error).__name__}: {str(error)[:200]}")
    try:
        session.noop()
    finally:
        session.close()
    return Check("smtp", OK, f"{where} accepts a session")


def _worker(stats: OperationsStats, limits: HealthLimits) -> Check:
    if not stats.workers:
        return Check("worker", FAILED, "no worker has recorded a pass: run payment-cli worker")
    newest = stats.workers[0]
    age = stats.measured_at - dt.datetime.fromisoformat(newest["seen_at"])
    seen = f"{newest['worker_id']} last seen {age.total_seconds():.0f} s ago"
    if age > limits.worker_seen_within:
        return Check("worker", FAILED, f"no recent pass: {seen}")
    return Check("worker", OK, seen)


def _backlog(stats: OperationsStats, limits: HealthLimits) -> Check:
    failed_emails = stats.by_status["notifications"].get("failed", 0)
    old = [
        f"{name} waiting {queue.oldest_age_seconds:.0f} s"
        for name, queue in stats.queues.items()
        if queue.oldest_age_seconds is not None
        and queue.oldest_age_seconds > limits.queue_age.total_seconds()
    ]
    detail = f"{stats.parked_events} parked events, {failed_emails} emails given up on"
    detail += "".join(f", {line}" for line in old)
    status = WARNING if stats.parked_events or failed_emails or old else OK
    return Check("backlog", status, detail)
