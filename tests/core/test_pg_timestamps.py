"""PostgreSQL timestamps read by ``core.pg_timestamps`` are the values Django's own
loader gives, for every kind of text PostgreSQL may send."""

from __future__ import annotations

from datetime import UTC

import pytest
from django.conf import settings
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader

pytestmark = [
    pytest.mark.skipif("postgresql" not in settings.DATABASES["default"]["ENGINE"],
                       reason="PostgreSQL only"),
    pytest.mark.django_db,
]

LITERALS = [
    "2026-03-29 01:30:05.000123+00",
    "2026-03-29 01:30:05.000123+02",  # another offset: read in UTC all the same
    "2026-10-25 00:59:59.999999+00",
    "2026-01-01 00:00:00+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    None,
]


def read(sql: str, django_loader: bool) -> list[object]:
    with connection.cursor() as cursor:
        if django_loader:
            register_tzloader(UTC, cursor.cursor)
        cursor.execute(sql)
        return list(cursor.fetchone())


def test_the_fast_loader_is_in_use() -> None:
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader.__name__ == "UtcTimestampLoader"


@pytest.mark.parametrize("literal", LITERALS)
def test_each_timestamp_reads_as_django_reads_it(literal: str | None) -> None:
    sql = f"SELECT {'NULL' if literal is None else repr(literal)}::timestamptz"
    fast, django = read(sql, False), read(sql, True)
    assert fast == django
    assert [getattr(v, "tzinfo", None) for v in fast] == [
        getattr(v, "tzinfo", None) for v in django]


def test_infinity_fails_as_django_fails() -> None:
    errors = []
    for django_loader in (False, True):
        try:
            read("SELECT 'infinity'::timestamptz", django_loader)
        except Exception as exc:  # noqa: BLE001 - the same error either way
            errors.append(type(exc))
    assert len(errors) == 2 and errors[0] is errors[1]
