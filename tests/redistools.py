"""A fresh key namespace on the local Redis for one test: tests running at once never collide,
and nothing is left behind."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

REDIS_URL = os.environ.get("MOOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@asynccontextmanager
async def redis_namespace() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A client of the local Redis and a fresh key prefix, whose keys are all removed afterwards."""
    client = aioredis.from_url(REDIS_URL)
    await client.ping()  # Redis down: the test fails here, loudly
    prefix = f"moot-test-{uuid.uuid4().hex[:10]}:"
    try:
        yield client, prefix
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
