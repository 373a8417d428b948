"""Local-time rules: quiet hours and send windows in the customer's own time zone."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache


@lru_cache(maxsize=512)
def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _inside(t: time, start: time, end: time) -> bool:
    """Is ``t`` in [start, end)? A range whose end is before its start wraps midnight."""
    if start <= end:
        return start <= t < end
    return t >= start or t < end


def allowed(
    local: datetime, quiet: tuple[time, time] | None, window: tuple[time, time] | None
) -> bool:
    t = local.time().replace(second=0, microsecond=0)
    if quiet is not None and quiet[0] != quiet[1] and _inside(t, *quiet):
        return False
    return window is None or _inside(t, *window)


def at_local(day: date, clock_time: time, tz: zoneinfo.ZoneInfo) -> datetime:
    """The instant when the wall clock in ``tz`` shows ``clock_time`` on ``day``.

    A time that does not exist that day (the spring-forward gap) moves forward by the
    gap (02:30 becomes 03:30); an ambiguous one (autumn) is its first occurrence.
    Both follow from PEP 495's ``fold=0``.
    """
    return datetime.combine(day, clock_time).replace(tzinfo=tz, fold=0).astimezone(UTC)


def reached(day: date, clock_time: time, tz: zoneinfo.ZoneInfo) -> list[datetime]:
    """The instants (UTC, in order) at which the wall clock in ``tz`` reaches
    ``clock_time`` on ``day``: one on most days; two in the hour an autumn change repeats
    (the clock shows it twice); and when a spring change jumps over it, the instant of
    the jump (the first minute the clock shows a later time)."""
    naive = datetime.combine(day, clock_time)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return sorted({first, second})
    # In the gap: one reading lands before the jump, the other after it; the jump is the
    # first whole minute between them whose wall clock is past the time.
    low, high = min(first, second), max(first, second)
    minutes = int((high - low) / timedelta(minutes=1))
    lo, hi = 0, minutes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (low + timedelta(minutes=mid)).astimezone(tz).replace(tzinfo=None) > naive:
            hi = mid
        else:
            lo = mid
    return [low + timedelta(minutes=hi)]


# The two questions below are pure, and a worker asks each hundreds of times a step with
# the same arguments (every touch of a group judged at one moment; every next touch of a
# step scheduled from that moment): asked once, the answer is remembered.
@lru_cache(maxsize=4096)
def next_allowed(
    moment: datetime,
    tz_name: str,
    quiet: tuple[time, time] | None,
    window: tuple[time, time] | None = None,
) -> datetime:
    """The first instant at or after ``moment`` (to the minute) outside quiet hours and
    inside the window, both read on the customer's wall clock."""
    tz = zone(tz_name)
    local = moment.astimezone(tz)
    if allowed(local, quiet, window):
        return moment
    boundaries = [b for b in (quiet[1] if quiet else None, window[0] if window else None) if b]
    candidates = []
    for days in range(0, 3):
        day = local.date() + timedelta(days=days)
        for boundary in boundaries:
            for instant in reached(day, boundary, tz):
                if instant >= moment and allowed(instant.astimezone(tz), quiet, window):
                    candidates.append(instant)
    if not candidates:
        # Quiet hours cover the whole window: the rules leave no minute to send in.
        raise ValueError("quiet hours and the send window leave no allowed time")
    return min(candidates)


@lru_cache(maxsize=4096)
def next_clock_time(moment: datetime, tz_name: str, clock_time: time) -> datetime:
    """The first instant at or after ``moment`` when the customer's clock reaches
    ``clock_time`` (``reached``: on the night a change jumps over it, the jump)."""
    tz = zone(tz_name)
    local = moment.astimezone(tz)
    for days in range(0, 3):
        for instant in reached(local.date() + timedelta(days=days), clock_time, tz):
            if instant >= moment:
                return instant
    raise AssertionError("unreachable: a clock time recurs every day")
