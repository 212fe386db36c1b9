"""A PostgreSQL cluster of their own for the tests that stop and restart the server (issue 15):
restarting the session's shared cluster would break every other test's pooled connections.
Its commits survive a crash (``synchronous_commit=on``, PostgreSQL's default and what production
runs): the suite's shared cluster turns that off for speed, and then an immediate shutdown
forgets transactions already reported committed.

``restartable`` starts one cluster per test module; ``restartable_url`` gives each test a freshly
migrated database in it, with the server running.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from postgres_cluster import ENABLE_HINT, Cluster, start_cluster

from payment_lib.db.migrations import upgrade


@dataclass
class Restartable:
    """The cluster, with the ways to take its server away and bring it back."""

    cluster: Cluster
    threads: list[threading.Thread] = field(default_factory=list)

    def url(self, database: str) -> str:
        return self.cluster.admin_url.rsplit("/", 1)[0] + f"/{database}"

    def running(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.cluster.port)) == 0

    def stop(self, mode: str) -> None:
        self.cluster.stop_server(mode)

    def start(self) -> None:
        if not self.running():
            self.cluster.start_server()

    def restart(self, mode: str, down: float = 0.5) -> None:
        """Stop (``fast`` or ``immediate``), stay down ``down`` seconds, start again."""
        self.stop(mode)
        time.sleep(down)
        self.start()

    def restart_soon(self, mode: str, after: float, down: float = 0.5) -> threading.Thread:
        """``restart`` in a thread, ``after`` seconds from now; join the thread to wait."""
        return self._later(after, lambda: self.restart(mode, down))

    def start_soon(self, after: float) -> threading.Thread:
        """``start`` (a stopped server) in a thread, ``after`` seconds from now."""
        return self._later(after, self.start)

    def _later(self, after: float, work: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            time.sleep(after)
            work()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def close(self) -> None:
        """Wait for restarts still under way, then stop the server and remove the cluster."""
        for thread in self.threads:
            thread.join(60)
        self.start()
        self.cluster.stop()


def _admin(url: str, statement: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def restartable() -> Iterator[Restartable]:
    cluster = start_cluster(durable=True)
    if cluster is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true but no PostgreSQL binaries for restart tests: {ENABLE_HINT}")
        pytest.skip(ENABLE_HINT)
    restartable = Restartable(cluster)
    try:
        yield restartable
    finally:
        restartable.close()


@pytest.fixture
def restartable_url(restartable: Restartable) -> str:
    """A freshly migrated database of its own in the restartable cluster, server running."""
    restartable.start()
    name = f"restart_{uuid.uuid4().hex[:12]}"
    _admin(restartable.cluster.admin_url, f"CREATE DATABASE {name}")
    url = restartable.url(name)
    upgrade(url)
    return url
