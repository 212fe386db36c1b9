"""A throwaway PostgreSQL cluster for the test suite, started from the machine's initdb/pg_ctl.

pytest-postgresql does the same job but cannot drop root privileges, and PostgreSQL refuses to
run as root; this module runs the server as the ``postgres`` OS user when the suite is root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENABLE_HINT = (
    "PostgreSQL tests need a server: set PAYMENT_TEST_DATABASE_URL to an existing one, "
    "or install PostgreSQL 15 server binaries (Debian: apt-get install postgresql) so the "
    "suite can start its own"
)


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    bindir: Path
    datadir: Path
    port: int
    run_as: str | None
    # Commits that survive the server's crash (synchronous_commit on), for the tests that stop
    # it in immediate mode; off elsewhere, for speed.
    durable: bool = False

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    def start(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start_server()

    def start_server(self) -> None:
        """Start the server of an initialised cluster (again, after ``stop_server``)."""
        options = (
            f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 "
            f"-c fsync=off -c synchronous_commit={'on' if self.durable else 'off'} "
            "-c full_page_writes=off -c max_connections=300"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-l",
            str(self.datadir / "server.log"),
            "-w",
            "start",
        )

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server, keeping the cluster: ``fast`` (sessions are told and closed) or
        ``immediate`` (as a crash: recovery runs at the next start)."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def stop(self) -> None:
        try:
            self.stop_server("immediate")
        finally:
            shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_cluster(*, durable: bool = False) -> Cluster | None:
    """Start a fresh cluster in a temporary directory; None when no binaries are installed."""
    bindir = find_binaries()
    if bindir is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="payment-lib-pg-"))
    datadir = root / "data"
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres"
        user = pwd.getpwnam(run_as)
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = Cluster(
        bindir=bindir, datadir=datadir, port=_free_port(), run_as=run_as, durable=durable
    )
    if run_as:
        os.chmod(root, 0o700)
    cluster.start()
    return cluster
