"""Inserting many rows of the hot path without the ORM's per-field work.

``bulk_create`` prepares every value of every row through its field (≈ 100 µs a row
of ten columns here), then PostgreSQL gets one ``UNNEST`` array per column, escaped
element by element in Python. For the dispatcher's rows, whose values are already
plain Python, PostgreSQL's ``COPY`` is the fastest way in; SQLite gets one prepared
single-row ``INSERT`` run with ``executemany``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection


@dataclass
class Encoded:
    """Text already made for values that repeat across the calls of one bulk job (an
    import's batches share their purchase times, "now" and item dicts): datetimes by
    value, JSON list elements by identity. Each element object is kept here with its
    text, so its id cannot pass to another object while the job runs."""

    times: dict[Any, Any] = field(default_factory=lambda: {None: None})
    elements: dict[int, tuple[Any, str]] = field(default_factory=dict)


def insert_many(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    json_columns: Sequence[str] = (),
    datetime_columns: Sequence[str] = (),
    encoded: Encoded | None = None,
) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order; aware datetimes in
    ``datetime_columns``, Python objects in ``json_columns``) into ``table``.
    ``encoded``: texts kept from earlier calls of the same job (default: this call's)."""
    if not rows:
        return
    prepared = _prepare(rows, columns, json_columns, datetime_columns, encoded or Encoded())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as stream:
                for values in prepared:
                    stream.write_row(values)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", prepared
            )


def _prepare(
    rows: Sequence[Sequence[Any]],
    columns: Sequence[str],
    json_columns: Sequence[str],
    datetime_columns: Sequence[str],
    encoded: Encoded,
) -> Sequence[Sequence[Any]]:
    """The rows with JSON as text and, on SQLite, datetimes as Django's text, each
    distinct value encoded once: a job repeats its own "now", a purchase's time on its
    timeline row and store link, and the same item dict on every line that reads the
    same. A list is encoded element by element, each element object once."""
    json_at = [i for i, c in enumerate(columns) if c in json_columns]
    # SQLite keeps datetimes as text in Django's own format; psycopg adapts them itself.
    sqlite = connection.vendor != "postgresql"
    time_at = [i for i, c in enumerate(columns) if c in datetime_columns] if sqlite else []
    if not (json_at or time_at):
        return rows
    adapt = connection.ops.adapt_datetimefield_value
    times, elements = encoded.times, encoded.elements

    def element(value: Any) -> str:
        known = elements.get(id(value))
        if known is None:
            known = elements[id(value)] = (value, _encode(value))
        return known[1]

    prepared = []
    for row in rows:
        values = list(row)
        for i in json_at:
            value = values[i]
            if isinstance(value, list):
                values[i] = "[" + ", ".join(map(element, value)) + "]"
            else:
                values[i] = _encode(value)
        for i in time_at:
            value = values[i]
            text = times.get(value)
            if text is None and value is not None:  # NULLs (most optional times) stay
                text = times[value] = adapt(value)
            values[i] = text
        prepared.append(values)
    return prepared


_encode = json.JSONEncoder(ensure_ascii=False).encode
