"""PostgreSQL timestamps read at C speed.

Django reads every ``timestamptz`` through its own loader, a Python subclass of
psycopg's pure-Python one (psycopg's compiled loader cannot be subclassed, and Django
needs the loader to carry its time zone): a regular expression and several ``int()``
calls per value, about 6 % of a delivery worker's time. With the session in UTC, as
Django sets it here, the text PostgreSQL sends ("2026-03-29 01:30:05.000123+00") is ISO
8601, which ``datetime.fromisoformat`` reads in C. Anything else — infinity, a year
past 9999, another offset — goes to Django's loader as before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from django.db.backends.signals import connection_created

ZERO = timedelta(0)


@cache
def _loader() -> type:
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class UtcTimestampLoader(BaseTzLoader):  # type: ignore[misc]
        timezone = UTC

        def load(self, data: Any) -> datetime:
            try:
                value = datetime.fromisoformat(bytes(data).decode())
            except ValueError:
                return super().load(data)  # type: ignore[no-any-return]
            if value.utcoffset() != ZERO:
                return super().load(data)  # type: ignore[no-any-return]
            return value

    return UtcTimestampLoader


def _use_fast_loader(sender: Any, connection: Any, **_kwargs: Any) -> None:
    if connection.vendor == "postgresql" and connection.timezone_name == "UTC":
        connection.connection.adapters.register_loader("timestamptz", _loader())


def register() -> None:
    connection_created.connect(_use_fast_loader, dispatch_uid="touchflow.pg_timestamps")
