"""Who is calling the example host app: a bearer token, looked up in a token table.

The app takes one callback, ``authenticate(token) -> Caller | None``; ``TokenTable`` is the
one shipped here. Replace it with your identity provider's check (a JWT's signature and
claims, a session store) by passing your own callback to ``create_app``: whatever it is, the
caller's user id and roles come from it, never from a header or body field the client sets.

The table is a JSON list, one entry per token; it holds the SHA-256 of each token, never the
token itself, so the file is not a secret a reader could replay::

    [
      {"sha256": "<sha256 of the token>", "user_id": "<uuid>"},
      {"sha256": "...", "user_id": "<uuid>", "roles": ["admin"], "name": "ada@support"}
    ]

``roles`` (default none) are payment_lib's: ``admin`` may refund and read anyone's payments.
``name`` (default the user id) is recorded with what the caller does, e.g. a refund's
``requested_by``. Make a digest with ``printf %s "$TOKEN" | sha256sum``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payment_lib import Actor, ConfigurationError

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the user every request of theirs acts for, and their roles."""

    user_id: str  # a UUID, as payment_lib's user ids are
    roles: frozenset[str] = frozenset()
    name: str = ""

    @property
    def actor(self) -> Actor:
        """The caller as payment_lib's ``Actor`` (who asks for a refund)."""
        return Actor(self.name or self.user_id, self.roles)

    @property
    def is_admin(self) -> bool:
        return self.actor.is_admin


Authenticate = Callable[[str], Caller | None]


class TokenTable:
    """``authenticate`` over a fixed table of token digests."""

    def __init__(self, callers: dict[bytes, Caller]) -> None:
        self._callers = tuple(callers.items())

    def __call__(self, token: str) -> Caller | None:
        """The caller holding ``token``, or None. Every entry is compared, in constant time,
        so how long this takes says nothing about which digests are in the table."""
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for known, caller in self._callers:
            if hmac.compare_digest(known, digest):
                found = caller
        return found

    @classmethod
    def from_entries(cls, entries: Any) -> TokenTable:
        """The table from parsed JSON; ConfigurationError names the first bad entry."""
        if not isinstance(entries, list):
            raise ConfigurationError("The token table must be a JSON list of entries.")
        callers: dict[bytes, Caller] = {}
        for number, entry in enumerate(entries, start=1):
            digest, caller = _entry(entry, f"Token table entry {number}")
            if digest in callers:
                raise ConfigurationError(f"Token table entry {number}: sha256 is listed twice.")
            callers[digest] = caller
        return cls(callers)

    @classmethod
    def from_file(cls, path: str | Path) -> TokenTable:
        """The table from a JSON file (see the module's docstring for its format)."""
        try:
            entries = json.loads(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"{path}: not JSON ({error.msg}).") from None
        return cls.from_entries(entries)


def _entry(entry: Any, where: str) -> tuple[bytes, Caller]:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: must be an object.")
    digest = entry.get("sha256")
    if not (isinstance(digest, str) and SHA256_HEX.fullmatch(digest)):
        raise ConfigurationError(f"{where}: sha256 must be 64 lowercase hex digits.")
    try:
        user_id = str(uuid.UUID(str(entry.get("user_id"))))
    except ValueError:
        raise ConfigurationError(f"{where}: user_id must be a UUID.") from None
    roles = entry.get("roles", [])
    if not (isinstance(roles, list) and all(isinstance(role, str) for role in roles)):
        raise ConfigurationError(f"{where}: roles must be a list of strings.")
    name = entry.get("name", user_id)
    if not (isinstance(name, str) and name):
        raise ConfigurationError(f"{where}: name must be a non-empty string.")
    return bytes.fromhex(digest), Caller(user_id, frozenset(roles), name)
