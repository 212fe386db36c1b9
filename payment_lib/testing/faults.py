"""Fault injection, switchable while the emulator runs.

One plan at a time: added latency for matching requests, plus at most one fault for a share
of them: an HTTP error (500-504 or 429 with Stripe's headers), a hang longer than the client's
timeout, a dropped connection (nothing executed), or a dropped response (executed at "Stripe",
the caller sees a network error). ``times`` limits how many requests the plan touches.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from payment_lib.testing.errors import ApiError

# 429 and 5xx as Stripe sends them (retry with the same key); 418, an error no SDK class
# names, stands for the unclassified ones: nothing says whether it executed, nor to retry.
# 400 stands for Stripe refusing a request outright (e.g. search where it is not offered).
ERROR_STATUSES = frozenset({400, 418, 429, 500, 502, 503, 504})


class Fault(Enum):
    NONE = "none"
    ERROR = "error"
    HANG = "hang"
    DROP_CONNECTION = "drop_connection"
    DROP_RESPONSE = "drop_response"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What to do to requests whose path starts with ``path_prefix``.

    Attributes:
        latency: seconds added before each matching request executes; with ``latency_p95``,
            the median of a log-normal distribution each request's latency is drawn from.
        latency_p95: the 95th percentile of that distribution (>= ``latency``); None: fixed.
        error_status: answer with this status (429, 500, 502, 503, 504; 400 for a request
            refused outright; 418 for an error no SDK class names) instead.
        hang: hold the request this many seconds (longer than the client timeout), then run it.
        drop_connection: close the connection before executing anything.
        drop_response: execute, then close the connection instead of answering.
        share: fraction of matching requests that get the fault (exact, not random).
        times: touch only this many requests, then clear the plan; None for no limit.
        path_prefix: which requests match.
    """

    latency: float = 0.0
    latency_p95: float | None = None
    error_status: int | None = None
    hang: float | None = None
    drop_connection: bool = False
    drop_response: bool = False
    share: float = 1.0
    times: int | None = None
    path_prefix: str = "/v1/"

    @property
    def fault(self) -> Fault:
        if self.error_status is not None:
            return Fault.ERROR
        if self.hang is not None:
            return Fault.HANG
        if self.drop_connection:
            return Fault.DROP_CONNECTION
        if self.drop_response:
            return Fault.DROP_RESPONSE
        return Fault.NONE

    def check(self) -> None:
        """Raise ValueError for a plan that cannot be applied."""
        chosen = [
            self.error_status is not None,
            self.hang is not None,
            self.drop_connection,
            self.drop_response,
        ]
        if sum(chosen) > 1:
            raise ValueError("Choose one of error_status, hang, drop_connection, drop_response.")
        if self.error_status is not None and self.error_status not in ERROR_STATUSES:
            raise ValueError(f"error_status must be one of {sorted(ERROR_STATUSES)}.")
        if not 0.0 <= self.share <= 1.0 or self.latency < 0 or (self.hang or 0) < 0:
            raise ValueError("share must be within 0..1; latency and hang must be >= 0.")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0.")
        p95 = self.latency_p95
        if p95 is not None and not (0 < self.latency <= p95 < math.inf):
            raise ValueError("latency_p95 needs a latency > 0 and must be >= it (finite).")

    def draw_latency(self, rng: random.Random) -> float:
        """One request's added latency: fixed, or drawn from the log-normal distribution."""
        if self.latency_p95 is None:
            return self.latency
        sigma = math.log(self.latency_p95 / self.latency) / 1.6448536269514722  # z of 0.95
        return rng.lognormvariate(math.log(self.latency), sigma)


NO_FAULTS = FaultPlan()


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one request."""

    fault: Fault
    latency: float = 0.0
    error_status: int = 500
    hang: float = 0.0


PASS = Decision(Fault.NONE)


class Faults:
    """The emulator's current fault plan; safe to change from any thread at any time."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()  # noqa: S311 (latency jitter, not security)
        self._lock = threading.Lock()
        self._plan = NO_FAULTS
        self._due = 0.0
        self._touched = 0
        self._interrupt = threading.Event()

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def set(self, **options: Any) -> FaultPlan:
        """Replace the plan, e.g. ``faults.set(error_status=500, share=0.5)``.

        Args:
            **options: the fields of ``FaultPlan``.

        Returns:
            The plan now in force.

        Raises:
            TypeError: for an unknown option. ValueError: for an impossible plan.
        """
        plan = FaultPlan(**options)
        plan.check()
        with self._lock:
            self._plan = plan
            self._due = 0.0
            self._touched = 0
            self._interrupt.clear()
        return plan

    def clear(self) -> None:
        """No faults from now on; requests hanging now are released."""
        with self._lock:
            self._plan = NO_FAULTS
            self._interrupt.set()

    def decide(self, path: str) -> Decision:
        """Pick the fate of one request (consumes the share and ``times`` budget)."""
        plan = self._plan
        if plan is NO_FAULTS or not path.startswith(plan.path_prefix):
            return PASS
        with self._lock:
            if plan is not self._plan:
                return PASS
            fault = Fault.NONE
            self._due += plan.share
            if plan.fault is not Fault.NONE and self._due >= 1.0 - 1e-9:
                self._due -= 1.0
                fault = plan.fault
            if fault is Fault.NONE and plan.latency == 0:
                return PASS
            self._touched += 1
            if plan.times is not None and self._touched >= plan.times:
                self._plan = NO_FAULTS
            latency = plan.draw_latency(self._rng)
            return Decision(fault, latency, plan.error_status or 500, plan.hang or 0.0)

    def pause(self, seconds: float) -> bool:
        """Sleep for a latency or hang; returns False if ``clear`` cut it short."""
        if seconds <= 0:
            return True
        return not self._interrupt.wait(seconds)

    @staticmethod
    def describe(plan: FaultPlan) -> dict[str, Any]:
        return asdict(plan)


def injected_error(status: int) -> ApiError:
    """The error Stripe answers with a 429 or a 5xx, headers included."""
    if status == 429:
        error = ApiError(
            429,
            "Request rate limit exceeded. You can learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
            code="rate_limit",
        )
        error.headers["Stripe-Rate-Limited-Reason"] = "global-rate"
        return error
    if status == 400:
        return ApiError(400, "This feature is not available to your account.")
    error = ApiError(status, "An unknown error occurred", type="api_error")
    # A 5xx executed nothing, so a retry with the same key is safe: say so as Stripe does.
    error.headers["Stripe-Should-Retry"] = "true" if status >= 500 else "false"
    return error
