"""The dispatcher's own timestamp parameters are what Django would have written: its
short cut (``queries._dt``) must not change a stored value on either database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from touchflow.delivery.queries import _dt, _ints, _texts

WARSAW_SUMMER = timezone(timedelta(hours=2))


@pytest.mark.parametrize("value", [
    datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, 5, 123, tzinfo=WARSAW_SUMMER),  # microseconds, an offset
    datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 1, 1, 0, 0),  # naive: passed through as Django does
    None,
])
def test_timestamps_are_written_as_django_writes_them(value: datetime | None) -> None:
    assert _dt(value) == connection.ops.adapt_datetimefield_value(value)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="array parameters: PostgreSQL")
def test_array_parameters_written_as_text_read_back_as_given() -> None:
    """``lock_customers`` and ``mark_in_flight`` pass arrays as PostgreSQL's text for
    them (psycopg's per-element dumping cost a worker 16,000 instructions a touch)."""
    texts = ["sms", 'a"b', "c\\d", "x,y", "", "NULL", " sp ", "{}", "Zażółć"]
    ints = [1, 2**62, 3]
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::text[], %s::bigint[]", [_texts(texts), _ints(ints)])
        assert cursor.fetchone() == (texts, ints)
