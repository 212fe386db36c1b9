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


# UUIDs (hex or dashed) are identifiers, not cards: about 1 in 300 random UUIDs holds a
# Luhn-valid run of 12+ digits, so they are masked before looking for card numbers.
_UUID = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?"
    r"[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
)


def _without_uuids(text: str) -> str:
    """``text`` with each UUID replaced by as many underscores (positions are kept)."""
    return _UUID.sub(lambda m: "_" * len(m.group()), text)


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
    return any(_is_card_number(m.group()) for m in _CANDIDATE.finditer(_without_uuids(text)))


def redact_card_numbers(text: str) -> str:
    """``text`` with every card-number-like run replaced by [REDACTED]."""
    masked = _without_uuids(text)
    pieces, last = [], 0
    for match in _CANDIDATE.finditer(masked):
        if _is_card_number(match.group()):
            pieces += [text[last : match.start()], REDACTED]
            last = match.end()
    return "".join([*pieces, text[last:]])
