"""The dispatcher's hot-path SQL, one named query per step, per database vendor.

Claiming and recording are set-shaped: one statement for a whole batch.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections

from touchflow.timeline.events import touch_insert_sql

TABLE = "delivery_touch"
CUSTOMER_TABLE = "customers_customer"


def _dt(value: datetime | None) -> Any:
    """A timestamp as the driver takes it: as it is for PostgreSQL; for SQLite the naive
    UTC text Django writes (``adapt_datetimefield_value``, without the settings and
    connection lookups it makes on each of the several calls a touch costs)."""
    if value is None or value.tzinfo is None or not _text_timestamps():
        return connection.ops.adapt_datetimefield_value(value)
    return str(value.astimezone(UTC).replace(tzinfo=None))


@cache
def _text_timestamps() -> bool:
    return connections[DEFAULT_DB_ALIAS].vendor == "sqlite"


def _iso(value: datetime | None, seen: dict[datetime, str] | None = None) -> str | None:
    """A timestamp inside a JSON parameter (PostgreSQL reads the offset back). ``seen``:
    the texts already made for a statement (most of a set's touches share a moment)."""
    if value is None:
        return None
    if seen is None:
        return value.isoformat()
    text = seen.get(value)
    if text is None:
        text = seen[value] = value.isoformat()
    return text


def _ints(values: Iterable[int]) -> str:
    """An array of integers as PostgreSQL's text for it ("{1,2,3}", made in one join:
    psycopg would dump and check each element in Python)."""
    return "{" + ",".join(map(str, values)) + "}"


def _texts(values: Iterable[str]) -> str:
    """An array of texts as PostgreSQL's text for it, each element quoted."""
    return "{" + ",".join(
        '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _one_of(column: str, ids: Collection[int]) -> tuple[str, list[Any]]:
    """``column`` in ``ids``: on PostgreSQL one array parameter written as its text
    ("{1,2,3}", made in one join: psycopg would dump and check each element); on SQLite
    a placeholder each."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", [_ints(ids)]
    if not ids:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _aware(value: Any) -> Any:
    """A timestamp read by plain SQL from SQLite (naive UTC, as Django writes it) as the
    ORM returns it: aware, in UTC. PostgreSQL's arrive aware already."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def _read(sql: str, params: list[Any], timestamps: tuple[int, ...]) -> list[tuple[Any, ...]]:
    """The rows of a hot-path read in plain SQL (the ORM's query building cost a few µs
    a touch on every claim and group), with the columns at ``timestamps`` aware."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    if connection.vendor == "postgresql" or not timestamps:
        return rows
    return [
        tuple(_aware(v) if i in timestamps else v for i, v in enumerate(row)) for row in rows
    ]


def claimed(ids: Collection[int]) -> list[tuple[Any, ...]]:
    """The claimed touches with their enrollment and customer columns, in due order:
    (id, customer_id, store_id, commercial, due_at, expires_at, state, channel,
    attempts, last_error, idempotency_key, reason, finished_at, provider_message_id,
    failed_channels, step_id, enrollment_id, enrollment state, end_reason, entered_at,
    flow_id, staff_id, customer name, language, time_zone, in_flight_at)."""
    where, params = _one_of("t.id", ids)
    return _read(
        "SELECT t.id, t.customer_id, t.store_id, t.commercial, t.due_at, t.expires_at, "
        "t.state, t.channel, t.attempts, t.last_error, t.idempotency_key, t.reason, "
        "t.finished_at, t.provider_message_id, t.failed_channels, t.step_id, "
        "t.enrollment_id, e.state, e.end_reason, e.entered_at, e.flow_id, e.staff_id, "
        f"c.name, c.language, c.time_zone, t.in_flight_at FROM {TABLE} t "
        "JOIN flows_enrollment e ON e.id = t.enrollment_id "
        f"JOIN customers_customer c ON c.id = t.customer_id WHERE {where} "
        "ORDER BY t.due_at, t.id",
        params, (4, 5, 12, 19, 25),
    )


def contact_points(customer_ids: Collection[int]) -> list[tuple[Any, ...]]:
    """(customer_id, kind, value, contact_consent, marketing_consent, network,
    undeliverable_at) of every contact point of these customers."""
    where, params = _one_of("customer_id", customer_ids)
    return _read(
        "SELECT customer_id, kind, value, contact_consent, marketing_consent, network, "
        f"undeliverable_at FROM customers_contactpoint WHERE {where}", params, (6,),
    )


def sends_of(customer_ids: Collection[int], since: datetime) -> list[tuple[Any, ...]]:
    """(id, customer_id, finished_at, in_flight_at, commercial) of these customers'
    touches sent (or uncertain) after ``since``, and of those in flight now."""
    where, params = _one_of("customer_id", customer_ids)
    return _read(
        f"SELECT id, customer_id, finished_at, in_flight_at, commercial FROM {TABLE} "
        "WHERE ((state IN ('sent', 'uncertain') AND finished_at > %s) "
        f"OR (state = 'queued' AND in_flight_at IS NOT NULL)) AND {where}",
        [_dt(since), *params], (2, 3),
    )


def last_purchases(customer_ids: Collection[int]) -> list[tuple[Any, ...]]:
    """(customer_id, the time of their last purchase) of these customers who bought."""
    where, params = _one_of("customer_id", customer_ids)
    rows = _read(f"SELECT customer_id, max(occurred_at) FROM purchases_purchase WHERE {where} "
                 "GROUP BY customer_id", params, (1,))
    # SQLite gives an aggregate of timestamps back as the text it stores.
    return [(c, _aware(datetime.fromisoformat(at)) if isinstance(at, str) else at)
            for c, at in rows]


def flow_stamps(flow_ids: Collection[int]) -> list[tuple[Any, ...]]:
    """(id, status, version, updated_at) of these chains: whether what a worker holds
    of them is still what they are (every change of a chain moves its ``updated_at``)."""
    where, params = _one_of("id", flow_ids)
    return _read(f"SELECT id, status, version, updated_at FROM flows_flow WHERE {where}",
                 params, (3,))


def commercial_held(customer_ids: Collection[int]) -> list[int]:
    """Which of these customers have their commercial messages held (aftercare)."""
    where, params = _one_of("id", customer_ids)
    return [row[0] for row in _read(
        f"SELECT id FROM {CUSTOMER_TABLE} WHERE commercial_held AND {where}", params, ())]


def claim(now: datetime, owner: str, lease_until: datetime, limit: int) -> list[int]:
    """Take up to ``limit`` due touches for ``owner``: queued, due, and in no one's hands
    (no lease, or a lease that ran out because its worker died). On PostgreSQL rows
    another worker is claiming are skipped, so any number of workers share the queue.

    Only the lease columns change: no index covers them, so PostgreSQL rewrites the row
    in place (a HOT update) instead of adding an entry to every index. The touch stays
    "queued" while a worker holds it; its live lease is what says it is being sent.
    """
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET lease_owner = %s, lease_until = %s "
            f"WHERE id IN (SELECT id FROM {TABLE} WHERE state = 'queued' AND due_at <= %s "
            "AND (lease_until IS NULL OR lease_until < %s) "
            f"ORDER BY due_at LIMIT %s{lock}) RETURNING id",
            [owner, _dt(lease_until), _dt(now), _dt(now), limit],
        )
        return [row[0] for row in cursor.fetchall()]


def renew(ids: Sequence[int], owner: str, lease_until: datetime) -> set[int]:
    """Extend ``owner``'s lease on those of ``ids`` it still holds; returns their ids.

    A touch missing from the answer was taken over (its lease ran out and another
    worker claimed it) or cancelled: this worker must not send it.
    """
    if not ids:
        return set()
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET lease_until = %s WHERE state = 'queued' AND lease_owner = %s "
            f"AND id IN ({marks}) RETURNING id",
            [_dt(lease_until), owner, *ids],
        )
        return {row[0] for row in cursor.fetchall()}


def lock_customers(customer_ids: Sequence[int]) -> None:
    """Serialise, until the transaction ends, every worker's judging of these customers'
    touches: two touches of one customer never pass the caps together (decision 0017).

    A transaction-scoped advisory lock per customer, taken in id order (no deadlock):
    no row is written, so no multixact and no dead tuple. SQLite has one writer at a
    time and needs none.
    """
    if connection.vendor != "postgresql" or not customer_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, k) FROM (SELECT DISTINCT "
            "(c %% 2147483647)::int AS k FROM unnest(%s::bigint[]) AS c ORDER BY 1) AS ids",
            [CUSTOMER_LOCKS, _ints(set(customer_ids))],
        )
        cursor.fetchall()


# The advisory-lock namespace of customers being judged (the first key of the pair).
CUSTOMER_LOCKS = 7_101


def mark_in_flight(
    sends: Sequence[tuple[int, str]], owner: str, at: datetime, lease_until: datetime
) -> set[int]:
    """Write, right before the requests leave, that these touches are in flight (and
    on which channel), renewing their lease; returns the ids ``owner`` still held.

    Only unindexed columns change, so PostgreSQL rewrites the rows in place. A touch
    claimed later with ``in_flight_at`` set was in flight when its worker stopped.
    """
    if not sends:
        return set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {TABLE} AS t SET in_flight_at = %s, lease_until = %s, channel = v.ch "
                "FROM unnest(%s::bigint[], %s::text[]) AS v(id, ch) "
                "WHERE t.id = v.id AND t.lease_owner = %s AND t.state = 'queued' RETURNING t.id",
                [_dt(at), _dt(lease_until), _ints([i for i, _c in sends]),
                 _texts([c for _i, c in sends]), owner],
            )
            return {row[0] for row in cursor.fetchall()}
        mine = held([i for i, _c in sends], owner)
        at_, until = _dt(at), _dt(lease_until)
        cursor.executemany(
            f"UPDATE {TABLE} SET in_flight_at = %s, lease_until = %s, channel = %s WHERE id = %s",
            [(at_, until, ch, i) for i, ch in sends if i in mine],
        )
        return mine


def note_waiting(ids: Sequence[int], owner: str, reason: str) -> None:
    """Say on touches ``owner`` holds why they wait in its hands (their account's rate
    limit): the queue pages show it. An unindexed column: a HOT update."""
    if not ids:
        return
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET reason = %s WHERE state = 'queued' AND lease_owner = %s "
            f"AND id IN ({marks})",
            [reason, owner, *ids],
        )


def release(ids: Sequence[int], owner: str) -> int:
    """Hand back touches ``owner`` claimed but did not start sending (a stopping
    worker): claimable again at once."""
    if not ids:
        return 0
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET lease_owner = '', lease_until = NULL WHERE state = 'queued' "
            f"AND lease_owner = %s AND in_flight_at IS NULL AND id IN ({marks})",
            [owner, *ids],
        )
        return int(cursor.rowcount)


@dataclass(slots=True)  # made per touch: a frozen one costs 3.5 times as much to make
class TouchUpdate:
    id: int
    state: str
    due_at: datetime
    channel: str
    attempts: int
    last_error: str
    reason: str
    finished_at: datetime | None
    provider_message_id: str
    failed_channels: str = ""


_COLUMNS = (
    "id",
    "state",
    "due_at",
    "channel",
    "attempts",
    "last_error",
    "reason",
    "finished_at",
    "provider_message_id",
    "failed_channels",
)
_PG_TYPES = (
    "bigint", "text", "timestamptz", "text", "int", "text", "text", "timestamptz", "text", "text",
)


def held(ids: Sequence[int], owner: str) -> set[int]:
    """Those of ``ids`` that ``owner`` still holds (still queued under its lease: not
    taken over, not cancelled).

    Read by primary key, then filtered: the planner cannot turn it into a scan
    driven by its (stale) guess of how many rows carry ``owner``.
    """
    if not ids:
        return set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT id FROM {TABLE} WHERE id = ANY(%s) AND lease_owner = %s "
                "AND state = 'queued'",
                [list(ids), owner],
            )
        else:
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(
                f"SELECT id FROM {TABLE} WHERE id IN ({marks}) AND lease_owner = %s "
                "AND state = 'queued'",
                [*ids, owner],
            )
        return {row[0] for row in cursor.fetchall()}


def _values(u: TouchUpdate, seen: dict[datetime, str] | None = None) -> list[Any]:
    """An outcome's ``_COLUMNS``, each text cut to its column's size; times as ISO text
    for PostgreSQL's JSON (``seen``: those already made), or as SQLite's parameters."""
    due, finished = ((_iso(u.due_at, seen), _iso(u.finished_at, seen)) if seen is not None
                     else (_dt(u.due_at), _dt(u.finished_at)))
    return [u.id, u.state, due, u.channel, u.attempts, u.last_error[:2000], u.reason,
            finished, u.provider_message_id[:200], u.failed_channels[:100]]


def _owned_update(returning: str) -> str:
    """PostgreSQL: write the outcomes of a relation ``v`` (``_COLUMNS``) to the touches
    ``owner`` (the statement's parameter after ``v``'s) still holds and that are still
    queued, hand them back, and return ``returning`` of each written."""
    sets = ", ".join(f"{c} = v.{c}" for c in _COLUMNS[1:])
    return (f"UPDATE {TABLE} AS t SET {sets}, lease_owner = '', lease_until = NULL, "
            "in_flight_at = NULL FROM v WHERE t.id = v.id AND t.lease_owner = %s "
            f"AND t.state = 'queued' RETURNING {returning}")


def record(updates: Sequence[TouchUpdate], owner: str) -> set[int]:
    """Write outcomes for touches ``owner`` still holds; returns the ids written.

    A touch whose lease another worker took over (or that was cancelled meanwhile) is
    left alone. On PostgreSQL the ownership test is part of the UPDATE, which locks and
    re-checks each row it writes; on SQLite (one writer at a time) a read inside the
    same write transaction decides.
    """
    if not updates:
        return set()
    sets = ", ".join(f"{c} = v.{c}" for c in _COLUMNS[1:])
    # The join is on the primary key. (With a VALUES list of known length and "AND
    # lease_owner = …", PostgreSQL once estimated one matching row from statistics taken
    # before the claim and joined a sequential scan to it: a minute for 10,000 rows.
    # A function scan is estimated at 100 rows, so the plan stays a nested loop over
    # the primary key, and the ownership test is a filter on the rows found.)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The batch as one JSON parameter that PostgreSQL unpacks itself: psycopg
            # then escapes one string, not a placeholder or array element per value
            # (each of which costs Python time on every round).
            seen: dict[datetime, str] = {}
            rows = json.dumps([_values(u, seen) for u in updates])
            fields = ", ".join(
                f"(v->>{i})::{t}" for i, t in enumerate(_PG_TYPES)
            )
            cursor.execute(
                f"WITH v ({', '.join(_COLUMNS)}) AS (SELECT {fields} "
                f"FROM jsonb_array_elements(%s::jsonb) AS v) {_owned_update('t.id')}",
                [rows, owner],
            )
        else:
            # SQLite has one writer at a time, and this transaction holds the write lock:
            # a plain read of what the owner still holds cannot race. (An ownership test
            # in the UPDATE makes SQLite build a Bloom filter over the whole table first:
            # 85 ms a round in a million rows.)
            mine = held([u.id for u in updates], owner)
            params: list[Any] = []
            for u in updates:
                if u.id in mine:
                    params.extend(_values(u))
            if not params:
                return set()
            row = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
            count = len(params) // len(_COLUMNS)
            cursor.execute(
                f"WITH v({', '.join(_COLUMNS)}) AS (VALUES {', '.join([row] * count)}) "
                f"UPDATE {TABLE} SET {sets}, lease_owner = '', lease_until = NULL, "
                "in_flight_at = NULL FROM v "
                f"WHERE {TABLE}.id = v.id RETURNING {TABLE}.id",
                params,
            )
        return {row[0] for row in cursor.fetchall()}


# What the timeline says of an outcome, besides the touch's own columns: at, outcome,
# error, chain, step (``timeline.events.touch_data``).
TouchEvent = tuple[datetime, str, str, str, str]
# The next step's touch an outcome queues: step id, commercial, due, expires.
Follow = tuple[int, bool, datetime, datetime]
_NO_EVENT = (None, None, None, None, None)
_NO_FOLLOW = (None, None, None, None)
_EXTRA_TYPES = ("timestamptz", "text", "text", "text", "text",
                "bigint", "boolean", "timestamptz", "timestamptz")
_EXTRA = ("at", "outcome", "error", "flow", "step",
          "next_step", "next_commercial", "next_due", "next_expires")


def record_all(
    updates: Sequence[TouchUpdate],
    events: Sequence[TouchEvent | None],
    follows: Sequence[Follow | None],
    owner: str,
    created_at: datetime,
) -> set[int]:
    """``record`` on PostgreSQL, and in the same statement each written outcome's
    timeline row (``events[i]``, built by ``timeline.events.touch_insert_sql``) and its
    next step's touch (``follows[i]``, due when the caller's rule says; a new
    idempotency key, made by the database). Only touches ``owner`` still holds get
    either: the rows come from the UPDATE's answer, as the Python path's did from
    ``record``'s. Returns the ids written."""
    if not updates:
        return set()
    seen: dict[datetime, str] = {}
    rows = json.dumps([
        [*_values(u, seen),
         *((_iso(e[0], seen), e[1], e[2], e[3], e[4]) if e is not None else _NO_EVENT),
         *((f[0], f[1], _iso(f[2], seen), _iso(f[3], seen)) if f is not None
           else _NO_FOLLOW)]
        for u, e, f in zip(updates, events, follows, strict=True)
    ])
    names = (*_COLUMNS, *_EXTRA)
    fields = ", ".join(f"(v->>{i})::{t}" for i, t in enumerate((*_PG_TYPES, *_EXTRA_TYPES)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v ({', '.join(names)}) AS (SELECT {fields} "
            "FROM jsonb_array_elements(%s::jsonb) AS v), "
            f"written AS ({_owned_update('t.id, t.customer_id, t.store_id, t.enrollment_id')}), "
            f"events AS ({touch_insert_sql()} FROM (SELECT w.customer_id, w.store_id, v.at, "
            "w.id AS touch, v.flow, v.step, v.channel, v.outcome, v.attempts AS attempt, "
            "v.reason, v.error FROM written AS w JOIN v ON v.id = w.id "
            "WHERE v.outcome IS NOT NULL) AS o), "
            f"follows AS (INSERT INTO {TABLE} ({_NEW_COLUMNS}) SELECT w.enrollment_id, "
            "v.next_step, w.customer_id, w.store_id, v.next_commercial, v.next_due, "
            "v.next_expires, replace(gen_random_uuid()::text, '-', ''), %s, "
            f"{_NEW_FIXED} FROM written AS w JOIN v ON v.id = w.id "
            "WHERE v.next_step IS NOT NULL ON CONFLICT DO NOTHING) "
            "SELECT id FROM written",
            [rows, owner, created_at],
        )
        return {row[0] for row in cursor.fetchall()}


@dataclass(slots=True)  # made per touch: a frozen one costs 3.5 times as much to make
class NewTouch:
    enrollment_id: int
    step_id: int
    customer_id: int
    store_id: int
    commercial: bool
    due_at: datetime
    expires_at: datetime
    idempotency_key: str


# A queued touch's columns, and the values of those after created_at every new one has.
_NEW_COLUMNS = (
    "enrollment_id, step_id, customer_id, store_id, commercial, due_at, expires_at, "
    "idempotency_key, created_at, round, state, channel, attempts, last_error, "
    "lease_owner, reason, provider_message_id, receipt, failed_channels"
)
_NEW_FIXED = "0, 'queued', '', 0, '', '', '', '', '', ''"


def insert_touches(touches: Sequence[NewTouch], created_at: datetime) -> None:
    """Queue the next steps' touches in one statement. A touch redone after a lost lease
    may schedule the same next step twice: the unique (enrollment, step, round) key
    keeps one."""
    if not touches:
        return
    fixed, columns = _NEW_FIXED, _NEW_COLUMNS
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            seen: dict[datetime, str] = {}
            rows = json.dumps([
                [t.enrollment_id, t.step_id, t.customer_id, t.store_id, t.commercial,
                 _iso(t.due_at, seen), _iso(t.expires_at, seen), t.idempotency_key]
                for t in touches
            ])
            cursor.execute(
                f"INSERT INTO {TABLE} ({columns}) SELECT (v->>0)::bigint, (v->>1)::bigint, "
                "(v->>2)::bigint, (v->>3)::bigint, (v->>4)::boolean, (v->>5)::timestamptz, "
                f"(v->>6)::timestamptz, v->>7, %s, {fixed} "
                "FROM jsonb_array_elements(%s::jsonb) AS v ON CONFLICT DO NOTHING",
                [created_at, rows],
            )
        else:
            cursor.executemany(
                f"INSERT INTO {TABLE} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
                f"{fixed}) ON CONFLICT DO NOTHING",
                [(t.enrollment_id, t.step_id, t.customer_id, t.store_id, t.commercial,
                  _dt(t.due_at), _dt(t.expires_at), t.idempotency_key, _dt(created_at))
                 for t in touches],
            )
