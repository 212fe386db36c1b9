"""Fresh PostgreSQL test databases made ahead of time, and dropped behind the tests' back.

Each PostgreSQL test gets a database of its own, cloned from the migrated template. Cloning
(``CREATE DATABASE ... TEMPLATE``) and dropping take 100-300 ms of the server's time each; a
thread keeps a few clones ready while tests run, and drops used ones, so a test waits for
neither. Nothing here is shared between processes: each pytest-xdist worker has its own pool.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable

READY = 2  # clones kept ready: enough to hide a clone's time behind one test


class DatabasePool:
    """Clones of ``template`` named ``clone_<pid>_<n>`` (never an empty test database's
    ``test_<pid>_<n>``); ``take()`` one, ``give_back()`` it to be dropped; ``close()`` drops
    every clone left."""

    def __init__(self, admin: Callable[..., None], template: str) -> None:
        self._admin = admin
        self._template = template
        self._numbers = itertools.count()
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=READY)
        self._used: queue.Queue[str | None] = queue.Queue()
        self._closing = threading.Event()
        self._maker = threading.Thread(target=self._make, name="db-pool-make", daemon=True)
        self._dropper = threading.Thread(target=self._drop, name="db-pool-drop", daemon=True)
        self._maker.start()
        self._dropper.start()

    def _make(self) -> None:
        while not self._closing.is_set():
            name = f"clone_{os.getpid()}_{next(self._numbers)}"
            try:
                self._admin(f"CREATE DATABASE {name} TEMPLATE {self._template} STRATEGY FILE_COPY")
            except BaseException as error:
                self._ready.put(error)
                return
            self._ready.put(name)  # blocks while READY clones wait

    def _drop(self) -> None:
        while (name := self._used.get()) is not None:
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def take(self) -> str:
        """A fresh clone's name (raises what cloning raised)."""
        made = self._ready.get(timeout=120)
        if isinstance(made, BaseException):
            raise made
        return made

    def give_back(self, name: str) -> None:
        self._used.put(name)

    def close(self) -> None:
        """Stop making clones; drop the used and the unused ones."""
        self._closing.set()
        while True:
            try:
                made = self._ready.get_nowait()
            except queue.Empty:
                if not self._maker.is_alive():
                    break
                self._maker.join(timeout=0.1)
                continue
            if isinstance(made, str):
                self._used.put(made)
        self._used.put(None)
        self._dropper.join(timeout=120)
