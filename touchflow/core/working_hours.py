"""Working hours: a store's opening hours, and deadlines counted in them ("respond within 4
working hours").

The store's hours are read on its own wall clock. Each opening interval of a day becomes a
span of real time, [first instant the clock reaches the opening time, first instant it
reaches the closing time), and every duration here is real elapsed time summed over those
spans. Across a daylight-saving change that means:

- spring forward (the clock jumps over an hour): a time the clock skips is reached at the
  jump; 01:00-04:00 in Europe/Warsaw on the last Sunday of March is 2 real hours, and
  02:30-05:00 that day opens at the jump (03:00 after it);
- fall back (the clock shows an hour twice): a time in the repeated hour is reached on its
  first occurrence (``fold=0``); 01:00-04:00 on the last Sunday of October is 4 real hours,
  and 01:00-02:30 that day closes at the first 02:30 and stays closed through the repeat.
  Put another way: during the repeat the store stays as it was when the clock went back.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType

Intervals = tuple[tuple[time, time], ...]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# deadline() gives up after this many days in a row without open time.
SEARCH_DAYS = 400

_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class OpeningHours:
    """A store's week of opening hours, its holidays and its time zone (an IANA name).

    ``week`` maps a weekday (0 = Monday … 6 = Sunday) to sorted, non-overlapping half-open
    [open, close) pairs of naive times with close > open; a day missing or empty is closed,
    and so is every date in ``holidays`` (dates on the store's calendar). Invalid hours or
    an unknown zone raise ValueError.
    """

    week: Mapping[int, Intervals]
    holidays: frozenset[date] = frozenset()
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        for day, intervals in self.week.items():
            if day not in range(7):
                raise ValueError(f"{day!r}: not a weekday (0 = Monday … 6 = Sunday)")
            if tuple(sorted(intervals)) != tuple(intervals):
                where = f"{DAYS[day]} {_format_intervals(intervals)}"
                raise ValueError(f"{where!r}: not in order")
            _check_intervals(intervals, DAYS[day])
        week = {day: tuple(self.week[day]) for day in sorted(self.week) if self.week[day]}
        object.__setattr__(self, "week", MappingProxyType(week))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        _zone(self.time_zone)


def parse_week(text: str) -> dict[int, Intervals]:
    """Read hours written as "mon-fri 09:00-18:00; sat 10:00-14:00" or
    "mon 09:00-13:00,14:00-18:00; tue-sat 10:00-19:00"; raise ValueError naming the bad part.

    Parts are separated by ";", a part is days (names, ``mon-fri`` ranges, ``,`` between
    them) then intervals (``HH:MM-HH:MM``, ``,`` between them). Empty text is always closed.
    """
    week: dict[int, Intervals] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        digit = re.search(r"\d", part)
        if digit is None:
            raise ValueError(f"{part!r}: no hours (write e.g. 'mon-fri 09:00-18:00')")
        days_text, hours_text = part[: digit.start()].strip(), part[digit.start() :]
        if not days_text:
            raise ValueError(f"{part!r}: no days (write e.g. 'mon-fri {part}')")
        days = _parse_days(days_text)
        intervals = tuple(sorted(_parse_interval(i) for i in hours_text.split(",")))
        _check_intervals(intervals, part)
        for day in days:
            if day in week:
                raise ValueError(f"{part!r}: {DAYS[day]} is given twice")
            week[day] = intervals
    return dict(sorted(week.items()))


def format_week(week: Mapping[int, Intervals]) -> str:
    """The text parse_week reads back as ``week``, consecutive days with the same hours
    grouped: "mon-fri 09:00-18:00; sat 10:00-14:00"; "" when always closed."""
    parts: list[str] = []
    day = 0
    while day < 7:
        intervals = tuple(week.get(day, ()))
        last = day
        while last + 1 < 7 and tuple(week.get(last + 1, ())) == intervals:
            last += 1
        if intervals:
            days = DAYS[day] if last == day else f"{DAYS[day]}-{DAYS[last]}"
            parts.append(f"{days} {_format_intervals(intervals)}")
        day = last + 1
    return "; ".join(parts)


def is_open(at: datetime, hours: OpeningHours) -> bool:
    """Is the store open at the aware instant ``at`` (read on its wall clock, intervals
    half-open: open at the opening time, closed at the closing time)?"""
    instant = _utc(at, "at")
    local = instant.astimezone(_zone(hours.time_zone)).date()
    return any(
        opens <= instant < closes
        for day in _days(local - timedelta(days=1), local + timedelta(days=1))
        for opens, closes in _spans(day, hours)
    )


def deadline(start: datetime, working: timedelta, hours: OpeningHours) -> datetime:
    """The instant (in UTC) when ``working`` of open time has passed since the aware
    ``start``: closed time and holidays do not count, and a zero ``working`` is the next
    moment the store is open (``start`` itself when open). A deadline that uses up a span
    is its closing instant, not the next opening.

    Raises ValueError when ``working`` is negative, or the store is never open (no hours,
    or closed for SEARCH_DAYS days in a row).
    """
    begin = _utc(start, "start")
    if working < timedelta(0):
        raise ValueError(f"{working}: working time cannot be negative")
    if not hours.week:
        raise ValueError("the store is never open: it has no opening hours")
    left = working
    closed_since = begin.astimezone(_zone(hours.time_zone)).date()
    day = closed_since - timedelta(days=1)
    while day - closed_since <= timedelta(days=SEARCH_DAYS):
        for opens, closes in _spans(day, hours):
            if closes <= begin:
                continue
            opens = max(opens, begin)
            if left <= closes - opens:
                return opens + left
            left -= closes - opens
            closed_since = day + timedelta(days=1)
        day += timedelta(days=1)
    last = day - timedelta(days=1)
    raise ValueError(f"the store is never open from {closed_since} to {last}: no deadline")


def working_time_between(start: datetime, end: datetime, hours: OpeningHours) -> timedelta:
    """The open time between the aware instants ``start`` and ``end`` (zero when ``end`` is
    not after ``start``)."""
    begin, finish = _utc(start, "start"), _utc(end, "end")
    if finish <= begin:
        return timedelta(0)
    tz = _zone(hours.time_zone)
    first = begin.astimezone(tz).date() - timedelta(days=1)
    last = finish.astimezone(tz).date() + timedelta(days=1)
    total = timedelta(0)
    for day in _days(first, last):
        for opens, closes in _spans(day, hours):
            total += max(timedelta(0), min(closes, finish) - max(opens, begin))
    return total


def _spans(day: date, hours: OpeningHours) -> list[tuple[datetime, datetime]]:
    """The day's opening intervals as [open, close) spans of UTC instants, empty ones left
    out (a day the clock skips, or an interval inside a spring-forward gap)."""
    if day in hours.holidays:
        return []
    tz = _zone(hours.time_zone)
    spans = []
    for opens, closes in hours.week.get(day.weekday(), ()):
        span = (_reached(day, opens, tz), _reached(day, closes, tz))
        if span[0] < span[1]:
            spans.append(span)
    return spans


def _reached(day: date, clock_time: time, tz: zoneinfo.ZoneInfo) -> datetime:
    """The first instant (UTC) when the wall clock in ``tz`` shows ``clock_time`` on ``day``
    or later: the first occurrence (``fold=0``) of a time shown twice, the instant of the
    jump for a time the clock skips."""
    naive = datetime.combine(day, clock_time)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == naive:
        return first
    # Skipped: fold=0 and fold=1 read the time with the offsets on either side of the jump,
    # one instant before it and one after; bisect for the first whose clock is past it.
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(first, second), max(first, second)
    lo, hi = 0, (high - low) // _MICROSECOND
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(low + mid * _MICROSECOND, tz) > naive:
            hi = mid
        else:
            lo = mid
    return low + hi * _MICROSECOND


def _wall(instant: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _days(first: date, last: date) -> Iterator[date]:
    """Every date from ``first`` to ``last``, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _utc(moment: datetime, name: str) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"{name} {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r}: not a time zone (an IANA name like 'Europe/Warsaw')") from None


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for item in (i.strip() for i in text.split(",")):
        first, _, last = (end.strip() for end in item.partition("-"))
        start = _parse_day(first)
        stop = _parse_day(last) if last else start
        if stop < start:
            raise ValueError(f"{item!r}: runs backwards (write e.g. 'sat-sun, mon')")
        days.extend(range(start, stop + 1))
    return days


def _parse_day(text: str) -> int:
    try:
        return DAYS.index(text.lower())
    except ValueError:
        raise ValueError(f"{text!r}: not a day ({', '.join(DAYS)})") from None


def _parse_interval(text: str) -> tuple[time, time]:
    opens, dash, closes = (piece.strip() for piece in text.partition("-"))
    if not dash:
        raise ValueError(f"{text.strip()!r}: not an interval (write e.g. '09:00-18:00')")
    return _parse_time(opens), _parse_time(closes)


def _parse_time(text: str) -> time:
    match = _TIME.match(text)
    try:
        if match is None:
            raise ValueError
        hour, minute, second = (int(n) for n in match.groups(default="0"))
        return time(hour, minute, second)
    except ValueError:
        raise ValueError(f"{text!r}: not a time (write HH:MM, 00:00 to 23:59)") from None


def _check_intervals(intervals: Intervals, where: str) -> None:
    """Raise ValueError unless each interval closes after it opens and, in order, none
    overlaps the next; ``where`` names the part the error is in."""
    for opens, closes in intervals:
        if opens.tzinfo is not None or closes.tzinfo is not None:
            raise ValueError(f"{where!r}: opening hours are wall-clock times, with no zone")
        if closes <= opens:
            verb = "closes when" if closes == opens else "closes before"
            raise ValueError(f"{_format_intervals(((opens, closes),))!r}: {verb} it opens")
    for earlier, later in zip(intervals, intervals[1:], strict=False):
        if later[0] < earlier[1]:
            pair = f"{_format_intervals((earlier,))} and {_format_intervals((later,))}"
            raise ValueError(f"{where!r}: {pair} overlap")


def _format_intervals(intervals: Intervals) -> str:
    return ",".join(f"{_format_time(opens)}-{_format_time(closes)}" for opens, closes in intervals)


def _format_time(value: time) -> str:
    return value.isoformat("minutes" if not (value.second or value.microsecond) else "auto")
