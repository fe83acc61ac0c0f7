"""A database error never carries the statement's parameters (session tokens, bcrypt hashes, stored answers).

Before: SQLAlchemy writes ``[parameters: (...)]`` into every DBAPI error's text, and Ballast logs such errors
with ``log.exception`` (an unhandled request error, a failed idempotent-answer store, a failed security record):
a database hiccup during a log-in put that log-in's session token and password hash into the process log.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from backend.services.wiring import Services

SECRET = "r:0123456789abcdef-secret-parameter"


async def test_a_failed_statement_names_no_parameter(services: Services) -> None:
    store: Any = services.db.store
    engines = [store.engine, store._reader]  # the writers' pool and the readers' (both engines have both)
    for engine in engines:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(sa.text("SELECT :token AS t FROM no_such_table"), {"token": SECRET})
        assert SECRET not in str(raised.value)
        assert "no_such_table" in str(raised.value)  # the error still says what failed
