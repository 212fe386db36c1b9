"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog
from database_pool import DatabasePool
from hypothesis import settings as hypothesis_settings
from pgbouncer import ENABLE_HINT as BOUNCER_HINT
from pgbouncer import POOLED, Bouncer, pooler_for, start_bouncer
from postgres_cluster import ENABLE_HINT, start_cluster
from prometheus_client import CollectorRegistry

from payment_lib import Payments, Settings
from payment_lib.db.migrations import upgrade
from payment_lib.testing import StripeTarget

pytest_plugins = ["payment_lib.testing.pytest_plugin"]

# Property tests: no per-example deadline (the machine is shared; time is measured by the
# benchmarks, never asserted by tests).
hypothesis_settings.register_profile("payment_lib", deadline=None, print_blob=True)
hypothesis_settings.load_profile("payment_lib")

# One template per pytest-xdist worker: workers may share a server (PAYMENT_TEST_DATABASE_URL).
TEMPLATE_DB = f"payment_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
_numbers = itertools.count()


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """The CLI configures structlog globally; every test starts from structlog's defaults."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked through_pooler run a third time, through PgBouncer (transaction pooling)."""
    if metafunc.definition.get_closest_marker("through_pooler") and (
        "database_url" in metafunc.fixturenames
    ):
        # As a mark, so that it takes precedence over the fixture's own two params.
        backends = ["sqlite", "postgresql", "pgbouncer"]
        metafunc.definition.add_marker(
            pytest.mark.parametrize("database_url", backends, indirect=True)
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked postgresql_only do not run in their SQLite variant."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url") if callspec else None
        if item.get_closest_marker("postgresql_only") and backend == "sqlite":
            reason = "PostgreSQL only (locks across processes, query plans)"
            item.add_marker(pytest.mark.skip(reason=reason))


def _on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """Admin URL of a PostgreSQL server: PAYMENT_TEST_DATABASE_URL, or a cluster we start."""
    given = os.environ.get("PAYMENT_TEST_DATABASE_URL")
    if given:
        yield given
        return
    cluster = start_cluster()
    if cluster is None:
        if _on_ci():
            pytest.fail(f"CI=true but no PostgreSQL: {ENABLE_HINT}")
        pytest.skip(ENABLE_HINT)
    try:
        yield cluster.admin_url
    finally:
        cluster.stop()


def _with_database(url: str, name: str) -> str:
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> str:
    """A migrated PostgreSQL database that each test clones."""
    _admin(
        postgres_admin_url,
        f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)",
        f"CREATE DATABASE {TEMPLATE_DB}",
    )
    upgrade(_with_database(postgres_admin_url, TEMPLATE_DB))
    return TEMPLATE_DB


@pytest.fixture(scope="session")
def postgres_pool(postgres_admin_url: str, postgres_template: str) -> Iterator[DatabasePool]:
    """Clones of the template made ahead of time and dropped behind the tests' back."""
    pool = DatabasePool(
        lambda *statements: _admin(postgres_admin_url, *statements), postgres_template
    )
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _empty_postgres(admin_url: str) -> Iterator[str]:
    """A new empty database (no schema), dropped afterwards; clones of the migrated template
    come from ``postgres_pool``."""
    name = f"test_{os.getpid()}_{next(_numbers)}"
    _admin(admin_url, f"CREATE DATABASE {name}")
    try:
        yield _with_database(admin_url, name)
    finally:
        _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pgbouncer(postgres_admin_url: str) -> Iterator[Bouncer]:
    """PgBouncer in transaction pooling mode in front of the suite's PostgreSQL."""
    bouncer = start_bouncer(postgres_admin_url)
    if bouncer is None:
        if _on_ci():
            pytest.fail(f"CI=true but no PgBouncer: {BOUNCER_HINT}")
        pytest.skip(BOUNCER_HINT)
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a freshly migrated database of its own for one test, on each backend (and
    through PgBouncer for tests marked through_pooler)."""
    if request.param == "sqlite":
        path = tmp_path / "payments.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    pool: DatabasePool = request.getfixturevalue("postgres_pool")
    name = pool.take()
    direct = _with_database(admin_url, name)
    if request.param == "pgbouncer":
        bouncer: Bouncer = request.getfixturevalue("pgbouncer")
        pooled = bouncer.url_for(direct)
        POOLED[pooled] = bouncer
        try:
            yield pooled
        finally:
            del POOLED[pooled]
            bouncer.release(name)
            pool.give_back(name)
    else:
        try:
            yield direct
        finally:
            pool.give_back(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (no schema), for migration tests, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    yield from _empty_postgres(request.getfixturevalue("postgres_admin_url"))


@pytest.fixture
def settings(database_url: str, stripe_target: StripeTarget) -> Settings:
    return Settings(
        database_url=database_url,
        stripe_api_key=stripe_target.api_key,
        stripe_api_base=stripe_target.api_base,
        stripe_timeout_seconds=2,
        stripe_retry_backoff_seconds=0.01,
        database_pooler=pooler_for(database_url),
    )


@pytest.fixture
def payments(settings: Settings) -> Iterator[Payments]:
    with Payments.from_settings(settings, registry=CollectorRegistry()) as facade:
        yield facade


@pytest.fixture
def user_id() -> str:
    return str(uuid.uuid4())
