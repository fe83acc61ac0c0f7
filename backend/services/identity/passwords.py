"""Password hashing (bcrypt, as parse-server) and the password policy (pure but for the hash's CPU).

Parse Server hashes with bcryptjs at cost 10 (``$2a$``/``$2b$``), so hashes exported from
it verify here unchanged. bcrypt only reads the first 72 bytes; bcryptjs silently ignores
the rest, so we cut there too (the Python library refuses longer input instead).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import bcrypt

from backend.errors import ValidationFailed

BCRYPT_MAX_BYTES = 72
MAX_PASSWORD_LENGTH = 4096  # refuse absurd inputs before they reach bcrypt


def _secret(password: str) -> bytes:
    return password.encode("utf-8")[:BCRYPT_MAX_BYTES]


def hash_password_sync(password: str, rounds: int = 10) -> str:
    return bcrypt.hashpw(_secret(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password_sync(password: str, hashed: str | None) -> bool:
    if not hashed or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
        return False
    try:
        return bcrypt.checkpw(_secret(password), hashed.encode("ascii"))
    except ValueError:  # a damaged hash: no password matches it
        return False


class PreparedPassword(str):
    """A password hashed before its write opened: the ``_User`` guard stores ``hashed`` without hashing in the
    transaction. Only server code makes one; a JSON body can only hold plain strings."""

    hashed: str

    @classmethod
    async def of(cls, password: str, rounds: int) -> PreparedPassword:
        prepared = cls(password)
        prepared.hashed = await hash_password(password, rounds)
        return prepared


@cache
def _bcrypt_threads() -> ThreadPoolExecutor:
    """bcrypt's own threads, half the cores: a storm of log-ins queues here instead of taking every core
    from the requests that do not hash (the default pool would run up to cores + 4 hashes at once)."""
    return ThreadPoolExecutor(max(1, (os.cpu_count() or 2) // 2), thread_name_prefix="bcrypt")


async def hash_password(password: str, rounds: int = 10) -> str:
    """bcrypt in a worker thread: a hash costs tens of milliseconds of CPU."""
    return await asyncio.get_running_loop().run_in_executor(_bcrypt_threads(), hash_password_sync, password, rounds)


async def verify_password(password: str, hashed: str | None) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_bcrypt_threads(), verify_password_sync, password, hashed)


Validator = Callable[[str], bool]


@dataclass
class PasswordPolicy:
    """Parse Server's passwordPolicy: a pattern and/or a callback, no username inside, history."""

    pattern: str | None = None
    message: str | None = None
    validator: Validator | None = None  # set by the app (cloud code), like validatorCallback
    history: int = 0
    do_not_allow_username: bool = False

    def check(self, password: str, username: str | None) -> None:
        """Raise 142 (VALIDATION_ERROR) when the password breaks the policy."""
        problem = self.message or "Password does not meet the Password Policy requirements."
        if len(password) > MAX_PASSWORD_LENGTH:
            raise ValidationFailed(problem)
        if self.pattern is not None and not re.search(self.pattern, password):
            raise ValidationFailed(problem)
        if self.validator is not None and not self.validator(password):
            raise ValidationFailed(problem)
        if self.do_not_allow_username and username and username.lower() in password.lower():
            raise ValidationFailed("Password cannot contain your username.")

    async def check_history(self, password: str, current: str | None, previous: list[str]) -> None:
        """Parse refuses the current password and the last ``history`` ones (142)."""
        if self.history <= 0:
            return
        for hashed in [current, *previous[-self.history:]]:
            if hashed and await verify_password(password, hashed):
                raise ValidationFailed(
                    f"New password should not be the same as last {self.history} passwords."
                )
