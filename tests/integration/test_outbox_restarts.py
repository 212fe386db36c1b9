# ruff: noqa: F811 (pytest fixtures imported from restarts)
"""300 emails through three PostgreSQL restarts (issue 15, item 2): ``payment-cli worker`` runs
in a process of its own and sends to a real SMTP server on loopback; the server is stopped twice
right after the mail server accepted a message and before the worker could record it (fast,
then immediate mode), and once more at whatever moment (fast). Exactly 300 arrive, each once,
every row ends ``sent``, the worker never stops, and it warns once per outage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from restarts import restartable, restartable_url  # noqa: F401 (fixtures)
from test_outbox_faults import enqueue, message_ids, outbox, sink  # noqa: F401 (fixture)

from payment_lib.db import Database

EMAILS = 300


@pytest.mark.slow
def test_300_emails_through_three_restarts_arrive_exactly_once(
    restartable, restartable_url, sink, tmp_path
):
    restarts = []

    def fault(count):
        if count == 60:  # the message is accepted; the worker has not recorded it yet
            restartable.stop("fast")
            restarts.append(restartable.start_soon(after=1.0))
        elif count == 150:
            restartable.stop("immediate")
            restarts.append(restartable.start_soon(after=1.0))
        elif count == 240:  # whenever the stop lands
            restarts.append(restartable.restart_soon("fast", after=0.0, down=1.0))

    sink.hook = fault
    database = Database(restartable_url)
    try:
        enqueue(database, EMAILS)
    finally:
        database.dispose()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")},
        "PAYMENT_DATABASE_URL": restartable_url,
        "PAYMENT_SMTP_HOST": "127.0.0.1",
        "PAYMENT_SMTP_PORT": str(sink.port),
        "PAYMENT_SMTP_FROM": "billing@shop.example",
    }
    log_file = tmp_path / "worker.log"
    with log_file.open("w") as log_output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "payment_cli", "--log-level", "info", "worker",
             "--interval", "0.2"],
            env=env, stdout=subprocess.DEVNULL, stderr=log_output,
        )
        try:
            sink.wait_for(EMAILS, timeout=120)
            time.sleep(2)  # a duplicate would arrive now
            for thread in restarts:
                thread.join(30)
            still_running = worker.poll() is None
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    lines = log_file.read_text().splitlines()
    logs = [json.loads(line) for line in lines if line.startswith("{")]

    def logged(event):
        return [line for line in logs if line["event"] == event]

    assert still_running and worker.returncode == 0
    assert len(sink.messages) == EMAILS
    assert len(set(message_ids(sink))) == EMAILS
    assert outbox(restartable_url) == {"sent": EMAILS}
    assert len(restarts) == 3
    assert 2 <= len(logged("database unavailable")) <= 3
    assert len(logged("database unavailable")) == len(logged("database available again"))
    assert [line for line in logs if line["level"] in ("error", "critical")] == []
