"""A small per-process cache for rows read on every request and changed rarely.

Each process re-reads an entry after ``TOUCHFLOW_CACHE_SECONDS``; a change made in
this process clears the cache at once, one made elsewhere is seen within that time.
Zero (the tests' setting) turns caching off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.conf import settings

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: dict[K, tuple[float, V]] = {}
        self._max = max_entries

    def get(self, key: K, load: Callable[[], V]) -> V:
        ttl = float(settings.TOUCHFLOW_CACHE_SECONDS)
        if ttl <= 0:
            return load()
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        value = load()
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (now, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
