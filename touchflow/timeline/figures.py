"""The timeline folded into counts a dashboard can read (decision 0025).

Every timeline row is also counted here, in the transaction that writes it: ``record``
turns rows into counts per store, member of staff, local day, metric and keys, adds up
those of one call and appends them to ``FigureDelta``. Appending never waits for another
writer (a counter updated in place would: every till of a store on one row). ``fold``,
the worker's chore, moves the deltas into ``Figure`` in one statement; a reader adds the
deltas not yet folded (``read``), so a figure is current the moment its event commits.
``rebuild`` recounts everything from the timeline itself with the same ``counts_of``:
the figures are a projection of the event log, never a second truth.

What each metric's keys hold (k1, k2, k3, k4; a missing key is ""):

======================  ===================================================================
``visit``               class, contact capture, reason code, "return" (the customer had
                        visited the store before) or ""; staff: the seller
``visit_sale``          — (one per visit that ended in a purchase); staff: the seller
``purchase``            currency, chain, step (the chain and step credited with the sale,
                        ``delivery.credit``; "" for none); ``amount``: the sum of the
                        purchases' amounts
``touch``               chain, step, channel, outcome (sent, failed, dead, expired,
                        delivered, read, call_logged, …); staff: who logged a call
``notice``              —, —, channel, outcome (sent, dead)
``reply`` / ``stop``    chain (whose message it answered, ``delivery.credit``), —, channel,
                        how (a STOP's way: text, button, link, …)
``staff_reply``         —, —, channel; staff: who answered
``effort``              what (call, reply), whom (buyer, prospect; "" for rows written
                        before it was known); staff: who; ``amount``: minutes logged
``bounce``              —, —, —, hard or soft
``check_in``            mood, kind, via, answer (1–5, 1/0, or ""); staff: the seller
``check_in_category``   mood, category (one count per category the purchase or visit
                        had); staff: the seller
``escalation_opened``   reason; staff: the seller
``escalation_resolved`` resolution, overdue ("1"/"0"); staff: who resolved;
                        ``amount``: working minutes taken
``referral_made``,      state, via
``referred``
``review_click``        —
``enrolled``            chain
``left_flow``           chain, state, reason
``customer_created``    source
``consent``             purpose, granted ("1"/"0"), source
======================  ===================================================================
"""

from __future__ import annotations

import functools
import itertools
import logging
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from operator import itemgetter
from typing import Any

from django.db import connection, transaction

from touchflow.core import clock
from touchflow.core.bulk import insert_many
from touchflow.core.ttlcache import TTLCache
from touchflow.stores.models import Store
from touchflow.timeline.models import (
    EventKind,
    Figure,
    FigureDelta,
    FigureMonth,
    FigureWeek,
    FigureYear,
    TimelineEvent,
)

# A timeline row as ``record`` reads it: kind, at, store id, staff id, data.
Row = tuple[str, datetime, int | None, int | None, Mapping[str, Any]]
# One count: metric, staff id (0: none), k1, k2, k3, k4, n, amount.
Count = tuple[str, int, str, str, str, str, int, Decimal]
# The columns of both tables, in the order ``record`` and ``fold`` write them.
KEY_COLUMNS = ("day", "store_id", "staff_id", "metric", "k1", "k2", "k3", "k4")
COLUMNS = (*KEY_COLUMNS, "n", "amount")
# What a read gives: the grouped columns' values → (count, amount).
Counts = dict[tuple[Any, ...], tuple[int, Decimal]]

log = logging.getLogger(__name__)
_ZERO = Decimal(0)
_zones: TTLCache[int, tzinfo] = TTLCache()


# -- what a row counts ------------------------------------------------------------------


def counts_of(kind: str, staff_id: int | None, data: Mapping[str, Any]) -> list[Count]:
    """The counts one timeline row adds (none for the kinds nobody reads as a figure)."""
    staff = staff_id or 0
    rule = _RULES.get(kind)
    return rule(staff, data) if rule is not None else []


def _text(value: Any) -> str:
    return "" if value is None else str(value)[:64]


def _one(metric: str, staff: int, k1: Any = "", k2: Any = "", k3: Any = "", k4: Any = "",
         amount: Decimal = _ZERO) -> list[Count]:
    return [(metric, staff, _text(k1), _text(k2), _text(k3), _text(k4), 1, amount)]


def _visit(staff: int, d: Mapping[str, Any]) -> list[Count]:
    counts = _one("visit", staff, d.get("class"), d.get("contacts"), d.get("reason"),
                  "return" if d.get("again") else "")
    if d.get("bought"):
        counts += _one("visit_sale", staff)
    return counts


def _purchase(staff: int, d: Mapping[str, Any]) -> list[Count]:
    amount = d.get("amount")
    money = Decimal(amount) if amount not in (None, "", "None") else _ZERO
    return _one("purchase", 0, d.get("currency"), d.get("flow"), d.get("step"), amount=money)


def _touch(staff: int, d: Mapping[str, Any]) -> list[Count]:
    if "notice" in d:
        return _one("notice", 0, "", "", d.get("channel"), d.get("outcome"))
    counts = _one("touch", staff, d.get("flow"), d.get("step"), d.get("channel"),
                  d.get("outcome"))
    if d.get("outcome") == "call_logged":
        counts += _effort(staff, "call", d)
    return counts


def _message_in(staff: int, d: Mapping[str, Any]) -> list[Count]:
    if d.get("stop"):
        return _one("stop", 0, d.get("flow"), "", d.get("channel"), d.get("stop"))
    return _one("reply", 0, d.get("flow"), "", d.get("channel"))


def _message_out(staff: int, d: Mapping[str, Any]) -> list[Count]:
    if "notice" in d:
        return _one("notice", 0, "", "", d.get("channel"), "sent")
    return [*_one("staff_reply", staff, "", "", d.get("channel")),
            *_effort(staff, "reply", d)]


def _effort(staff: int, what: str, d: Mapping[str, Any]) -> list[Count]:
    """A person's effort on a customer (the 20% rule): on one who had bought, or not."""
    bought = d.get("bought")
    whom = "" if bought is None else "buyer" if bought else "prospect"
    minutes = Decimal(int(d.get("minutes") or 0))
    return _one("effort", staff, what, whom, amount=minutes)


def _bounce(staff: int, d: Mapping[str, Any]) -> list[Count]:
    return _one("bounce", 0, k4="hard" if d.get("hard") else "soft")


def _check_in(staff: int, d: Mapping[str, Any]) -> list[Count]:
    counts = _one("check_in", staff, d.get("mood"), d.get("kind"), d.get("via"), d.get("answer"))
    for category in dict.fromkeys(d.get("categories") or ()):
        counts += _one("check_in_category", staff, d.get("mood"), category)
    return counts


def _escalation_opened(staff: int, d: Mapping[str, Any]) -> list[Count]:
    return _one("escalation_opened", staff, d.get("reason"))


def _escalation_resolved(staff: int, d: Mapping[str, Any]) -> list[Count]:
    minutes = Decimal(int(d.get("working_minutes") or 0))
    return _one("escalation_resolved", staff, d.get("resolution"),
                "1" if d.get("overdue") else "0", amount=minutes)


def _referral(metric: str) -> _Rule:
    def rule(staff: int, d: Mapping[str, Any]) -> list[Count]:
        return _one(metric, 0, d.get("state"), d.get("via"))
    return rule


def _review_click(staff: int, d: Mapping[str, Any]) -> list[Count]:
    return _one("review_click", 0)


def _enrolled(staff: int, d: Mapping[str, Any]) -> list[Count]:
    return _one("enrolled", 0, d.get("flow"))


def _left_flow(staff: int, d: Mapping[str, Any]) -> list[Count]:
    return _one("left_flow", 0, d.get("flow"), d.get("state"), d.get("reason"))


def _customer_created(staff: int, d: Mapping[str, Any]) -> list[Count]:
    return _one("customer_created", staff, d.get("source"))


def _consent(staff: int, d: Mapping[str, Any]) -> list[Count]:
    return _one("consent", staff, d.get("purpose"), "1" if d.get("granted") else "0",
                d.get("source"))


_Rule = Callable[[int, Mapping[str, Any]], list[Count]]
_RULES: dict[str, _Rule] = {
    EventKind.VISIT: _visit,
    EventKind.PURCHASE: _purchase,
    EventKind.TOUCH: _touch,
    EventKind.MESSAGE_IN: _message_in,
    EventKind.MESSAGE_OUT: _message_out,
    EventKind.BOUNCE: _bounce,
    EventKind.CHECK_IN_ANSWER: _check_in,
    EventKind.ESCALATION_OPENED: _escalation_opened,
    EventKind.ESCALATION_RESOLVED: _escalation_resolved,
    EventKind.REFERRAL_MADE: _referral("referral_made"),
    EventKind.REFERRED: _referral("referred"),
    EventKind.REVIEW_CLICK: _review_click,
    EventKind.ENROLLED: _enrolled,
    EventKind.LEFT_FLOW: _left_flow,
    EventKind.CUSTOMER_CREATED: _customer_created,
    EventKind.CONSENT: _consent,
}


# -- writing and folding ----------------------------------------------------------------


def zone(store_id: int | None) -> tzinfo:
    if not store_id:
        return UTC
    return _zones.get(store_id, lambda: _zone_of(store_id))


def _zone_of(store_id: int) -> tzinfo:
    return _parse_zone(
        Store.objects.filter(pk=store_id).values_list("time_zone", flat=True).first())


def _parse_zone(name: str | None) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


# Counted from their own table, not from the timeline: a visit without a customer (most
# "grey" ones) has no timeline row (``funnel.visits`` counts every visit;
# ``visits.queries.figure_rows`` recounts them).
COUNTED_ELSEWHERE = frozenset({EventKind.VISIT.value})


def tally(rows: Iterable[Row], skip: frozenset[str] = COUNTED_ELSEWHERE,
          known: Mapping[int, str] | None = None) -> dict[tuple[Any, ...], list[Any]]:
    """The rows' counts added up by key (``KEY_COLUMNS``) → [n, amount]; rows of the
    kinds in ``skip`` are counted by another path. ``known``: store id → time zone name,
    for a caller that holds the store (no lookup)."""
    totals: dict[tuple[Any, ...], list[Any]] = {}
    # Looked up once per store and call.
    zones: dict[int | None, tzinfo] = {k: _parse_zone(v) for k, v in (known or {}).items()}
    for kind, at, store_id, staff_id, data in rows:
        if kind in skip:
            continue
        counts = counts_of(kind, staff_id, data)
        if not counts:
            continue
        where = zones.get(store_id)
        if where is None:
            where = zones[store_id] = zone(store_id)
        day = at.astimezone(where).date()
        for metric, staff, k1, k2, k3, k4, n, amount in counts:
            _add(totals, (day, store_id or 0, staff, metric, k1, k2, k3, k4), n, amount)
    return totals


def _add(totals: dict[tuple[Any, ...], list[Any]], key: tuple[Any, ...], n: int,
         amount: Decimal) -> None:
    total = totals.get(key)
    if total is None:
        totals[key] = [n, amount]
    else:
        total[0] += n
        total[1] += amount


def record(rows: Iterable[Row], skip: frozenset[str] = COUNTED_ELSEWHERE,
           known: Mapping[int, str] | None = None) -> None:
    """Count ``rows`` (written in the caller's transaction) as deltas."""
    totals = tally(rows, skip, known)
    if totals:
        _insert(FigureDelta._meta.db_table, totals)


def record_times(row: Row, times: int) -> None:
    """Count ``times`` rows like ``row`` at once (a segment's enrolments: the database
    wrote them by the thousand, one count row is all the figures need)."""
    record_repeated([(row, times)])


def record_repeated(rows: Iterable[tuple[Row, int]]) -> None:
    """Count each row as many times as it is paired with, in one statement: rows the
    database wrote itself, the same counts for many of them (a dispatcher step's
    touch rows: one kind of row per chain, step, channel and outcome)."""
    totals: dict[tuple[Any, ...], list[Any]] = {}
    for row, times in rows:
        if times:
            for key, (n, amount) in tally([row]).items():
                _add(totals, key, n * times, amount * times)
    if totals:
        _insert(FigureDelta._meta.db_table, totals)


def _insert(table: str, totals: dict[tuple[Any, ...], list[Any]]) -> None:
    insert_many(table, COLUMNS, [(key[0].isoformat(), *key[1:], n, amount)
                                 for key, (n, amount) in totals.items()])


def record_events(events: Sequence[TimelineEvent]) -> None:
    record((e.kind, e.at, e.store_id, e.staff_id, e.data) for e in events)


def fold() -> int:
    """Move every committed delta into ``Figure`` and its rollups (``ROLLUPS``);
    returns how many deltas it moved. One statement on PostgreSQL (the deltas it deletes
    are exactly those it adds, however writers commit meanwhile); on SQLite the first
    write holds the database's one write lock, so the delete that follows sees the same
    rows."""
    delta = FigureDelta._meta.db_table
    vendor = connection.vendor
    with transaction.atomic(), connection.cursor() as cursor:
        if vendor == "postgresql":
            upserts = ", ".join(f"{model._meta.model_name} AS "
                                f"({_upsert(model, 'moved', vendor)} RETURNING 1)"
                                for model in (Figure, *ROLLUPS))
            cursor.execute(f"WITH moved AS (DELETE FROM {delta} RETURNING *), {upserts} "
                           "SELECT (SELECT count(*) FROM moved)")
            return int(cursor.fetchone()[0])
        cursor.execute(f"SELECT max(id) FROM {delta}")
        last = cursor.fetchone()[0]
        if last is None:
            return 0
        source = f"(SELECT * FROM {delta} WHERE id <= {int(last)})"
        for model in (Figure, *ROLLUPS):
            cursor.execute(_upsert(model, source, vendor))
        cursor.execute(f"DELETE FROM {delta} WHERE id <= %s", [last])
        return int(cursor.rowcount)


Table = type[Figure] | type[FigureWeek] | type[FigureMonth] | type[FigureYear] | type[FigureDelta]
# The coarser figures a fold keeps beside the daily ones (decisions 0029, 0030).
ROLLUPS: tuple[type[FigureWeek] | type[FigureMonth] | type[FigureYear], ...] = (
    FigureWeek, FigureMonth, FigureYear)


def _upsert(model: Table, source: str, vendor: str) -> str:
    """Add the counts of ``source`` (a table or a subquery with the figure columns) into
    ``model``'s rows, a week or a month at a time for the rollups."""
    table = model._meta.db_table
    keys = ", ".join(KEY_COLUMNS)
    day = _start_of(model, "day", vendor)
    picked = ", ".join(day if c == "day" else c for c in KEY_COLUMNS)
    return (
        f"INSERT INTO {table} ({keys}, n, amount) "
        f"SELECT {picked}, sum(n), sum(amount) FROM {source} src WHERE true "
        f"GROUP BY {picked} "
        f"ON CONFLICT (store_id, metric, day, staff_id, k1, k2, k3, k4) DO UPDATE SET "
        f"n = {table}.n + excluded.n, amount = {table}.amount + excluded.amount"
    )


def _start_of(model: Table, column: str, vendor: str) -> str:
    """SQL for the first day of ``column``'s week (a Monday), month or year, by
    ``model``."""
    postgres = vendor == "postgresql"
    if model is FigureYear:
        return (f"date_trunc('year', {column})::date" if postgres
                else f"date({column}, 'start of year')")
    if model is FigureMonth:
        return (f"date_trunc('month', {column})::date" if postgres
                else f"date({column}, 'start of month')")
    if model is FigureWeek:
        return (f"date_trunc('week', {column})::date" if postgres
                else f"date({column}, 'weekday 0', '-6 days')")
    return column


def refill_rollups() -> None:
    """Add the daily figures up into the weekly, monthly and yearly ones again, from
    scratch (a rebuild; a repair by hand, ``touchflow figures rollups``)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for model in ROLLUPS:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
            cursor.execute(_upsert(model, Figure._meta.db_table, connection.vendor))


def rebuild(elsewhere: Iterable[Row] = (), chunk: int = 20_000) -> int:
    """Recount every figure from the timeline, from scratch, and the rows of the kinds
    counted elsewhere (``COUNTED_ELSEWHERE``) from ``elsewhere``; returns the rows read.

    On PostgreSQL in one repeatable-read transaction: the deltas it deletes and the
    timeline it reads are the same snapshot, so an event committed meanwhile is counted
    once, by its own delta, at the next fold.
    """
    read = 0
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        FigureDelta.objects.all().delete()
        Figure.objects.all().delete()
        for model in ROLLUPS:
            model.objects.all().delete()
        totals: dict[tuple[Any, ...], list[Any]] = {}
        rows = TimelineEvent.objects.order_by().values_list(
            "kind", "at", "store_id", "staff_id", "data"
        ).iterator(chunk_size=chunk)
        batch: list[Row] = []
        for row in rows:
            batch.append(row)
            read += 1
            if len(batch) >= chunk:
                _merge(totals, tally(batch))
                batch = []
        _merge(totals, tally(batch))
        for part in _chunks(iter(elsewhere), chunk):
            _merge(totals, tally(part, skip=frozenset()))
            read += len(part)
        _insert(Figure._meta.db_table, totals)
        refill_rollups()
    return read


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while part := list(itertools.islice(rows, size)):
        yield part


def _merge(into: dict[tuple[Any, ...], list[Any]], more: dict[tuple[Any, ...], list[Any]]) -> None:
    for key, (n, amount) in more.items():
        _add(into, key, n, amount)


# -- reading ----------------------------------------------------------------------------


def totals(metric: str, *, stores: Iterable[int] | None, since: date, until: date,
           by: Sequence[str] = (), staff: int | None = None,
           **keys: str) -> dict[tuple[Any, ...], tuple[int, Decimal]]:
    """The ``metric``'s counts and amounts from ``since`` to ``until`` (local days, both
    included) in ``stores`` (None: every store), grouped by the columns ``by`` (of
    ``KEY_COLUMNS``, or ``WEEK``: a week's Monday) — folded figures and the deltas not
    yet folded alike. ``staff`` and ``keys`` (k1="grey", …) narrow it."""
    return grouped(metric, stores=stores, since=since, until=until, sets=[tuple(by)],
                   staff=staff, **keys)[tuple(by)]


def grouped(metric: str, *, stores: Iterable[int] | None, since: date, until: date,
            sets: Sequence[tuple[str, ...]], staff: int | None = None,
            **keys: str) -> dict[tuple[str, ...], Counts]:
    """``totals`` grouped several ways in one statement, one read of the rows: each of
    ``sets`` (tuples of ``KEY_COLUMNS``) → its counts, keyed in that tuple's order."""
    wanted = list(dict.fromkeys(sets))
    columns = list(dict.fromkeys(c for one in wanted for c in one))
    if not set(columns) <= {*KEY_COLUMNS, WEEK}:
        raise ValueError(f"by: only {', '.join(KEY_COLUMNS)} or {WEEK}")
    rows_sql, params = _rows_sql(metric, stores, since, until, columns, staff, keys)
    masks: dict[int, list[tuple[str, ...]]] = {}
    for one in wanted:  # ("k1", "k2") and ("k2", "k1") are one grouping, keyed twice
        masks.setdefault(sum(1 << (len(columns) - 1 - i) for i, c in enumerate(columns)
                             if c not in one), []).append(one)
    with connection.cursor() as cursor:
        cursor.execute(_grouping_sql(rows_sql, columns, list(masks), connection.vendor),
                       params)
        rows = cursor.fetchall()
    result: dict[tuple[str, ...], Counts] = {one: {} for one in wanted}
    # Where each grouping's columns sit in a row, worked out once, not once a row.
    picks = {mask: [(result[one], itemgetter(*[columns.index(c) for c in one])
                     if one else None, len(one)) for one in ones]
             for mask, ones in masks.items()}
    for row in rows:
        n, amount = row[-2], row[-1]
        if not n:
            continue
        total = (int(n), amount if isinstance(amount, Decimal) else Decimal(str(amount or 0)))
        for into, pick, width in picks[row[-3]]:
            key = () if pick is None else pick(row) if width > 1 else (pick(row),)
            into[key] = total
    return result


_KEYS = frozenset({"k1", "k2", "k3", "k4"})


def every_store() -> list[int]:
    """What a read of every store names: each store, and "none" (0), rather than no
    condition — the key index leads with the store, so a read of all stores is a range
    per store, not a scan of the whole table (at 10M figure rows: 50 ms against 880 ms,
    bench/RESULTS.md). A page reading many figures asks once (``dashboard.panels``)."""
    return [0, *Store.objects.values_list("pk", flat=True)]


def _rows_sql(metric: str, stores: Iterable[int] | None, since: date, until: date,
              columns: list[str], staff: int | None, keys: Mapping[str, str]
              ) -> tuple[str, list[Any]]:
    """The rows a read adds up: one ``UNION ALL`` part per span of ``_sources``, its
    counts negated where the span is taken away. One statement, so one snapshot: a fold
    committing between a read of the folded figures and one of the deltas would count
    its deltas twice or not at all. Written out rather than built by the ORM: a page
    makes ~80 parts, and compiling them took a third of its Python."""
    if not set(keys) <= _KEYS:
        raise ValueError(f"keys: only {', '.join(sorted(_KEYS))}")
    ids = every_store() if stores is None else list(stores)
    narrow = {"metric": metric, **({"staff_id": staff} if staff is not None else {}), **keys}
    where = " AND ".join([*(f"{column} = %s" for column in narrow),
                          f"store_id IN ({', '.join(['%s'] * len(ids))})" if ids else "false",
                          "day >= %s", "day <= %s"])
    finest = "day" if "day" in columns else WEEK if WEEK in columns else ""
    parts, params = [], []
    for model, first, last, sign in _sources(since, until, finest):
        # A weekly row is dated its Monday already; a day is turned into its Monday.
        monday = "day" if model is FigureWeek else _start_of(FigureWeek, "day", connection.vendor)
        counts = ["n", "amount"] if sign > 0 else ["-n AS n", "-amount AS amount"]
        picked = ", ".join([*(f"{monday} AS {WEEK}" if c == WEEK else c for c in columns),
                            *counts])
        parts.append(f"SELECT {picked} FROM {model._meta.db_table} WHERE {where}")
        params += [*narrow.values(), *ids, *map(connection.ops.adapt_datefield_value,
                                                (first, last))]
    return " UNION ALL ".join(parts), params


def _grouping_sql(rows_sql: str, columns: list[str], masks: list[int], vendor: str) -> str:
    """The rows added up per grouping (``masks``: bit set = that column not grouped,
    the first column the highest bit, as PostgreSQL's ``GROUPING`` gives it).

    The day rows are first added up by every column asked for (``combined``): 28 days of
    twenty stores' visits are 142k day rows but 10k distinct keys, and each grouping then
    hashes those (at 10M visits: 300 → 110 ms a read, bench/RESULTS.md)."""
    if not columns:
        return f"SELECT 0, sum(n), sum(amount) FROM ({rows_sql}) figures"
    names = ", ".join(columns)
    combined = (f"SELECT {names}, sum(n) AS n, sum(amount) AS amount FROM ({rows_sql}) day_rows "
                f"GROUP BY {names}")
    if len(masks) == 1:
        return f"SELECT {names}, {masks[0]}, n, amount FROM ({combined}) figures"
    if vendor == "postgresql":
        sets = ", ".join("(" + ", ".join(c for i, c in enumerate(columns)
                                         if not mask >> (len(columns) - 1 - i) & 1) + ")"
                         for mask in masks)
        return (f"SELECT {names}, GROUPING({names}), sum(n), sum(amount) "
                f"FROM ({combined}) figures GROUP BY GROUPING SETS ({sets})")
    selects = []  # SQLite has no grouping sets; it makes ``figures`` once for them all
    for mask in masks:
        kept = [c for i, c in enumerate(columns) if not mask >> (len(columns) - 1 - i) & 1]
        picked = ", ".join(c if c in kept else "NULL" for c in columns)
        selects.append(f"SELECT {picked}, {mask}, sum(n), sum(amount) FROM figures"
                       + (f" GROUP BY {', '.join(kept)}" if kept else ""))
    return f"WITH figures AS ({combined}) " + " UNION ALL ".join(selects)


# The tables a period is read from, coarsest first, with what a unit of each costs to
# read against a day: the rows a year, month or week holds for a store's keys, as many
# as a day's times this (the bench's twenty stores at 10M visits, decision 0030).
_LEVELS: tuple[tuple[Table, float], ...] = (
    (FigureYear, 3.0), (FigureMonth, 2.6), (FigureWeek, 2.0), (Figure, 1.0))
_WEEKS = [model for model, _cost in _LEVELS].index(FigureWeek)
# What a read groups by to have its counts a week at a time (the week's Monday).
WEEK = "week"
# A table, the first and last day read from it (whole units of it), added (1) or taken
# away (-1).
Span = tuple[Table, date, date, int]
_DAY = timedelta(days=1)


def _sources(since: date, until: date, finest: str = "") -> list[Span]:
    """Where the days from ``since`` to ``until`` are read (``spans``), each span its
    own part — one range of its table's key, read from the index alone — and the deltas
    not yet folded for every day, as the first and last value of each table's ``day``
    (a rollup's row is dated its unit's first day: its week's Monday, month's 1st, …).
    A read by day (``finest``) reads the days; a read by week, weeks and days (a week's
    days less those outside the period add up to its days inside, all under its
    Monday)."""
    if finest == "day":
        return [(Figure, since, until, 1), (FigureDelta, since, until, 1)]
    return [*((model, first, _unit_start(model, last), sign)
              for model, first, last, sign in spans(since, until, finest)),
            (FigureDelta, since, until, 1)]


def spans(since: date, until: date, finest: str = "") -> tuple[Span, ...]:
    """The cheapest way to add up the days from ``since`` to ``until`` out of whole
    years, months, weeks and days: a unit inside the period is added; a unit reaching
    past it is added when taking the days outside away again costs less than reading
    its inside (3–30 November: the month less its first two days, not three weeks and
    seven days; December 2025 to November 2026: 2026 less December, and December
    2025). Read by week (``finest``), only weeks and days."""
    return _cover(since, until, _WEEKS if finest == WEEK else 0)[1]


@functools.lru_cache(maxsize=4096)
def _cover(since: date, until: date, level: int) -> tuple[float, tuple[Span, ...]]:
    """``spans`` from ``_LEVELS[level]`` down, and what they cost."""
    if since > until:
        return 0.0, ()
    model, cost = _LEVELS[level]
    if model is Figure:
        return cost * ((until - since).days + 1), ((Figure, since, until, 1),)
    best = _cover(since, until, level + 1)
    try:
        # In this order, not as sets: a set of dates iterates in an order that changes
        # with the process's hash seed, and a tie would then be broken differently.
        firsts = dict.fromkeys([_unit_start(model, since), _unit_end(model, since - _DAY) + _DAY])
        lasts = dict.fromkeys([_unit_end(model, until), _unit_start(model, until + _DAY) - _DAY])
    except OverflowError:  # the first or last day a date can be: no unit around it
        return best
    for first in firsts:
        for last in lasts:
            if first > last:
                continue
            before = (_cover(since, first - _DAY, level + 1) if first >= since
                      else _negated(_cover(first, since - _DAY, level + 1)))
            after = (_cover(last + _DAY, until, level + 1) if last <= until
                     else _negated(_cover(until + _DAY, last, level + 1)))
            total = cost * _units(model, first, last) + before[0] + after[0]
            if total < best[0]:
                best = (total, ((model, first, last, 1), *before[1], *after[1]))
    return best


def _negated(cover: tuple[float, tuple[Span, ...]]) -> tuple[float, tuple[Span, ...]]:
    cost, parts = cover
    return cost, tuple((model, first, last, -sign) for model, first, last, sign in parts)


def _unit_start(model: Table, day: date) -> date:
    """The first day of ``day``'s year, month or week (a Monday), by ``model``."""
    if model is FigureYear:
        return day.replace(month=1, day=1)
    if model is FigureMonth:
        return day.replace(day=1)
    if model is FigureWeek:
        return day - timedelta(days=day.weekday())
    return day


def _unit_end(model: Table, day: date) -> date:
    if model is FigureYear:
        return day.replace(month=12, day=31)
    if model is FigureMonth:
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - _DAY
    if model is FigureWeek:
        return day + timedelta(days=6 - day.weekday())
    return day


def _units(model: Table, first: date, last: date) -> int:
    """How many years, months, weeks or days run from ``first`` to ``last`` (whole)."""
    if model is FigureYear:
        return last.year - first.year + 1
    if model is FigureMonth:
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return ((last - first).days + 1) // (7 if model is FigureWeek else 1)


def snapshot() -> dict[tuple[Any, ...], tuple[int, Decimal]]:
    """Every figure, folded and not, by its whole key: what a recount must equal."""
    result: dict[tuple[Any, ...], tuple[int, Decimal]] = {}
    for model in (Figure, FigureDelta):
        for *key, n, amount in model.objects.values_list(*KEY_COLUMNS, "n", "amount"):
            old_n, old_amount = result.get(tuple(key), (0, _ZERO))
            result[tuple(key)] = (old_n + n, old_amount + amount)
    return {k: v for k, v in result.items() if v[0]}


class Folding:
    """The worker's chore: ``fold`` every ``PERIOD`` (the dashboard adds the deltas not
    yet folded, so the period bounds only how many it adds). Never raises: a worker's
    deliveries must not stop because a chore failed."""

    PERIOD = timedelta(seconds=15)

    def __init__(self, now: Callable[[], datetime] = clock.now) -> None:
        self.now = now
        self.next_at: datetime | None = None

    def tick(self) -> int:
        now = self.now()
        if self.next_at is not None and now < self.next_at:
            return 0
        self.next_at = now + self.PERIOD
        try:
            return fold()
        except Exception:  # noqa: BLE001
            log.exception("folding the figures failed")
            return 0
