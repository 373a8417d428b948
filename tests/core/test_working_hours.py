"""Working hours: deadlines counted in a store's opening hours, on its own wall clock, across
weekends, holidays, lunch breaks, zones and daylight-saving changes. Plain functions, no
database; hypothesis runs derandomized and keeps no example database between runs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchflow.core.working_hours import (
    OpeningHours,
    deadline,
    format_week,
    is_open,
    parse_week,
    working_time_between,
)

WARSAW = ZoneInfo("Europe/Warsaw")
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
OFFICE = OpeningHours(parse_week("mon-fri 09:00-18:00"), time_zone="Europe/Warsaw")
LUNCH = OpeningHours(parse_week("mon-fri 09:00-13:00,14:00-18:00"), time_zone="Europe/Warsaw")


def warsaw(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    """A wall-clock time in Warsaw in 2026 (June by default: Monday 1, Friday 5, Sunday 7)."""
    return datetime(2026, month, day, hour, minute, tzinfo=WARSAW)


def night(text: str) -> OpeningHours:
    return OpeningHours(parse_week(text), time_zone="Europe/Warsaw")


# Deadlines


def test_a_deadline_across_a_weekend_resumes_on_monday() -> None:
    found = deadline(warsaw(5, 16), 4 * HOUR, OFFICE)
    assert found == warsaw(8, 11)
    assert found.tzinfo is UTC and found == datetime(2026, 6, 8, 9, tzinfo=UTC)


def test_a_holiday_does_not_count() -> None:
    hours = OpeningHours(OFFICE.week, frozenset({date(2026, 6, 8)}), "Europe/Warsaw")
    assert deadline(warsaw(5, 16), 4 * HOUR, hours) == warsaw(9, 11)
    assert working_time_between(warsaw(5, 16), warsaw(9, 11), hours) == 4 * HOUR


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (warsaw(2, 7), warsaw(2, 11)),  # Tuesday, before opening
        (warsaw(2, 19), warsaw(3, 11)),  # Tuesday, after closing
        (warsaw(7, 12), warsaw(8, 11)),  # Sunday, closed all day
        (warsaw(6, 23, 59), warsaw(8, 11)),  # Saturday night
    ],
)
def test_outside_hours_counting_begins_at_the_next_opening(
    start: datetime, expected: datetime
) -> None:
    assert deadline(start, 2 * HOUR, OFFICE) == expected


@pytest.mark.parametrize(
    ("start", "working", "expected"),
    [
        (warsaw(2, 12), 2 * HOUR, warsaw(2, 15)),
        (warsaw(2, 13, 30), HOUR, warsaw(2, 15)),  # starts in the break
        (warsaw(2, 12), 6 * HOUR, warsaw(3, 10)),  # 1 + 4 on Tuesday, 1 on Wednesday
        (warsaw(2, 12), HOUR, warsaw(2, 13)),  # the morning's closing, not 14:00
    ],
)
def test_a_lunch_break_does_not_count(
    start: datetime, working: timedelta, expected: datetime
) -> None:
    assert deadline(start, working, LUNCH) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (warsaw(2, 10, 17), warsaw(2, 10, 17)),  # open: the start itself
        (warsaw(2, 9), warsaw(2, 9)),  # the opening minute is open
        (warsaw(2, 7), warsaw(2, 9)),
        (warsaw(2, 18), warsaw(3, 9)),  # the closing minute is closed
        (warsaw(5, 18), warsaw(8, 9)),
    ],
)
def test_no_working_time_is_the_next_open_moment(start: datetime, expected: datetime) -> None:
    assert deadline(start, timedelta(0), OFFICE) == expected


def test_no_working_time_in_the_lunch_break_is_the_afternoon_opening() -> None:
    assert deadline(warsaw(2, 13), timedelta(0), LUNCH) == warsaw(2, 14)


def test_a_deadline_that_uses_up_the_day_is_the_closing_time() -> None:
    assert deadline(warsaw(2, 14), 4 * HOUR, OFFICE) == warsaw(2, 18)
    assert deadline(warsaw(2, 9), 9 * HOUR, OFFICE) == warsaw(2, 18)
    assert deadline(warsaw(2, 18), HOUR, OFFICE) == warsaw(3, 10)


def test_twenty_working_hours_span_days_and_a_weekend() -> None:
    assert deadline(warsaw(1, 9), 20 * HOUR, OFFICE) == warsaw(3, 11)  # 9 + 9 + 2
    assert deadline(warsaw(4, 10), 20 * HOUR, OFFICE) == warsaw(8, 12)  # 8 + 9 + 3


def test_the_store_zone_decides_not_the_start_zone() -> None:
    new_york = datetime(2026, 6, 5, 9, tzinfo=ZoneInfo("America/New_York"))  # Friday 15:00
    assert new_york == warsaw(5, 15)
    found = deadline(new_york, 5 * HOUR, OFFICE)
    assert found == warsaw(8, 11) and found.tzinfo is UTC
    tokyo = OpeningHours(parse_week("mon-fri 09:00-18:00"), time_zone="Asia/Tokyo")
    # 2026-06-05 00:00 UTC is Friday 09:00 in Tokyo.
    assert deadline(datetime(2026, 6, 5, tzinfo=UTC), 10 * HOUR, tokyo) == datetime(
        2026, 6, 8, 1, tzinfo=UTC
    )


def test_a_negative_duration_or_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        deadline(warsaw(2, 10), -MINUTE, OFFICE)
    with pytest.raises(ValueError, match="has no time zone"):
        deadline(datetime(2026, 6, 2, 10), HOUR, OFFICE)


def test_a_store_that_is_never_open_has_no_deadline() -> None:
    with pytest.raises(ValueError, match="never open"):
        deadline(warsaw(2, 10), HOUR, OpeningHours({}, time_zone="Europe/Warsaw"))
    week = parse_week("mon 09:00-10:00")
    hours = OpeningHours(week, mondays_from_june(120), "Europe/Warsaw")
    with pytest.raises(ValueError, match="never open"):
        deadline(warsaw(2, 10), HOUR, hours)
    # Closed for 300 days is long, but not never.
    hours = OpeningHours(week, mondays_from_june(44), "Europe/Warsaw")
    assert deadline(warsaw(2, 10), HOUR, hours) == datetime(2027, 4, 5, 10, tzinfo=WARSAW)


def mondays_from_june(count: int) -> frozenset[date]:
    return frozenset(date(2026, 6, 1) + timedelta(weeks=n) for n in range(count))


# Daylight saving in Warsaw, 2026: spring forward on 29 March (02:00 CET -> 03:00 CEST, at
# 01:00 UTC), fall back on 25 October (03:00 CEST -> 02:00 CET, at 01:00 UTC).


def test_spring_forward_shortens_an_interval_across_the_jump() -> None:
    hours = night("sun 01:00-04:00")
    saturday, monday = warsaw(28, 12, month=3), warsaw(30, 12, month=3)
    assert working_time_between(saturday, monday, hours) == 2 * HOUR
    assert deadline(saturday, 90 * MINUTE, hours) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert deadline(saturday, 90 * MINUTE, hours) == warsaw(29, 3, 30, month=3)  # 03:30 CEST
    assert deadline(saturday, 2 * HOUR, hours) == warsaw(29, 4, month=3)
    assert deadline(saturday, 3 * HOUR, hours) == warsaw(5, 2, month=4)  # the next Sunday


def test_fall_back_lengthens_an_interval_across_the_repeat() -> None:
    hours = night("sun 01:00-04:00")
    saturday, monday = warsaw(24, 12, month=10), warsaw(26, 12, month=10)
    assert working_time_between(saturday, monday, hours) == 4 * HOUR
    assert deadline(saturday, 90 * MINUTE, hours) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert deadline(saturday, 3 * HOUR, hours) == datetime(2026, 10, 25, 2, tzinfo=UTC)
    assert deadline(saturday, 3 * HOUR, hours).astimezone(WARSAW).hour == 3  # 03:00 CET
    assert deadline(saturday, 4 * HOUR, hours) == warsaw(25, 4, month=10)


def test_a_time_the_clock_skips_is_reached_at_the_jump() -> None:
    saturday, monday = warsaw(28, 12, month=3), warsaw(30, 12, month=3)
    opens_in_gap = night("sun 02:30-05:00")  # opens at 03:00 CEST, the jump
    assert working_time_between(saturday, monday, opens_in_gap) == 2 * HOUR
    assert deadline(saturday, timedelta(0), opens_in_gap) == datetime(2026, 3, 29, 1, tzinfo=UTC)
    closes_in_gap = night("sun 01:00-02:30")  # closes at the jump: 01:00-02:00 CET
    assert working_time_between(saturday, monday, closes_in_gap) == HOUR
    assert not is_open(datetime(2026, 3, 29, 1, 15, tzinfo=UTC), closes_in_gap)
    inside_gap = night("sun 02:15-02:45")  # the clock never shows it that day
    assert working_time_between(saturday, monday, inside_gap) == timedelta(0)
    assert deadline(saturday, timedelta(0), inside_gap) == warsaw(5, 2, 15, month=4)


def test_a_time_the_clock_shows_twice_is_reached_the_first_time() -> None:
    saturday, monday = warsaw(24, 12, month=10), warsaw(26, 12, month=10)
    first_0215, second_0215 = (datetime(2026, 10, 25, h, 15, tzinfo=UTC) for h in (0, 1))
    assert first_0215.astimezone(WARSAW).time() == second_0215.astimezone(WARSAW).time()
    closes_in_repeat = night("sun 01:00-02:30")  # closes at the first 02:30
    assert working_time_between(saturday, monday, closes_in_repeat) == 90 * MINUTE
    assert is_open(first_0215, closes_in_repeat)
    assert not is_open(second_0215, closes_in_repeat)
    opens_in_repeat = night("sun 02:30-04:00")  # opens at the first 02:30, open through it
    assert working_time_between(saturday, monday, opens_in_repeat) == 150 * MINUTE
    assert not is_open(first_0215, opens_in_repeat)
    assert is_open(second_0215, opens_in_repeat)


# is_open and working_time_between


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (warsaw(2, 9), True),
        (warsaw(2, 9) - timedelta(microseconds=1), False),
        (warsaw(2, 18) - timedelta(microseconds=1), True),
        (warsaw(2, 18), False),
        (warsaw(6, 12), False),  # Saturday
        (datetime(2026, 6, 2, 7, tzinfo=UTC), True),  # 09:00 in Warsaw
        (datetime(2026, 6, 2, 3, tzinfo=ZoneInfo("America/New_York")), True),  # 09:00
    ],
)
def test_is_open_on_the_boundaries(at: datetime, expected: bool) -> None:
    assert is_open(at, OFFICE) is expected


def test_is_open_is_closed_on_holidays_and_refuses_naive_times() -> None:
    hours = OpeningHours(OFFICE.week, frozenset({date(2026, 6, 2)}), "Europe/Warsaw")
    assert not is_open(warsaw(2, 12), hours)
    assert is_open(warsaw(3, 12), hours)
    with pytest.raises(ValueError, match="has no time zone"):
        is_open(datetime(2026, 6, 2, 12), OFFICE)


def test_working_time_between() -> None:
    assert working_time_between(warsaw(5, 16), warsaw(8, 11), OFFICE) == 4 * HOUR
    assert working_time_between(warsaw(2, 12), warsaw(2, 15), LUNCH) == 2 * HOUR
    assert working_time_between(warsaw(2, 12), warsaw(2, 11), OFFICE) == timedelta(0)
    assert working_time_between(warsaw(2, 12), warsaw(2, 12), OFFICE) == timedelta(0)
    new_york = datetime(2026, 6, 2, 5, tzinfo=ZoneInfo("America/New_York"))  # 11:00 Warsaw
    assert working_time_between(new_york, datetime(2026, 6, 2, 12, tzinfo=UTC), OFFICE) == (
        3 * HOUR
    )


# Reading and writing hours


def test_parse_week() -> None:
    assert parse_week("") == {} == parse_week(" ; ")
    nine, one, two, six = time(9), time(13), time(14), time(18)
    assert parse_week("mon-fri 09:00-18:00; sat 10:00-14:00") == {
        **{day: ((nine, six),) for day in range(5)},
        5: ((time(10), time(14)),),
    }
    assert parse_week("MON 9:00 - 13:00, 14:00-18:00") == {0: ((nine, one), (two, six))}
    assert parse_week("mon 14:00-18:00,09:00-13:00") == {0: ((nine, one), (two, six))}
    assert parse_week("mon, wed-thu 09:00-18:00") == {d: ((nine, six),) for d in (0, 2, 3)}
    assert parse_week("sun 09:00:30-18:00") == {6: ((time(9, 0, 30), six),)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fry 09:00-18:00", "'fry': not a day (mon, tue, wed, thu, fri, sat, sun)"),
        ("mon-fri 09:00-18:00; Sonday 10:00-12:00", "'Sonday': not a day"),
        ("mon 18:00-09:00", "'18:00-09:00': closes before it opens"),
        ("mon 09:00-09:00", "'09:00-09:00': closes when it opens"),
        ("mon 09:00-13:00,12:00-18:00",
         "'mon 09:00-13:00,12:00-18:00': 09:00-13:00 and 12:00-18:00 overlap"),
        ("mon-fri 09:00-18:00; wed 10:00-12:00", "'wed 10:00-12:00': wed is given twice"),
        ("mon-fri, wed 09:00-18:00", "wed is given twice"),
        ("fri-mon 09:00-18:00", "'fri-mon': runs backwards"),
        ("mon 25:00-26:00", "'25:00': not a time"),
        ("mon 09:00-24:00", "'24:00': not a time"),
        ("mon 9-18", "'9': not a time"),
        ("mon 09:00", "'09:00': not an interval"),
        ("mon-fri", "'mon-fri': no hours"),
        ("09:00-18:00", "'09:00-18:00': no days"),
    ],
)
def test_parse_week_names_the_bad_part(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_week(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mon-fri 09:00-18:00; sat 10:00-14:00",
        "mon 09:00-13:00,14:00-18:00; tue-sat 10:00-19:00",
        "mon 08:00-16:00; wed 08:00-16:00; sun 00:00-23:59",
        "sat-sun 10:00-14:00",
        "mon-sun 00:00-23:59",
    ],
)
def test_format_week_reads_back(text: str) -> None:
    assert format_week(parse_week(text)) == text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Mon-Tue 9:00-18:00 ; wed 09:00-18:00", "mon-wed 09:00-18:00"),
        ("sun 10:00-12:00; mon 08:00-09:00", "mon 08:00-09:00; sun 10:00-12:00"),
        ("mon,wed 10:00-12:00", "mon 10:00-12:00; wed 10:00-12:00"),
        ("fri 14:00-18:00,09:00-13:00;", "fri 09:00-13:00,14:00-18:00"),
    ],
)
def test_format_week_writes_the_compact_form(text: str, canonical: str) -> None:
    assert format_week(parse_week(text)) == canonical


def test_opening_hours_refuse_what_parse_week_would() -> None:
    with pytest.raises(ValueError, match="not a time zone"):
        OpeningHours({}, time_zone="Europe/Warsow")
    with pytest.raises(ValueError, match="not a weekday"):
        OpeningHours({7: ((time(9), time(18)),)})
    with pytest.raises(ValueError, match="not in order"):
        OpeningHours({0: ((time(14), time(18)), (time(9), time(13)))})
    with pytest.raises(ValueError, match="overlap"):
        OpeningHours({0: ((time(9), time(14)), (time(13), time(18)))})
    with pytest.raises(ValueError, match="closes before it opens"):
        OpeningHours({0: ((time(18), time(9)),)})
    assert OpeningHours({6: (), 0: ((time(9), time(18)),)}).week == {0: ((time(9), time(18)),)}


# Properties

DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=200)
# Zones with a one-hour change (both hemispheres; Santiago changes at midnight), a
# half-hour one (Lord Howe), none at all (Kolkata, UTC).
ZONES = ("Europe/Warsaw", "America/New_York", "America/Santiago", "Australia/Lord_Howe",
         "Asia/Kolkata", "UTC")
YEAR = datetime(2026, 1, 1, tzinfo=UTC)


@cache
def transitions(name: str) -> tuple[datetime, ...]:
    """The instants of 2026 when the zone's offset changes (all on whole minutes)."""
    tz, found, at = ZoneInfo(name), [], YEAR
    while at.year == 2026:
        if (at + HOUR).astimezone(tz).utcoffset() != at.astimezone(tz).utcoffset():
            minute = at
            while minute.astimezone(tz).utcoffset() == at.astimezone(tz).utcoffset():
                minute += MINUTE
            found.append(minute)
        at += HOUR
    return tuple(found)


@st.composite
def moments(draw: st.DrawFn, name: str) -> datetime:
    """A whole minute of 2026, often within a few days of one of the zone's changes."""
    near = transitions(name)
    if draw(st.booleans()) and near:
        return draw(st.sampled_from(near)) + draw(st.integers(-3 * 1440, 1440)) * MINUTE
    return YEAR + draw(st.integers(0, 364 * 1440)) * MINUTE


@st.composite
def day_hours(draw: st.DrawFn) -> tuple[tuple[time, time], ...]:
    """Up to three intervals on whole minutes, often in the small hours the changes use."""
    minute = st.integers(0, 1439) | st.integers(0, 240) | st.integers(1380, 1439)
    return paired(draw(st.sets(minute, max_size=6)))


def paired(minutes: set[int]) -> tuple[tuple[time, time], ...]:
    """Minutes of the day, in order, taken two by two as intervals (an odd last one left)."""
    ends = sorted(minutes)
    clock = [time(m // 60, m % 60) for m in ends[: len(ends) // 2 * 2]]
    return tuple(zip(clock[::2], clock[1::2], strict=True))


weeks = st.dictionaries(st.integers(0, 6), day_hours()).map(
    lambda week: {day: week[day] for day in sorted(week) if week[day]}
)


@st.composite
def stores(draw: st.DrawFn) -> tuple[OpeningHours, datetime]:
    """Hours that are open some time each week, and a start near some holidays."""
    name = draw(st.sampled_from(ZONES))
    start = draw(moments(name))
    week = draw(weeks.filter(bool))
    today = start.astimezone(ZoneInfo(name)).date()
    holidays = draw(st.frozensets(st.integers(-3, 20).map(lambda n: today + timedelta(n))))
    return OpeningHours(week, holidays, name), start


def open_minutes_a_week(hours: OpeningHours) -> int:
    return sum(
        (close.hour * 60 + close.minute) - (open_.hour * 60 + open_.minute)
        for intervals in hours.week.values()
        for open_, close in intervals
    )


@DETERMINISTIC
@given(week=weeks)
def test_parse_week_reads_format_week_back(week: dict[int, tuple[tuple[time, time], ...]]) -> None:
    assert parse_week(format_week(week)) == week


@DETERMINISTIC
@given(data=st.data(), store=stores())
def test_a_deadline_is_exactly_the_working_time_away(
    data: st.DataObject, store: tuple[OpeningHours, datetime]
) -> None:
    hours, start = store
    working = data.draw(st.integers(0, 3 * open_minutes_a_week(hours))) * MINUTE
    found = deadline(start, working, hours)
    assert found.tzinfo is UTC
    assert found >= start
    assert working_time_between(start, found, hours) == working
    if working:
        assert is_open(found - timedelta(microseconds=1), hours)
    else:
        assert is_open(found, hours)


@DETERMINISTIC
@given(data=st.data(), store=stores())
def test_a_deadline_grows_with_the_working_time(
    data: st.DataObject, store: tuple[OpeningHours, datetime]
) -> None:
    hours, start = store
    most = 3 * open_minutes_a_week(hours)
    shorter, longer = sorted(data.draw(st.integers(0, most)) * MINUTE for _ in range(2))
    assert start <= deadline(start, shorter, hours) <= deadline(start, longer, hours)


def open_by_the_clock(latest: datetime, hours: OpeningHours) -> bool:
    """The reference: open when the latest time the store's clock has shown so far (which,
    while the clock repeats an hour, is where it stood when it went back) is in an interval."""
    return latest.date() not in hours.holidays and any(
        opens <= latest.time() < closes for opens, closes in hours.week.get(latest.weekday(), ())
    )


@DETERMINISTIC
@given(data=st.data(), name=st.sampled_from(ZONES), week=weeks)
def test_open_time_is_what_the_wall_clock_shows_minute_by_minute(
    data: st.DataObject, name: str, week: dict[int, tuple[tuple[time, time], ...]]
) -> None:
    tz = ZoneInfo(name)
    length = data.draw(st.integers(1, 1440))
    start = data.draw(moments(name))
    across = data.draw(st.sampled_from([True, True, False]))
    if across and transitions(name):
        # A window across a change, and that day opening or closing within 90 minutes of it.
        change = data.draw(st.sampled_from(transitions(name)))
        start = change - data.draw(st.integers(0, length - 1)) * MINUTE
        after = change.astimezone(tz)
        near = st.integers(-90, 90).map(lambda n: after.hour * 60 + after.minute + n)
        ends = data.draw(st.sets(near.filter(lambda m: 0 <= m < 1440), min_size=2, max_size=4))
        week = {**week, after.weekday(): paired(ends)}
    today = start.astimezone(tz).date()
    holidays = data.draw(st.frozensets(st.sampled_from([today + timedelta(n) for n in (-1, 0, 1)])))
    hours = OpeningHours(week, holidays, name)
    # Walk from three hours before (longer than any hour a clock repeats), minute by minute.
    latest, minutes = None, []
    for n in range(-180, length):
        at = start + n * MINUTE
        wall = at.astimezone(tz).replace(tzinfo=None)
        latest = wall if latest is None or wall > latest else latest
        if n >= 0:
            minutes.append(open_by_the_clock(latest, hours))
    assert working_time_between(start, start + length * MINUTE, hours) == sum(minutes) * MINUTE
    changes = [n for n in range(1, length) if minutes[n] != minutes[n - 1]]
    samples = data.draw(st.lists(st.integers(0, length - 1), max_size=10))
    for n in {0, length - 1, *changes, *(c - 1 for c in changes), *samples}:
        assert is_open(start + n * MINUTE, hours) is minutes[n], start + n * MINUTE
    a, b = sorted(data.draw(st.integers(0, length)) for _ in range(2))
    assert working_time_between(start + a * MINUTE, start + b * MINUTE, hours) == (
        sum(minutes[a:b]) * MINUTE
    )
