"""A dispute's lifecycle as data: which of two snapshots of one dispute is the newer, where its
money stands, and when it ends a subscription.

Stripe sends a dispute's events (created, funds_withdrawn, updated, closed, funds_reinstated)
in any order and sometimes twice, each carrying the whole dispute as it was. Keeping, of all
the snapshots seen, the greatest by ``status_order`` makes every order of delivery end in the
same state: a closed dispute (won, lost, warning_closed, prevented) is never reopened by a
late event; otherwise the later event (Stripe's ``created``, in seconds) wins, and within one
second the further stage of the lifecycle. The money follows the balance transactions, which
only move forward: nothing withdrawn, withdrawn, given back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

# Inquiries (warning_*) ask questions and move no money; chargebacks take the amount at once.
INQUIRY_OPEN = ("warning_needs_response", "warning_under_review")
CHARGEBACK_OPEN = ("needs_response", "under_review")
CLOSED = ("won", "lost", "warning_closed", "prevented")
STATUSES = (*INQUIRY_OPEN, *CHARGEBACK_OPEN, *CLOSED)
CHARGEBACK = frozenset({*CHARGEBACK_OPEN, "won", "lost"})

# The open statuses in the only order Stripe moves through them: an inquiry, under review, may
# escalate to a chargeback, and a chargeback never goes back to being an inquiry. Closed: 4.
_STAGE = {s: n for n, s in enumerate((*INQUIRY_OPEN, *CHARGEBACK_OPEN))}

# dispute_ends_subscription: when a dispute ends the subscription its payment paid for.
ENDS_SUBSCRIPTION = ("lost", "opened", "never")


def status_order(status: str, seen: int) -> tuple[bool, int, int, str]:
    """The sort key of a snapshot in ``status`` from an event created at ``seen``: the
    greatest one seen is the dispute's state. Closed beats open whatever the times; then
    the later event; within a second the further stage (inquiry, inquiry under review,
    chargeback, chargeback under review, closed; the status name only breaks ties Stripe
    never makes, so the order stays total)."""
    closed = status in CLOSED
    stage = len(_STAGE) if closed else _STAGE.get(status, 0)
    return (closed, seen, stage, status)


def supersedes(new_status: str, new_seen: int, old_status: str, old_seen: int) -> bool:
    """Whether a snapshot replaces the known state (equal: the same state again)."""
    return status_order(new_status, new_seen) >= status_order(old_status, old_seen)


class Funds(IntEnum):
    """Where the disputed amount stands; it only ever moves forward."""

    KEPT = 0  # never withdrawn (an inquiry, or before Stripe withdraws it)
    WITHDRAWN = 1
    REINSTATED = 2  # given back: the dispute was won


def funds_of(balance: Sequence[int]) -> Funds:
    """From the amounts of a dispute's balance transactions (negative: withdrawn from us)."""
    if not any(amount < 0 for amount in balance):
        return Funds.KEPT
    return Funds.WITHDRAWN if sum(balance) < 0 else Funds.REINSTATED


def known_funds(withdrawn: bool, status: str) -> Funds:
    """The stage a stored dispute has reached. Stripe gives the amount back only for a won
    dispute, so a won dispute whose amount is not withdrawn has it back (or never lost it:
    then nothing can withdraw it any more either)."""
    if withdrawn:
        return Funds.WITHDRAWN
    return Funds.REINSTATED if status == "won" else Funds.KEPT


@dataclass(frozen=True)
class DisputeState:
    """What is known of a dispute: its status, as of the event created at ``seen``, and
    whether its amount is withdrawn from us now."""

    status: str
    seen: int
    funds_withdrawn: bool

    @classmethod
    def first(cls, status: str, seen: int, funds: Funds | None) -> DisputeState:
        """The state of a dispute from the first snapshot seen of it."""
        return cls(status, seen, funds == Funds.WITHDRAWN)


def advance(
    known: DisputeState, status: str, seen: int, funds: Funds | None
) -> tuple[DisputeState, bool]:
    """The state after one more snapshot (``funds`` None: it does not say), and whether the
    snapshot is the newest seen (then its details, amount and deadline, are the ones to keep).

    Folding any order of a dispute's snapshots, each any number of times, ends in one state.
    """
    newer = supersedes(status, seen, known.status, known.seen)
    reached = known_funds(known.funds_withdrawn, known.status)
    withdrawn = known.funds_withdrawn
    if funds is not None and funds > reached:
        withdrawn = funds == Funds.WITHDRAWN
    if newer:
        return DisputeState(status, seen, withdrawn), True
    return DisputeState(known.status, known.seen, withdrawn), False


def ends_subscription(setting: str, status: str) -> bool:
    """Whether a dispute in ``status`` ends its subscription under the setting ``lost``
    (a lost chargeback), ``opened`` (any chargeback, from the moment it opens; inquiries,
    which move no money, do not) or ``never``."""
    if setting == "opened":
        return status in CHARGEBACK
    return setting == "lost" and status == "lost"
