"""PgBouncer in transaction pooling mode in front of the suite's PostgreSQL, as deployed.

Started like the suite's cluster (Debian's ``pgbouncer`` binary, as the ``postgres`` OS user
when the suite runs as root: PgBouncer refuses to run as root). Every database of the server is
reachable through it under its own name (``* =`` in ``[databases]``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

ENABLE_HINT = (
    "tests through PgBouncer need its binary: apt-get install pgbouncer (Debian), or set "
    "PAYMENT_TEST_PGBOUNCER to its path"
)


def find_pgbouncer() -> str | None:
    given = os.environ.get("PAYMENT_TEST_PGBOUNCER")
    if given:
        return given
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Bouncer:
    process: subprocess.Popen[bytes]
    port: int
    root: Path
    run_as: str | None

    def url_for(self, direct_url: str) -> str:
        """``direct_url`` (a database on the server) as reached through the pooler."""
        url = sa.make_url(direct_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)

    def release(self, database: str) -> None:
        """Close the pooler's server connections to ``database`` (so it can be a template, or be
        dropped), then let clients in again: the admin console's KILL and RESUME."""
        for command in (f"KILL {database}", f"RESUME {database}"):
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d",
                 "pgbouncer", "-c", command],
                capture_output=True, text=True, check=False, timeout=10,
            )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def start_bouncer(admin_url: str) -> Bouncer | None:
    """PgBouncer (transaction pooling) in front of the server ``admin_url`` names; None when
    the binary is not installed."""
    binary = find_pgbouncer()
    if binary is None:
        return None
    server = sa.make_url(admin_url)
    root = Path(tempfile.mkdtemp(prefix="payment-lib-pgbouncer-"))
    port = _free_port()
    password = f" password={server.password}" if server.password else ""
    (root / "users.txt").write_text(f'"{server.username or "postgres"}" ""\n')
    (root / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server.host or '127.0.0.1'} port={server.port or 5432}"
        f" user={server.username or 'postgres'}{password}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        f"unix_socket_dir = {root}\n"
        "auth_type = trust\n"
        f"auth_file = {root / 'users.txt'}\n"
        f"admin_users = {server.username or 'postgres'}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 1000\n"
        "default_pool_size = 40\n"
        "max_db_connections = 80\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {root / 'pgbouncer.log'}\n"
    )
    run_as = None
    command = [binary, str(root / "pgbouncer.ini")]
    if os.geteuid() == 0:
        run_as = "postgres"
        user = pwd.getpwnam(run_as)
        for path in (root, *root.iterdir()):
            os.chown(path, user.pw_uid, user.pw_gid)
        command = ["runuser", "-u", run_as, "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"pgbouncer did not start: {error}") from None
            time.sleep(0.05)
    return Bouncer(process=process, port=port, root=root, run_as=run_as)


# The databases the suite reaches through PgBouncer (their settings say database_pooler).
POOLED: dict[str, Bouncer] = {}


def pooler_for(url: str) -> Literal["none", "transaction"]:
    """The ``database_pooler`` setting for ``url``."""
    return "transaction" if url in POOLED else "none"


def release_pooled(url: str) -> None:
    """Close the pooler's server connections to ``url``'s database (no-op when direct)."""
    bouncer = POOLED.get(url)
    if bouncer is not None:
        bouncer.release(sa.make_url(url).database or "")
