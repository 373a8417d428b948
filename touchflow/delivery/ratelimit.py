"""How fast each provider account (and each deployment-wide channel) may be sent to.

Every rate-limited thing has a key (``account:12``, ``channel:sms``: a route's key,
``channels.base.Route``) and a rate in messages per second. The dispatcher asks
``acquire(key, rate, want)`` before letting messages go and sends only as many as it was
granted; the rest stay queued for a later turn (``wait`` says how long). A 429 with
``Retry-After`` calls ``backoff``: no grants for that key until then, for every worker.

The pacing is GCRA (the "generic cell rate algorithm", a token bucket kept as one
timestamp): each key has a theoretical arrival time ``tat`` — when the next message
would be due if messages went out exactly 1/rate apart. A grant of n moves it n/rate
later; a grant is allowed while ``tat`` stays within ``burst/rate`` of now. The burst is
small (``burst_for``), so grants come spaced out, never in a clump: at 30/s no second
ever holds more than 31 grants, however many workers ask.

On PostgreSQL the state is a row per key (``delivery.RateBucket``) read and written by
one UPDATE … RETURNING on the database's own clock, so workers on several machines
agree without a new server. On SQLite (one worker) it lives in the process, on an
injected monotonic clock. Both run the same arithmetic (``grant`` / ``wait_for``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from django.db import connection

UNLIMITED = math.inf
# Tokens of slack for floating-point rounding: with it, a grant due at exactly this
# instant is not refused because 47 came out as 46.99999999. A millionth of a message.
EPSILON = 1e-6


class RateLimiter(Protocol):
    def acquire(self, key: str, rate: float, want: int) -> int:
        """Grant up to ``want`` sends for ``key`` now, at ``rate`` messages a second.
        Never blocks; returns 0..want. An unlimited rate (``math.inf``) grants all
        unless the key is backing off."""
        ...

    def backoff(self, key: str, seconds: float) -> None:
        """A 429 with Retry-After: no grants for ``key`` for ``seconds``, for every
        worker (a later, shorter backoff never shortens an earlier one)."""
        ...

    def wait(self, key: str, rate: float) -> float:
        """Seconds until a grant for ``key`` would be possible (0: now)."""
        ...


def burst_for(rate: float) -> float:
    """How many sends may go at once after a quiet spell: 5% of a second's worth, at
    least one. Small on purpose: a provider counting per second (or per 1/10 s) sees
    an even stream, not a clump followed by a gap."""
    return max(1.0, rate * 0.05)


@dataclass
class Bucket:
    tat: float = -math.inf  # the theoretical arrival time (seconds on the limiter's clock)
    blocked_until: float = -math.inf


def grant(bucket: Bucket, now: float, rate: float, want: int) -> int:
    """How many of ``want`` may go at ``now``; moves ``bucket.tat`` by as many."""
    if want <= 0 or now < bucket.blocked_until:
        return 0
    if math.isinf(rate):
        return want
    start = max(bucket.tat, now)
    # n grants fit while start + n/rate stays within burst/rate of now.
    n = min(want, math.floor(burst_for(rate) - (start - now) * rate + EPSILON))
    if n <= 0:
        return 0
    bucket.tat = start + n / rate
    return n


def wait_for(bucket: Bucket, now: float, rate: float) -> float:
    """Seconds from ``now`` until ``grant`` would give at least one."""
    blocked = bucket.blocked_until - now
    if math.isinf(rate):
        return max(0.0, blocked)
    paced = bucket.tat - (burst_for(rate) - 1.0 + EPSILON) / rate - now
    return max(0.0, blocked, paced)


def _check(rate: float) -> None:
    if not rate > 0:  # also refuses NaN
        raise ValueError(f"rate: must be more than zero messages a second, not {rate!r}")


class LocalLimiter:
    """In-process limits (SQLite: one worker). Thread-safe; the clock is injected so
    tests drive it."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._now = monotonic
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, key: str) -> Bucket:
        return self._buckets.setdefault(key, Bucket())

    def acquire(self, key: str, rate: float, want: int) -> int:
        _check(rate)
        with self._lock:
            return grant(self._bucket(key), self._now(), rate, want)

    def backoff(self, key: str, seconds: float) -> None:
        with self._lock:
            bucket = self._bucket(key)
            bucket.blocked_until = max(bucket.blocked_until, self._now() + max(seconds, 0.0))

    def wait(self, key: str, rate: float) -> float:
        _check(rate)
        with self._lock:
            return wait_for(self._bucket(key), self._now(), rate)


# -- PostgreSQL ------------------------------------------------------------------------
# Seconds since the epoch on the database's clock: clock_timestamp(), not now(), which
# is frozen at the start of the transaction. Every worker on every machine reads the
# same clock, so their grants interleave correctly.
_NOW = "(SELECT extract(epoch FROM clock_timestamp())::float8 AS now) AS c"

# The grant of ``grant`` in SQL. Written inline (twice) because SET may only see the old
# row: both the count and the new tat are computed from the row as it was. Under
# concurrency the second UPDATE waits for the first's row lock, then re-evaluates these
# expressions on the row the first one wrote (READ COMMITTED re-check), so two workers
# never spend the same slot. ``c.now`` was read before that wait, so it can only be
# early, which grants less, never more.
_N = """CASE WHEN r.blocked_until > c.now THEN 0 ELSE LEAST(%(want)s, GREATEST(0, floor(
    %(burst)s - (GREATEST(r.tat, c.now) - c.now) * %(rate)s + %(epsilon)s
)))::int END"""

ACQUIRE = f"""
UPDATE delivery_ratebucket AS r
SET granted = {_N},
    tat = CASE WHEN {_N} > 0
               THEN GREATEST(r.tat, c.now) + {_N} / %(rate)s ELSE r.tat END
FROM {_NOW}
WHERE r.key = %(key)s
RETURNING r.granted
"""

# An unlimited key is only ever held back by a backoff: a read, no write.
BLOCKED = f"""
SELECT r.blocked_until > c.now FROM delivery_ratebucket AS r, {_NOW} WHERE r.key = %(key)s
"""

CREATE = """
INSERT INTO delivery_ratebucket (key, tat, blocked_until, granted)
VALUES (%(key)s, 0, 0, 0) ON CONFLICT (key) DO NOTHING
"""

BACKOFF = f"""
INSERT INTO delivery_ratebucket AS r (key, tat, blocked_until, granted)
SELECT %(key)s, 0, c.now + %(seconds)s, 0 FROM {_NOW}
ON CONFLICT (key) DO UPDATE
SET blocked_until = GREATEST(r.blocked_until, EXCLUDED.blocked_until)
"""

WAIT = f"""
SELECT GREATEST(0, r.blocked_until - c.now,
                r.tat - (%(burst)s - 1 + %(epsilon)s) / %(rate)s - c.now)
FROM delivery_ratebucket AS r, {_NOW} WHERE r.key = %(key)s
"""

WAIT_UNLIMITED = f"""
SELECT GREATEST(0, r.blocked_until - c.now)
FROM delivery_ratebucket AS r, {_NOW} WHERE r.key = %(key)s
"""


class DatabaseLimiter:
    """Limits shared by every worker through one row per key in PostgreSQL.

    Each call is one short statement on the caller's connection. Call it outside a
    transaction (the dispatcher's main loop between its claim and its write-back):
    inside one, the key's row would stay locked until that transaction ends, and
    every other worker asking for the same key would wait for it.
    """

    def acquire(self, key: str, rate: float, want: int) -> int:
        _check(rate)
        if want <= 0:
            return 0
        if math.isinf(rate):
            with connection.cursor() as cursor:
                cursor.execute(BLOCKED, {"key": key})
                row = cursor.fetchone()
            return 0 if row is not None and row[0] else want
        params: dict[str, str | float] = {
            "key": key, "rate": float(rate), "want": want, "burst": burst_for(rate),
            "epsilon": EPSILON,
        }
        with connection.cursor() as cursor:
            cursor.execute(ACQUIRE, params)
            row = cursor.fetchone()
            if row is None:  # the key's first use: make its row, then ask again
                cursor.execute(CREATE, params)
                cursor.execute(ACQUIRE, params)
                row = cursor.fetchone()
        return int(row[0]) if row is not None else 0

    def backoff(self, key: str, seconds: float) -> None:
        with connection.cursor() as cursor:
            cursor.execute(BACKOFF, {"key": key, "seconds": max(float(seconds), 0.0)})

    def wait(self, key: str, rate: float) -> float:
        _check(rate)
        sql = WAIT_UNLIMITED if math.isinf(rate) else WAIT
        params: dict[str, str | float] = {"key": key}
        if not math.isinf(rate):
            params.update(rate=float(rate), burst=burst_for(rate), epsilon=EPSILON)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return float(row[0]) if row is not None else 0.0


def for_database(monotonic: Callable[[], float] = time.monotonic) -> RateLimiter:
    """The limiter for this deployment's database: shared through PostgreSQL (its clock;
    ``monotonic`` unused), or in this process on SQLite (``monotonic``)."""
    if connection.vendor == "postgresql":
        return DatabaseLimiter()
    return LocalLimiter(monotonic)
