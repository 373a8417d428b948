"""Quiet hours, send windows and local send times as properties, across daylight-saving
changes: whatever the zone, the rules and the moment, ``next_allowed`` answers the first
minute a brute-force walk over the customer's wall clock finds, and ``next_clock_time``
the first time the clock shows the asked time. No database; hypothesis runs derandomized
(the same examples every run) and keeps no example database between runs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from touchflow.core.localtime import allowed, next_allowed, next_clock_time, zone

# Zones with a one-hour change (both hemispheres), a half-hour one (Lord Howe), a 45-minute
# offset with DST (Chatham), none at all (Kolkata, UTC).
ZONES = ("Europe/Warsaw", "America/New_York", "America/Santiago", "Australia/Lord_Howe",
         "Pacific/Chatham", "Asia/Kolkata", "UTC")
DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=300)
HORIZON = timedelta(days=3)


@cache
def transitions(name: str) -> tuple[datetime, ...]:
    """The instants of 2026 when the zone's offset changes (to the minute)."""
    tz, found = zone(name), []
    at = datetime(2026, 1, 1, tzinfo=UTC)
    while at.year == 2026:
        nxt = at + timedelta(hours=1)
        if nxt.astimezone(tz).utcoffset() != at.astimezone(tz).utcoffset():
            minute = at
            while minute.astimezone(tz).utcoffset() == at.astimezone(tz).utcoffset():
                minute += timedelta(minutes=1)
            found.append(minute)
        at = nxt
    return tuple(found)


@st.composite
def moments(draw: st.DrawFn, name: str) -> datetime:
    """Anywhere in 2026, or within two days of one of the zone's changes."""
    near = transitions(name)
    if near and draw(st.booleans()):
        base = draw(st.sampled_from(near))
        return base + timedelta(minutes=draw(st.integers(-2 * 1440, 2 * 1440)),
                                seconds=draw(st.integers(0, 59)))
    return draw(st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31),
                             timezones=st.just(UTC)))


clock_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 45, 59]))
spans = st.none() | st.tuples(clock_times, clock_times)


def first_allowed_by_walking(moment: datetime, name: str, quiet: tuple[time, time] | None,
                             window: tuple[time, time] | None) -> datetime | None:
    """The reference: ``moment`` itself, then every whole minute after it, read on the wall
    clock one by one."""
    tz = zone(name)
    if allowed(moment.astimezone(tz), quiet, window):
        return moment
    at = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while at < moment + HORIZON:
        if allowed(at.astimezone(tz), quiet, window):
            return at
        at += timedelta(minutes=1)
    return None


@DETERMINISTIC
@given(data=st.data(), name=st.sampled_from(ZONES), quiet=spans, window=spans)
def test_next_allowed_is_the_first_allowed_minute_on_the_wall_clock(
    data: st.DataObject, name: str, quiet: tuple[time, time] | None,
    window: tuple[time, time] | None,
) -> None:
    moment = data.draw(moments(name))
    expected = first_allowed_by_walking(moment, name, quiet, window)
    try:
        found = next_allowed(moment, name, quiet, window)
    except ValueError:
        assert expected is None, f"said no time is allowed, but {expected} is"
        return
    assert found == expected


@DETERMINISTIC
@given(data=st.data(), name=st.sampled_from(ZONES), at=clock_times)
def test_next_clock_time_is_the_first_time_the_wall_clock_shows_it(
    data: st.DataObject, name: str, at: time
) -> None:
    moment = data.draw(moments(name))
    tz = zone(name)
    found = next_clock_time(moment, name, at)
    assert found >= moment
    wall = found.astimezone(tz)
    if wall.time() != at:
        # The time does not exist that day (the clock jumped over it): the first minute
        # after the jump, no later.
        before = (found - timedelta(minutes=1)).astimezone(tz)
        assert before.time() < at < wall.time() or wall.date() != before.date()
    # No earlier day's occurrence was skipped.
    earlier = found - timedelta(days=1)
    assert earlier < moment or earlier.astimezone(tz).time() != at
