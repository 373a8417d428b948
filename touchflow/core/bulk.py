"""Inserting many rows of the hot path without the ORM's per-field work.

``bulk_create`` prepares every value of every row through its field (≈ 100 µs a row
of ten columns here), then PostgreSQL gets one ``UNNEST`` array per column, escaped
element by element in Python. For the dispatcher's rows, whose values are already
plain Python, PostgreSQL's ``COPY`` is the fastest way in; SQLite gets one prepared
single-row ``INSERT`` run with ``executemany``.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import signals
from django.db.models.base import ModelState
from django.db.models.expressions import DatabaseDefault


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


M = TypeVar("M", bound=models.Model)


def maker(model: type[M], *names: str) -> Callable[..., M]:
    """``make(*values)`` → an unsaved ``model`` with ``names`` (attnames) set to ``values``
    and every other field at its default. Django's keyword path looks every field up and
    calls its default, which cost more than the insert; even its positional path sets
    each field through ``setattr``. With no ``pre_init``/``post_init`` receivers on the
    model, ``Model.__init__`` does nothing else for unsaved positional values than a
    fresh ``ModelState`` and each attname in the instance's dict, so that is what this
    does (``tests/imports/test_repeated_cells.py`` holds the two equal)."""
    fields = model._meta.concrete_fields
    defaults = {f.attname: f.get_default() for f in fields if f.attname not in names}
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return lambda *values: model(**defaults, **dict(zip(names, values, strict=True)))
    template = {f.attname: defaults.get(f.attname) for f in fields}
    new = model.__new__

    def make(*values: Any) -> M:
        obj = new(model)
        state = template.copy()
        state.update(zip(names, values, strict=True))
        obj.__dict__.update(state, _state=ModelState())
        return obj

    return make


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys of ``model``'s table, for rows inserted with them.

    PostgreSQL hands them out from the table's sequence (safe beside other writers).
    SQLite continues after the highest id ever given (``sqlite_sequence``, or the
    table's highest id); the caller's transaction holds SQLite's write lock (IMMEDIATE),
    so no one else takes them meanwhile.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM {table} UNION ALL "
            "SELECT seq FROM sqlite_sequence WHERE name = %s)",
            [table],
        )
        start = (cursor.fetchone()[0] or 0) + 1
        return list(range(start, start + count))


def insert_rows(
    objs: Sequence[models.Model], *, with_pk: bool = False, encoded: Encoded | None = None
) -> None:
    """INSERT unsaved instances of one model with ``insert_many``: every concrete column
    (the primary key only ``with_pk``), minus those left to a database default."""
    if not objs:
        return
    model = type(objs[0])
    sample = objs[0]
    fields: list[Any] = [
        f
        for f in model._meta.concrete_fields
        if (with_pk or not f.primary_key)
        and not isinstance(getattr(sample, f.attname), DatabaseDefault)
    ]
    values = operator.attrgetter(*(f.attname for f in fields))
    insert_many(
        model._meta.db_table,
        [str(f.column) for f in fields],
        [values(o) for o in objs],
        json_columns=[str(f.column) for f in fields if isinstance(f, models.JSONField)],
        datetime_columns=[str(f.column) for f in fields if isinstance(f, models.DateTimeField)],
        encoded=encoded,
    )
