"""A small in-memory "seen recently" set, used to drop redelivered webhook events."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Hashable


class RecentKeys:
    """Remembers keys for ``ttl_seconds``, holding at most ``max_entries`` of them.

    ``add`` is atomic with respect to the asyncio event loop (it never awaits), so two concurrent
    deliveries of the same event cannot both be accepted by one process. The set lives in the
    process's memory: it is lost on restart and not shared between replicas, which is fine for
    retries that normally reach the same, still-running server within minutes. When the set is
    full the oldest key is forgotten first.
    """

    def __init__(
        self, ttl_seconds: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds!r}")
        if max_entries <= 0:
            raise ValueError(f"max_entries must be positive, got {max_entries!r}")
        self.ttl_seconds = float(ttl_seconds)
        self.max_entries = int(max_entries)
        self._clock = clock
        self._expiry: OrderedDict[Hashable, float] = OrderedDict()

    def _evict(self, now: float) -> None:
        while self._expiry:
            key, expires_at = next(iter(self._expiry.items()))
            if expires_at > now and len(self._expiry) <= self.max_entries:
                break
            del self._expiry[key]

    def add(self, key: Hashable) -> bool:
        """Records ``key``; returns ``False`` when it was already seen within the TTL."""
        now = self._clock()
        self._evict(now)
        if key in self._expiry:
            return False
        self._expiry[key] = now + self.ttl_seconds
        self._evict(now)
        return True

    def __contains__(self, key: Hashable) -> bool:
        self._evict(self._clock())
        return key in self._expiry

    def __len__(self) -> int:
        self._evict(self._clock())
        return len(self._expiry)
