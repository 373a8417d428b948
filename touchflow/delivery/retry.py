"""When to try a failed send again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded; ``Retry-After`` wins when longer."""

    max_attempts: int = 6
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=2)
    jitter: float = 0.25  # +/- this share of the delay

    def gives_up_after(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def delay(
        self, attempts: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> timedelta:
        """The wait before attempt ``attempts + 1``, after ``attempts`` failures."""
        exponent = max(attempts - 1, 0)
        raw = min(self.base.total_seconds() * (2**exponent), self.cap.total_seconds())
        spread = raw * self.jitter
        seconds = raw + (rng or random).uniform(-spread, spread)
        if retry_after is not None:
            seconds = max(seconds, min(retry_after, self.cap.total_seconds()))
        return timedelta(seconds=max(seconds, 1.0))
