"""Who asks for an operation, and the roles that allow it."""

from __future__ import annotations

from dataclasses import dataclass

ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    """Who asks for an operation: the name recorded with it, and the roles it holds.

    Refunds need the ``admin`` role. payment-cli's operator (``--operator``, else the OS user)
    is an admin; a host app maps its own users and permissions onto an Actor.
    """

    name: str
    roles: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(self.roles))

    @classmethod
    def admin(cls, name: str) -> Actor:
        """An actor holding the admin role."""
        return cls(name, frozenset({ADMIN}))

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles
