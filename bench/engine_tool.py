"""The delivery-engine benchmark's steps that run inside the database under test.

Run as ``python -m bench.engine_tool COMMAND`` with TOUCHFLOW_DATABASE_URL set; each
command prints one JSON object:

- ``setup N``: a store without quiet hours or binding caps, a two-step chain (an SMS
  due at once, the next two days later), N customers with a consenting phone — written
  with set-shaped SQL (not timed: it is the fixture, not the engine);
- ``enroll``: ``enroll_many`` of every customer into the chain, timed;
- ``round BATCH REPEAT``: makes ``BATCH × (REPEAT + 1)`` queued touches due, the rest
  not due, then times REPEAT dispatch rounds of BATCH touches to the null channel
  (after one warm-up round);
- ``bare SECONDS BATCH``: the same state changes as the dispatcher, per batch, in
  hand-written SQL without the engine (claim; read touch, customer, enrollment,
  contacts, recent sends, purchases; record; timeline rows; next touch),
  for SECONDS.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import timedelta
from typing import Any

import django

CHAIN = """\
slug: bench
name: Bench chain
audience:
  trigger: [visit]
  visit_class: [type3]
steps:
  - key: hello
    kind: info
    after: 0s
    channels: [telegram, sms]
    expires: 3d
    message:
      en:
        text: "Hello {{ customer.first_name }}, thank you for visiting {{ store.name }}."
  - key: later
    kind: info
    after: 2d
    channels: [sms]
    expires: 3d
    message:
      en:
        text: "{{ customer.first_name }}, a few ideas for your home from {{ store.name }}."
"""
ZONES = ("UTC", "Europe/Warsaw", "Europe/London")


def setup(count: int) -> dict[str, Any]:
    from datetime import time as clock_time

    from django.db import connection

    from touchflow.flows.actions import load_flow_text
    from touchflow.funnel.chains import set_status
    from touchflow.stores.models import Store

    started = time.perf_counter()
    # Bench fixtures, like tests/conftest.py: stores have no actions module.
    store = Store.objects.create(
        name="Bench store", slug="bench", country="GB", time_zone="Europe/London",
        language="en", currency="GBP", quiet_hours_start=clock_time(0, 0),
        quiet_hours_end=clock_time(0, 0), cap_messages=100, cap_commercial=100,
    )
    set_status(load_flow_text(CHAIN, "bench.yaml").flow, "active")
    postgres = connection.vendor == "postgresql"
    series = (
        "generate_series(1, %s) AS g(x)" if postgres
        else "(WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < %s) "
        "SELECT x FROM s) AS g"
    )
    now = "now()" if postgres else "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"
    zone = " ".join(f"WHEN {i} THEN '{z}'" for i, z in enumerate(ZONES))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_customer (name, language, time_zone, country, tags, "
            "home_store_id, created_at, updated_at) "
            f"SELECT 'Client ' || g.x, 'en', CASE g.x %% {len(ZONES)} {zone} END, 'GB', '[]', "
            f"%s, {now}, {now} FROM {series}",
            [store.pk, count],
        )
        cursor.execute(
            "INSERT INTO customers_contactpoint (customer_id, kind, network, value, "
            "contact_consent, marketing_consent, created_at) "
            f"SELECT id, 'phone', '', '+447' || (700000000 + id), TRUE, FALSE, {now} "
            "FROM customers_customer"
        )
        cursor.execute("ANALYZE")
    return {"customers": count, "seconds": round(time.perf_counter() - started, 2)}


def enroll() -> dict[str, Any]:
    from django.db import connection

    from touchflow.customers.models import Customer
    from touchflow.delivery.enrollments import enroll_many
    from touchflow.flows.models import Flow
    from touchflow.stores.models import Store

    flow, store = Flow.objects.get(slug="bench"), Store.objects.get(slug="bench")
    started = time.perf_counter()
    entered = enroll_many(flow, Customer.objects.all(), store=store)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"entered": entered, "seconds": round(seconds, 2)}


def make_due(count: int) -> None:
    """Exactly ``count`` queued touches due now; every other queued touch due tomorrow."""
    from django.db import connection

    from touchflow.core import clock
    from touchflow.delivery import queries

    now = clock.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE delivery_touch SET due_at = %s WHERE state = 'queued'",
            [queries._dt(now + timedelta(days=1))],
        )
        cursor.execute(
            "UPDATE delivery_touch SET due_at = %s WHERE id IN (SELECT id FROM delivery_touch "
            "WHERE state = 'queued' ORDER BY id LIMIT %s)",
            [queries._dt(now - timedelta(seconds=1)), count],
        )
    if connection.vendor == "postgresql":
        connection.cursor().execute("VACUUM ANALYZE delivery_touch")
    else:
        connection.cursor().execute("ANALYZE")


def rounds(batch: int, repeat: int) -> dict[str, Any]:
    from django.db import connection

    from touchflow.delivery.dispatcher import Dispatcher
    from touchflow.delivery.models import Touch
    from touchflow.messaging.outbound import from_settings

    make_due(batch * (repeat + 1))
    dispatcher = Dispatcher(from_settings("sms=null:"), batch_size=batch)
    times, claimed = [], []
    statements: dict[str, float] = {}

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split()[:4])[:60]
            statements[key] = statements.get(key, 0.0) + time.perf_counter() - started

    cpu: list[float] = []
    with connection.execute_wrapper(timed):
        for n in range(repeat + 1):
            started, cpu_started = time.perf_counter(), time.process_time()
            stats = dispatcher.run_round()
            times.append(time.perf_counter() - started)
            if n:  # the warm-up round is not counted
                cpu.append(time.process_time() - cpu_started)
            claimed.append(stats.claimed)
    top = sorted(statements.items(), key=lambda kv: -kv[1])[:8]
    return {
        "sql_seconds_all_rounds": round(sum(statements.values()), 3),
        "slowest_statements": [[k, round(v, 3)] for k, v in top],
        "batch": batch,
        "warmup_seconds": round(times[0], 3),
        "seconds": [round(t, 3) for t in times[1:]],
        "median_seconds": round(statistics.median(times[1:]), 3),
        # This process's CPU over the timed rounds (not the database's), and each round's.
        "cpu_seconds": round(sum(cpu), 3),
        "cpu_seconds_per_round": [round(c, 4) for c in cpu],
        "claimed": claimed,
        "touches": Touch.objects.count(),
    }


def bare(seconds: float, batch: int) -> dict[str, Any]:
    """The dispatcher's database work for ``seconds``, in plain SQL: the floor the
    engine could reach if its Python cost were zero. The same statements a worker runs
    for a batch of null-channel sends: claim, the context reads, then one transaction
    that locks the customers, reads their consent and recent sends, marks the sends in
    flight and writes the outcomes and the next touches (decisions 0016, 0017)."""
    from django.db import connection, transaction

    from touchflow.core import clock
    from touchflow.core.bulk import insert_many
    from touchflow.delivery import queries

    owner = f"bare:{os.getpid()}"
    postgres = connection.vendor == "postgresql"
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    done = 0
    deadline = time.perf_counter() + seconds
    cursor = connection.cursor()
    while time.perf_counter() < deadline:
        now = clock.now()
        nowp = queries._dt(now)
        with transaction.atomic():
            cursor.execute(
                "UPDATE delivery_touch SET lease_owner = %s, lease_until = %s "
                "WHERE id IN (SELECT id FROM delivery_touch WHERE state = 'queued' AND "
                "due_at <= %s AND (lease_until IS NULL OR lease_until < %s) "
                f"ORDER BY due_at LIMIT %s{lock}) RETURNING id",
                [owner, queries._dt(now + timedelta(minutes=2)), nowp, nowp, batch])
            ids = [r[0] for r in cursor.fetchall()]
        if not ids:
            break
        # The same reads as a dispatcher round, lists passed the way it passes them.
        if postgres:
            ids_sql, ids_args = "= ANY(%s)", [ids]
        else:
            ids_sql, ids_args = f"IN ({', '.join(['%s'] * len(ids))})", ids
        cursor.execute(
            "SELECT t.id, t.customer_id, t.store_id, t.enrollment_id, t.step_id, "
            "t.idempotency_key, c.name, c.time_zone, c.language, e.state, e.entered_at, "
            "f.status, s.key, s.messages FROM delivery_touch t "
            "JOIN customers_customer c ON c.id = t.customer_id "
            "JOIN flows_enrollment e ON e.id = t.enrollment_id "
            "JOIN flows_flow f ON f.id = e.flow_id JOIN flows_flowstep s ON s.id = t.step_id "
            f"WHERE t.id {ids_sql}", ids_args)
        rows = cursor.fetchall()
        customers = [r[1] for r in rows]
        if postgres:
            c_sql, c_args = "= ANY(%s)", [customers]
        else:
            c_sql, c_args = f"IN ({', '.join(['%s'] * len(customers))})", customers
        cursor.execute("SELECT customer_id, max(occurred_at) FROM purchases_purchase "
                       f"WHERE customer_id {c_sql} GROUP BY customer_id", c_args)
        cursor.fetchall()
        cursor.execute("SELECT id, flow_id, position FROM flows_flowstep WHERE flow_id IN "
                       f"(SELECT DISTINCT e.flow_id FROM flows_enrollment e WHERE e.id IN "
                       f"({', '.join(['%s'] * len(rows))}))", [r[3] for r in rows])
        steps = cursor.fetchall()
        second = max(steps, key=lambda s: s[2])[0]
        # Letting the group go and writing its outcomes, in one transaction as a worker
        # step does: the customers locked, their consent and what they received or
        # have in flight read afresh, the sends marked in flight, then the outcomes.
        with transaction.atomic():
            queries.lock_customers(customers)
            cursor.execute("SELECT customer_id, kind, value, contact_consent FROM "
                           f"customers_contactpoint WHERE customer_id {c_sql}", c_args)
            cursor.fetchall()
            cursor.execute(
                "SELECT id, customer_id, finished_at, in_flight_at FROM delivery_touch "
                "WHERE ((state IN ('sent', 'uncertain') AND finished_at > %s) OR "
                f"(state = 'queued' AND in_flight_at IS NOT NULL)) AND customer_id {c_sql}",
                [queries._dt(now - timedelta(days=7)), *c_args])
            cursor.fetchall()
            queries.mark_in_flight([(r[0], "sms") for r in rows], owner, now,
                                   now + timedelta(minutes=2))
            queries.record(
                [queries.TouchUpdate(r[0], "sent", now, "sms", 1, "", "", now, f"null-{r[5]}")
                 for r in rows], owner)
            insert_many("timeline_timelineevent", ("customer_id", "kind", "at", "store_id", "data"),
                        [(r[1], "touch", now, r[2],
                          {"touch": r[0], "flow": "bench", "step": r[12], "channel": "sms",
                           "outcome": "sent", "attempt": 1, "reason": "", "error": ""})
                         for r in rows],
                        json_columns=("data",), datetime_columns=("at",))
            due = now + timedelta(days=2)
            queries.insert_touches(
                [queries.NewTouch(r[3], second, r[1], r[2], False, due, due,
                                  os.urandom(16).hex()) for r in rows], now)
        done += len(rows)
    return {"touches": done}


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
    django.setup()
    command, args = argv[0], argv[1:]
    if command == "setup":
        result = setup(int(args[0]))
    elif command == "enroll":
        result = enroll()
    elif command == "round":
        result = rounds(int(args[0]), int(args[1]))
    elif command == "bare":
        result = bare(float(args[0]), int(args[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
