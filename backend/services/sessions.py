"""Session tokens -> Principals.

The identity layer (users, sessions, roles) plugs in here; until a token is
issued by it, no token resolves.
"""

from __future__ import annotations

from typing import Protocol

from backend.context import Principal


class SessionResolver(Protocol):
    async def principal_for(self, token: str) -> Principal | None:
        """The user Principal (with roles) of a live session token, or None."""


class NoSessions:
    """Resolves nothing: the server has no users yet."""

    async def principal_for(self, token: str) -> Principal | None:
        return None
