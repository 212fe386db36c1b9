"""Finding raw card numbers (PANs) in text, so they are refused on input and scrubbed from logs."""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

# 12 to 19 digits not inside a longer number: in one run, or grouped the way cards are
# printed (4-4-4-4[-1..3], Amex 4-6-5, Diners 4-6-4) with single spaces or dashes. Only those
# groupings, so that UUIDs and other dashed identifiers are not mistaken for cards.
_CANDIDATE = re.compile(
    r"(?<![0-9])(?:"
    r"[0-9]{12,19}"
    r"|[0-9]{4}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,3})?"
    r"|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5}"
    r")(?![0-9])"
)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card_number(candidate: str) -> bool:
    return _luhn_valid(candidate.replace(" ", "").replace("-", ""))


def contains_card_number(text: str) -> bool:
    """True when ``text`` holds a Luhn-valid run of 12-19 digits (spaces or dashes allowed)."""
    return any(_is_card_number(m.group()) for m in _CANDIDATE.finditer(text))


def redact_card_numbers(text: str) -> str:
    """``text`` with every card-number-like run replaced by [REDACTED]."""
    return _CANDIDATE.sub(lambda m: REDACTED if _is_card_number(m.group()) else m.group(), text)
