"""Pub/sub channels between instances for the layers above services (LiveQuery's fan-out): the Redis channels of
``backend/storage/redis_channels.py``, so no layer above storage imports the driver."""

from backend.storage.redis_channels import RedisChannels

__all__ = ["RedisChannels"]
