"""Login throttling: too many failed sign-ins for a username or an address lock it out.

Failures are kept in Django's cache as timestamps, per username and per client
address, for one window. While a key holds ``limit`` failures inside the window,
sign-in is refused for it, whatever the password; the lock lifts as the oldest of
those failures leaves the window. Refused attempts are not counted, so a locked-out
person waits at most one window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.http import HttpRequest

from touchflow.core import clock

WINDOW = timedelta(minutes=15)
USERNAME_LIMIT = 5
# Staff of one shop usually share one address (the shop's Wi-Fi), so the address
# limit is looser than the per-username one.
ADDRESS_LIMIT = 20


@dataclass(frozen=True)
class _Key:
    cache_key: str
    limit: int


def _keys(username: str, address: str) -> list[_Key]:
    # Hashed, so any username is a valid cache key; case-folded, so "Sam" and "sam"
    # share one counter.
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    keys = [_Key(f"login-fail:addr:{digest(address)}", ADDRESS_LIMIT)]
    if username.strip():
        keys.append(_Key(f"login-fail:user:{digest(username.strip().casefold())}", USERNAME_LIMIT))
    return keys


def _recent(cache_key: str, now: float) -> list[float]:
    stamps = cache.get(cache_key) or []
    return [s for s in stamps if now - s < WINDOW.total_seconds()]


def client_address(request: HttpRequest) -> str:
    """The peer address. X-Forwarded-For is not trusted: anyone can send it."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def locked_for(username: str, address: str) -> timedelta | None:
    """How long sign-in stays refused for this username/address, or None if it is allowed."""
    now = clock.now().timestamp()
    longest = 0.0
    for key in _keys(username, address):
        stamps = _recent(key.cache_key, now)
        if len(stamps) >= key.limit:
            # Locked until enough failures age out to leave fewer than the limit.
            until = stamps[-key.limit] + WINDOW.total_seconds()
            longest = max(longest, until - now)
    return timedelta(seconds=longest) if longest > 0 else None


def record_failure(username: str, address: str) -> None:
    # The cache's get-then-set is not atomic; under a race a failure may go uncounted,
    # which only delays the lock by one attempt.
    now = clock.now().timestamp()
    timeout = int(WINDOW.total_seconds()) + 1
    for key in _keys(username, address):
        stamps = [*_recent(key.cache_key, now), now]
        cache.set(key.cache_key, stamps, timeout)


def record_success(username: str) -> None:
    """A correct password clears the username's counter (not the address's: it is shared)."""
    for key in _keys(username, ""):
        if key.cache_key.startswith("login-fail:user:"):
            cache.delete(key.cache_key)
