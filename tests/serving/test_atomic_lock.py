"""Many replicas taking one conversation's Redis lock at the same moment: one at a time, nobody lost.

Each "replica" is a thread with its own lock store and Redis connection (as separate `rasa run` processes
have), and each takes the lock of the same conversation over and over. Inside the lock it does a slow,
non-atomic read-modify-write of a counter, as the tracker store's save is for Rasa: if two replicas are
ever inside at once, an increment is lost and the overlap is seen. Rasa 3.6's stock RedisLockStore fails
this (duplicate tickets, locks deleted under a queued ticket: lost increments and LockError); see
serving/atomic_lock.py.
"""
from __future__ import annotations

import asyncio
import secrets
import threading
import time
from typing import List

import pytest
from rasa.core.lock_store import LockStore

from serving import stores
from tests.serving.test_stores import endpoint

REPLICAS = 4
TURNS_PER_REPLICA = 15
CONVERSATION = "shopper-burst"

pytestmark = pytest.mark.integration


def test_redis_lock_admits_one_replica_at_a_time_and_loses_no_turn(clean_env, redis_url: str) -> None:
    import redis

    prefix = f"shopassisttestatomic{secrets.token_hex(4)}"
    clean_env.setenv(stores.LOCK_STORE_URL_ENV, redis_url)
    clean_env.setenv(stores.LOCK_STORE_PREFIX_ENV, prefix)
    client = redis.Redis.from_url(redis_url)
    counter = f"{prefix}:counter"
    inside: List[int] = [0]
    overlaps: List[int] = []
    errors: List[BaseException] = []
    start = threading.Barrier(REPLICAS)

    def replica() -> None:
        store = LockStore.create(endpoint("lock_store"))
        own = redis.Redis.from_url(redis_url)

        async def turns() -> None:
            for _ in range(TURNS_PER_REPLICA):
                async with store.lock(CONVERSATION, lock_lifetime=30, wait_time_in_seconds=0.005):
                    inside[0] += 1
                    if inside[0] > 1:
                        overlaps.append(inside[0])
                    value = int(own.get(counter) or 0)
                    time.sleep(0.002)  # the window in which a second replica would overwrite the turn
                    own.set(counter, value + 1)
                    inside[0] -= 1

        try:
            start.wait()
            asyncio.run(turns())
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            own.close()

    threads = [threading.Thread(target=replica) for _ in range(REPLICAS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a replica never got the lock"
        assert not errors, errors
        assert not overlaps, f"{len(overlaps)} times two replicas held the lock at once"
        assert int(client.get(counter)) == REPLICAS * TURNS_PER_REPLICA
        assert client.get(f"{prefix}:lock:{CONVERSATION}") is None, "the lock was left behind"
    finally:
        for leftover in client.scan_iter(f"{prefix}:*"):
            client.delete(leftover)
        client.close()
