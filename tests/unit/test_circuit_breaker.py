"""The circuit breaker: opens after consecutive failures, half-opens after a pause, and never
holds a lock while the protected call runs."""

import threading

import pytest

from payment_lib.circuit_breaker import CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def fail():
    raise ConnectionError("down")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def changes():
    return []


@pytest.fixture
def breaker(clock, changes):
    return CircuitBreaker(failures=5, reset_seconds=60, clock=clock,
                          on_change=lambda old, new: changes.append((old, new)))


def trip(breaker):
    for _ in range(5):
        with pytest.raises(ConnectionError):
            breaker.call(fail)


def test_opens_after_five_consecutive_failures(breaker, changes):
    trip(breaker)
    assert breaker.state == "open"
    assert changes == [("closed", "open")]
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: "never runs")


def test_a_success_resets_the_count(breaker):
    for _ in range(4):
        with pytest.raises(ConnectionError):
            breaker.call(fail)
    assert breaker.call(lambda: "ok") == "ok"
    for _ in range(4):
        with pytest.raises(ConnectionError):
            breaker.call(fail)
    assert breaker.state == "closed"


def test_errors_that_are_not_failures_do_not_count(breaker):
    for _ in range(10):
        with pytest.raises(ValueError):
            breaker.call(lambda: int("x"), is_failure=lambda error: False)
    assert breaker.state == "closed"


def test_half_opens_after_the_pause_and_closes_on_success(breaker, clock, changes):
    trip(breaker)
    clock.now += 60
    assert breaker.call(lambda: "trial") == "trial"
    assert breaker.state == "closed"
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_a_failed_trial_opens_it_again(breaker, clock):
    trip(breaker)
    clock.now += 60
    with pytest.raises(ConnectionError):
        breaker.call(fail)
    assert breaker.state == "open"
    clock.now += 59
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: None)


def test_calls_run_concurrently_not_one_at_a_time(breaker):
    inside = threading.Barrier(3, timeout=5)

    def wait_for_the_others():
        inside.wait()  # passes only when all three calls are inside at once
        return "together"

    results = []
    threads = [threading.Thread(target=lambda: results.append(breaker.call(wait_for_the_others)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == ["together"] * 3
