"""How long the gateway waits before trying a transient failure again.

The retry loop itself is ``StripeGateway._call``: written out since a tenacity ``Retrying``
built for every Stripe call (one cannot be shared between threads) cost more than the rest of
the call's Python. The waits are the ones ``wait_exponential(multiplier=backoff, max=8)`` gave.
"""

from __future__ import annotations

MAX_WAIT_SECONDS = 8


def wait_seconds(failed_attempt: int, backoff: float) -> float:
    """Seconds to wait after attempt ``failed_attempt`` (1, 2, ...) failed: ``backoff``, then
    twice that, four times, ..., at most ``MAX_WAIT_SECONDS``."""
    try:
        wait = backoff * 2.0 ** (failed_attempt - 1)
    except OverflowError:
        return MAX_WAIT_SECONDS
    return max(0, min(wait, MAX_WAIT_SECONDS))
