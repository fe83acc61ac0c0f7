"""Shared counters for the layers above services (agent_tools' run budgets): the Redis script runner of
``backend/storage/redis_scripts.py`` and the one error it raises, so no layer above storage imports the driver."""

from backend.storage.redis_scripts import REDIS_TIMEOUT, CountersUnreachable, RedisScripts

__all__ = ["REDIS_TIMEOUT", "CountersUnreachable", "RedisScripts"]
