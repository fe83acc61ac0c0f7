"""Storage adapters: the only place that knows a database driver or boto3."""

from __future__ import annotations

import sqlite3

from backend.storage.protocols import Store


def create_store(url: str, pool_size: int = 32) -> Store:
    """The adapter for a SQLAlchemy URL (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``)."""
    if url.startswith("sqlite"):
        from backend.storage.sqlite import SqliteStore

        return SqliteStore(url)
    if url.startswith("postgresql"):
        from backend.storage.postgres import PostgresStore

        return PostgresStore(url, pool_size=pool_size)
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]!r} (use sqlite or postgresql)")


def is_not_a_database(error: BaseException) -> bool:
    """Whether the driver refused the file itself (corrupt, or not SQLite at all), not its folder or access."""
    return isinstance(error, sqlite3.DatabaseError)
