"""A dispute's snapshots, folded in any order and any number of times, end in one state."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_lib.domain.disputes import (
    DisputeState,
    Funds,
    advance,
    ends_subscription,
    funds_of,
    supersedes,
)

T = 1_800_000_000
W, R, K = Funds.WITHDRAWN, Funds.REINSTATED, Funds.KEPT

# (status, event created, funds): what Stripe's events of each kind of dispute carry, with two
# events in the same second as Stripe's second-granular times often make them.
LIVES = {
    "won": [
        ("needs_response", T, K),
        ("needs_response", T, W),
        ("under_review", T + 10, W),
        ("won", T + 20, W),
        ("won", T + 20, R),
    ],
    "lost": [
        ("needs_response", T, W),
        ("needs_response", T, W),
        ("under_review", T + 10, W),
        ("lost", T + 20, W),
    ],
    "inquiry": [
        ("warning_needs_response", T, K),
        ("warning_under_review", T + 10, K),
        ("warning_closed", T + 20, K),
    ],
    "escalated inquiry, all in one second": [
        ("warning_needs_response", T, K),
        ("warning_under_review", T, K),
        ("needs_response", T, K),
        ("needs_response", T, W),
        ("under_review", T, W),
        ("lost", T, W),
    ],
    "no balance in the events": [  # funds known only from funds_* event types
        ("needs_response", T, None),
        ("needs_response", T, W),
        ("won", T + 20, None),
        ("won", T + 20, R),
    ],
}
FINAL = {
    "won": ("won", False),
    "lost": ("lost", True),
    "inquiry": ("warning_closed", False),
    "escalated inquiry, all in one second": ("lost", True),
    "no balance in the events": ("won", False),
}


def fold(snapshots):
    state = DisputeState.first(*snapshots[0])
    for snapshot in snapshots[1:]:
        state, _newer = advance(state, *snapshot)
    return state


@pytest.mark.parametrize("life", sorted(LIVES))
def test_in_order_the_dispute_ends_where_stripe_left_it(life):
    state = fold(LIVES[life])
    assert (state.status, state.funds_withdrawn) == FINAL[life]


@pytest.mark.parametrize("life", sorted(LIVES))
@given(data=st.data())
def test_any_order_and_any_repetition_ends_in_the_same_state(life, data):
    snapshots = LIVES[life]
    order = data.draw(st.permutations(snapshots))
    repeats = data.draw(st.lists(st.sampled_from(snapshots), max_size=6))
    positions = data.draw(
        st.lists(st.integers(0, len(order)), min_size=len(repeats), max_size=len(repeats))
    )
    deliveries = list(order)
    for snapshot, position in zip(repeats, positions, strict=True):
        deliveries.insert(position, snapshot)

    state = fold(deliveries)

    assert (state.status, state.funds_withdrawn) == FINAL[life]


def test_a_closed_dispute_is_never_reopened_by_a_later_event():
    assert not supersedes("needs_response", T + 60, "lost", T)
    assert supersedes("lost", T, "needs_response", T + 60)


def test_the_later_event_wins_and_within_a_second_the_further_stage():
    assert supersedes("under_review", T + 1, "needs_response", T)
    assert not supersedes("needs_response", T, "under_review", T + 1)
    assert supersedes("under_review", T, "needs_response", T)
    assert supersedes("needs_response", T, "warning_under_review", T)  # escalated in a second
    assert not supersedes("warning_needs_response", T, "needs_response", T)
    assert supersedes("needs_response", T + 5, "warning_under_review", T)  # an escalation


@pytest.mark.parametrize(
    ("balance", "funds"),
    [((), K), ((-2000,), W), ((-2000, 2000), R), ((-2000, 1000), W)],
)
def test_the_balance_transactions_say_where_the_money_is(balance, funds):
    assert funds_of(balance) == funds


@pytest.mark.parametrize(
    ("setting", "status", "ends"),
    [
        ("lost", "needs_response", False),
        ("lost", "lost", True),
        ("lost", "won", False),
        ("opened", "needs_response", True),
        ("opened", "won", True),
        ("opened", "warning_needs_response", False),
        ("opened", "warning_closed", False),
        ("never", "lost", False),
    ],
)
def test_when_a_dispute_ends_its_subscription(setting, status, ends):
    assert ends_subscription(setting, status) is ends
