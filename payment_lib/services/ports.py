"""The ports services depend on, defined once: the clock and the unit-of-work factory.

The facade wires the concrete ones (``observability.utcnow``, ``Database.unit_of_work``);
tests pass their own clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from payment_lib.db.unit_of_work import UnitOfWork

Clock = Callable[[], dt.datetime]
NewUnitOfWork = Callable[[], UnitOfWork]
