"""Issue 11: the dashboard and the manager's lists at scale — ``python -m bench dashboard``.

"10M visits, 1M customers, 20M touches on PostgreSQL — every dashboard view p95 ≤ 300 ms
(and say what it is on SQLite at 1M visits)."

What it does:

1. A database named ``bench_dashboard`` (never ``test``: CI's), migrated by the real
   migrations (``touchflow migrate``), then loaded phase by phase with set-shaped SQL
   (``INSERT … SELECT`` over ``generate_series``, never the ORM row by row). Each phase
   is recorded in ``bench_meta``, so a run with ``--keep`` resumes where the last one
   stopped, ``--phase P`` redoes P and every phase that depends on it, and
   ``--only-time`` times the views against the database as it is. The chains are the
   product's own example chains, loaded with ``touchflow flows load``.
2. The views, in-process through ``django.test.Client`` (no HTTP server, no network: the
   figure is the view's own cost, middleware, session and template included), logged in
   as a manager of every store and as an admin; per URL 2 warm-up requests, then
   ``--requests`` (20) timed ones; p50 and p95. The URLs are the table ``URLS`` below.
3. For a view over 300 ms p95 on PostgreSQL: its queries (one more request under
   ``CaptureQueriesContext``) and ``EXPLAIN (ANALYZE, BUFFERS)`` of its slowest ones.

SQLite ("at 1M visits"): the same generator at scale 0.1 runs on PostgreSQL (database
``bench_dashboard_sqlite_src``) and its rows are copied table by table into a migrated
SQLite file with the ``sqlite3`` module's ``executemany`` — one generator, two databases.

The shape of the data (scale 1.0; every count scales but the stores and the staff):

- 20 stores in three time zones (London, Warsaw, Helsinki), of unequal size; 205 staff: 9
  sellers and a manager per store, three regional managers, ``bench-manager`` (a manager
  of all 20 stores) and ``bench-admin``.
- 1,000,000 customers, created evenly over three years (ids in creation order); 5 %
  imported (no visits); 0.2 % merged tombstones; 5 % tagged. Contact points (phone 90 %,
  e-mail 50 %, Telegram 15 %), each recorded by the home store, and their consent events.
- 10,000,000 visits over the three years to the generation's "now", in opening hours
  (09:00–18:00 store-local): ~44 % with a known customer (a customer's visit count is
  1 + Pareto(α 1.6) × tenure: most come once or twice, a few hundred times), the rest
  without. Grey (not asked) ~27 %; a reason for 85 % of those who did not buy; 2 % without
  a seller. Purchases for every bought visit with a customer (~2M), 30 % of the last
  two days' still pending (no amount).
- The store links (``CustomerStore``) from the visits; when the model has the
  denormalised last-visit columns (decision 0027), one UPDATE fills them from the visits.
- Enrolments as the chains' triggers would make them: check-in per purchase, loyalty per
  type-1 visit, warming per type-3 visit, review and referral after check-in answers,
  re-engagement as quarterly campaigns sized so that the touches reach 20M. Touches per
  step due (sent 80 %, skipped, expired, dead, cancelled; receipts delivered/read), the
  next step of an active enrolment queued. Check-in answers, escalations for unhappy
  ones. Call tasks only where two "pilot" stores used them in the last 45 days (a few
  thousand; the rest of the call steps "skipped"), open when due in the last fortnight.
- Health: a ``CustomerHealth`` per store link (segment, rhythm, ratio, cold by the
  product's thresholds 1.5 own / 2.5 store rhythms) and a ``StoreFit`` per store.
- The timeline: the full history of a sample — every 10th customer and everyone with 60
  visits or more — not of all customers (that would be ~50M rows, ~30 GB: the customer
  page reads one customer's rows by the (customer, at, id) index, which a table of a few
  million rows exercises the same way). Every other reader of the timeline is a figure.
- The figures: ``timeline_figure`` by SQL aggregation over every visit, purchase, touch,
  receipt, call, enrolment, consent, check-in answer, escalation and the replies, STOPs,
  referrals and review clicks derived from the touches with the same rule as the
  timeline's rows, keyed exactly as ``figures.counts_of`` keys them, on the store-local
  day. The keys that another engineer changed while this was written (a purchase's and a
  reply's chain credit, ``check_in_category``) are probed from ``counts_of`` itself at
  generation time. A third of the last day's visit, touch and purchase counts are left
  as ``timeline_figuredelta`` rows (unfolded), as a worker folding every 15 s leaves them.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from bench.databases import ADMIN_URL, BIN, ROOT, VAR, env_for, migrate

NAME = "bench_dashboard"
SQLITE_SOURCE = "bench_dashboard_sqlite_src"
TARGET_MS = 300.0

# -- what is timed -----------------------------------------------------------------------
# (view, URL). The {names} are filled from the generated data (``url_context``): today
# and the period starts are the data's last day; store/seller the busiest store and its
# busiest seller; the customers a typical one (median timeline) and the longest timeline.
URLS: list[tuple[str, str]] = [
    ("dashboard", "/dashboard/"),
    ("dashboard", "/dashboard/?since={year_since}&until={today}"),
    ("dashboard", "/dashboard/?since={years3_since}&until={today}"),
    ("dashboard", "/dashboard/?store={store}"),
    ("dashboard", "/dashboard/?store={store}&since={year_since}&until={today}"),
    ("dashboard", "/dashboard/?seller={seller}"),
    ("dashboard", "/dashboard/?seller={seller}&since={year_since}&until={today}"),
    ("dashboard", "/dashboard/?store={store}&seller={seller}&since={year_since}&until={today}"),
    ("dashboard", "/dashboard/?csv=visits"),
    ("dashboard", "/dashboard/?csv=chains&since={year_since}&until={today}"),
    ("visits", "/visits/"),
    ("visits", "/visits/?since={year_since}&until={today}"),
    ("visits", "/visits/?store={store}"),
    ("visits", "/visits/?seller={seller}"),
    ("visits", "/visits/?visit_class=grey"),
    ("visits", "/visits/?capture=taken&since={year_since}&until={today}"),
    ("visits", "/visits/?reason=just_looking"),
    ("visits", "/visits/?store={store}&seller={seller}&visit_class=type3"
               "&since={year_since}&until={today}"),
    ("visits", "/visits/?page=2"),
    ("visits", "/visits/?since={year_since}&until={today}&page={visits_deep}"),
    ("customers", "/customers/"),
    ("customers", "/customers/?page={customers_deep}"),
    ("customers", "/customers/?q={name_query}"),
    ("customers", "/customers/?q={phone_query}"),
    ("customers", "/customers/?store={store}"),
    ("customers", "/customers/?seller={seller}"),
    ("customers", "/customers/?visit_class=type3"),
    ("customers", "/customers/?store={store}&visit_class=grey&sort=last_visit"),
    ("customers", "/customers/?chain=warming"),
    ("customers", "/customers/?cold=buyers"),
    ("customers", "/customers/?store={store}&cold=any"),
    ("customers", "/customers/?tag=vip"),
    ("customers", "/customers/?sort=name"),
    ("customers", "/customers/?sort=last_visit"),
    ("customers", "/customers/?csv=1&store={store}&visit_class=type3"),
    ("customers", "/customers/?csv=1&tag=vip"),
    ("customer", "/customers/{customer_typical}/"),
    ("customer", "/customers/{customer_heavy}/"),
    ("tasks", "/tasks/"),
    ("tasks", "/tasks/?when=all"),
    ("tasks", "/tasks/?when=all&page={tasks_deep}"),
    ("tasks", "/tasks/?seller={task_seller}&when=all"),
    ("tasks", "/tasks/?store={task_store}&when=all"),
    ("cold", "/cold/?store={store_slug}&segment=buyers"),
    ("cold", "/cold/?store={store_slug}&segment=prospects"),
    ("cold", "/cold/?store={store_slug}&segment=buyers&page={cold_deep}"),
]
ROLES = {"manager": "bench-manager", "admin": "bench-admin"}

# -- the data's size ---------------------------------------------------------------------
FULL_CUSTOMERS = 1_000_000
FULL_VISITS = 10_000_000
FULL_TOUCHES = 20_000_000
DAYS = 3 * 365
SAMPLE_EVERY = 10  # the timeline holds every 10th customer's history…
SAMPLE_HEAVY = 60  # …and everyone's with this many visits or more
PILOT_STORES = (1, 9)  # the stores whose call steps made call tasks (the last 45 days)
# Visits per customer: 1 + floor(Pareto(1.6) × tenure × VISIT_RATE), at most 400.
VISIT_RATE = 3.5

# id, name, country, zone, language, currency
STORES = [
    (1, "London Oxford Street", "GB", "Europe/London", "en", "GBP"),
    (2, "London Camden", "GB", "Europe/London", "en", "GBP"),
    (3, "Manchester Arndale", "GB", "Europe/London", "en", "GBP"),
    (4, "Leeds Trinity", "GB", "Europe/London", "en", "GBP"),
    (5, "Bristol Cabot", "GB", "Europe/London", "en", "GBP"),
    (6, "Birmingham Bullring", "GB", "Europe/London", "en", "GBP"),
    (7, "Glasgow Buchanan", "GB", "Europe/London", "en", "GBP"),
    (8, "Liverpool One", "GB", "Europe/London", "en", "GBP"),
    (9, "Warszawa Centrum", "PL", "Europe/Warsaw", "pl", "PLN"),
    (10, "Warszawa Mokotów", "PL", "Europe/Warsaw", "pl", "PLN"),
    (11, "Kraków Kazimierz", "PL", "Europe/Warsaw", "pl", "PLN"),
    (12, "Wrocław Rynek", "PL", "Europe/Warsaw", "pl", "PLN"),
    (13, "Gdańsk Oliwa", "PL", "Europe/Warsaw", "pl", "PLN"),
    (14, "Poznań Stary Browar", "PL", "Europe/Warsaw", "pl", "PLN"),
    (15, "Łódź Manufaktura", "PL", "Europe/Warsaw", "pl", "PLN"),
    (16, "Helsinki Kamppi", "FI", "Europe/Helsinki", "en", "EUR"),
    (17, "Espoo Iso Omena", "FI", "Europe/Helsinki", "en", "EUR"),
    (18, "Tampere Ratina", "FI", "Europe/Helsinki", "en", "EUR"),
    (19, "Turku Skanssi", "FI", "Europe/Helsinki", "en", "EUR"),
    (20, "Oulu Valkea", "FI", "Europe/Helsinki", "en", "EUR"),
]
SELLERS_PER_STORE = 9
FIRST_NAMES = {
    "GB": ["Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Noah",
           "Emily", "Leo", "Grace", "Oscar", "Sophie", "Charlie", "Lily"],
    "PL": ["Jan", "Anna", "Piotr", "Maria", "Krzysztof", "Katarzyna", "Tomasz", "Agnieszka",
           "Paweł", "Magdalena", "Marcin", "Joanna", "Michał", "Ewa", "Adam", "Zofia"],
    "FI": ["Juha", "Anne", "Mikko", "Tuula", "Timo", "Päivi", "Matti", "Sari", "Jari",
           "Kaisa", "Antti", "Minna", "Ville", "Laura", "Eero", "Aino"],
}
LAST_NAMES = {
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
           "Patel", "Wright", "Walker", "Thompson", "Robinson", "Evans", "Hughes", "Green",
           "Hall", "Wood", "Clarke", "Harris"],
    "PL": ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski",
           "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur",
           "Kwiatkowski", "Krawczyk", "Piotrowski", "Grabowski", "Nowakowski", "Pawłowski"],
    "FI": ["Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine",
           "Heikkinen", "Koskinen", "Järvinen", "Lehtonen", "Lehtinen", "Saarinen", "Salminen",
           "Heinonen", "Niemi", "Heikkilä", "Kinnunen", "Salonen", "Turunen"],
}
CATEGORIES = [("sofas", "Sofas"), ("tables", "Tables"), ("chairs", "Chairs"), ("beds", "Beds"),
              ("lighting", "Lighting"), ("rugs", "Rugs"), ("storage", "Storage"),
              ("decor", "Decor")]
# Reasons for not buying, weighted by repetition (codes of the built-in reasons).
REASON_WEIGHTS = ["just_looking"] * 7 + ["price_difference"] * 4 + ["too_passive"] * 2 + [
    "credit_refused", "too_pushy", "wrong_sales_tool", "weak_product_knowledge"]

# The phases, in order, with the tables each one fills (truncated when it is redone) and
# the phases it reads. Redoing one redoes every phase that depends on it.
PHASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "base": (("stores_store", "stores_staff", "stores_staff_stores", "flows_flow",
              "flows_flowstep"), ()),
    "customers": (("customers_customer", "customers_contactpoint",
                   "customers_contactpointstore", "customers_consentevent",
                   "customers_customerexternalid"), ("base",)),
    "visits": (("visits_visit",), ("customers",)),
    "purchases": (("purchases_purchase",), ("visits",)),
    "links": (("customers_customerstore",), ("visits", "purchases")),
    "delivery": (("flows_enrollment", "delivery_touch", "delivery_calltask",
                  "aftercare_checkinanswer", "aftercare_escalation"),
                 ("purchases", "visits")),
    "health": (("health_customerhealth", "health_storefit"), ("links", "purchases")),
    "timeline": (("timeline_timelineevent",), ("delivery", "customers")),
    "figures": (("timeline_figure", "timeline_figuredelta", "timeline_figureweek",
                 "timeline_figuremonth", "timeline_figureyear"),
                ("delivery", "customers")),
    "denorm": ((), ("links",)),
    "analyze": ((), ("timeline", "figures", "health", "denorm")),
}
# Where a group's summed amount goes in the data ``counts_of`` reads: (field, type,
# always; else only when the event's data has that field, as a logged call's minutes).
AMOUNT_FIELDS = {"purchase": ("amount", "str", True),
                 "escalation_resolved": ("working_minutes", "int", True),
                 "touch": ("minutes", "int", False), "message_out": ("minutes", "int", False)}
BIG_TABLES = ("customers_customer", "customers_contactpoint", "customers_customerstore",
              "visits_visit", "purchases_purchase", "flows_enrollment", "delivery_touch",
              "delivery_calltask", "aftercare_checkinanswer", "health_customerhealth",
              "timeline_timelineevent", "timeline_figure", "timeline_figuredelta",
              "timeline_figureweek", "timeline_figuremonth", "timeline_figureyear")


def log(message: str) -> None:
    print(f"[dashboard {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def lit(value: Any) -> str:
    """An SQL literal (the generator's own values only, never input)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def text_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(lit(v) for v in values) + "]::text[]"


# -- PostgreSQL: the generator -------------------------------------------------------------

FUNCTIONS = """
CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS bench_dropped (id serial PRIMARY KEY, restore text NOT NULL);
-- A deterministic uniform [0, 1) of (x, salt): phases can be redone one by one.
CREATE OR REPLACE FUNCTION bench_u(x bigint, salt bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (hashint8extended(x, salt) & 9007199254740991)::float8 / 9007199254740992.0 $$;
-- A moment in a store's opening hours (09:00 + u × 9 h, local) on a local day.
CREATE OR REPLACE FUNCTION bench_at(day date, u float8, tz text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ((day + time '09:00') + u * interval '9 hours') AT TIME ZONE tz $$;
-- How many visits customer ``id`` of ``n`` makes: 1 + Pareto(1.6) × tenure × rate
-- (ids are in creation order: id 1 has three years of tenure); 0 for the imported 5 %.
CREATE OR REPLACE FUNCTION bench_visits(id bigint, n bigint, rate float8) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN bench_u(id, 102) < 0.05 THEN 0 ELSE least(400, 1 + floor(
     least(150.0, power(greatest(bench_u(id, 101), 1e-12), -1 / 1.6))
     * (1 - (id - 0.5) / n) * rate))::int END $$;
"""


@dataclass
class Plan:
    scale: float
    now: datetime

    @property
    def customers(self) -> int:
        return max(200, round(FULL_CUSTOMERS * self.scale))

    @property
    def visits(self) -> int:
        return max(2000, round(FULL_VISITS * self.scale))

    @property
    def touches(self) -> int:
        return max(4000, round(FULL_TOUCHES * self.scale))

    @property
    def now_sql(self) -> str:
        return f"timestamptz {lit(self.now.isoformat())}"

    @property
    def start_day_sql(self) -> str:
        return f"date {lit((self.now.date() - timedelta(days=DAYS - 1)).isoformat())}"


class Generator:
    """One phase after another into the database at ``url``."""

    def __init__(self, url: str, scale: float) -> None:
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True)
        for setting in ("session_replication_role = replica",  # no FK triggers while loading
                        "synchronous_commit = off", "work_mem = '512MB'",
                        "maintenance_work_mem = '1GB'", "max_parallel_workers_per_gather = 2"):
            self.conn.execute(f"SET {setting}")
        self.conn.execute(FUNCTIONS)
        self._restore_dropped()
        meta = self.meta()
        if "now" not in meta:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            self.set_meta("now", now.isoformat())
            self.set_meta("scale", scale)
            meta = self.meta()
        if float(meta["scale"]) != scale:
            raise SystemExit(f"{url.rsplit('/', 1)[1]} holds scale {meta['scale']}, not {scale}:"
                             " run without --keep (or with --phase base) to start again")
        self.plan = Plan(scale, datetime.fromisoformat(meta["now"]))

    # -- bookkeeping

    def meta(self) -> dict[str, Any]:
        return {k: v for k, v in self.conn.execute("SELECT key, value FROM bench_meta")}

    def set_meta(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO bench_meta VALUES (%s, %s::jsonb) ON CONFLICT (key) DO UPDATE "
            "SET value = excluded.value", (key, json.dumps(value)))

    def run(self, redo: list[str]) -> dict[str, float]:
        """Run the phases not done yet and those in ``redo`` (with their dependants)."""
        again = set(redo)
        if "all" in again:
            again = set(PHASES)
        changed = True
        while changed:
            changed = False
            for phase, (_tables, needs) in PHASES.items():
                if phase not in again and again.intersection(needs):
                    again.add(phase)
                    changed = True
        done = self.meta().get("done", {})
        seconds: dict[str, float] = {}
        for phase in PHASES:
            if phase in done and phase not in again:
                continue
            if phase == "base" and done:  # a fresh start: even "now" moves
                self.conn.execute("DELETE FROM bench_meta WHERE key <> 'scale'")
                now = datetime.now(UTC).replace(second=0, microsecond=0)
                self.set_meta("now", now.isoformat())
                self.plan = Plan(self.plan.scale, now)
                done = {}
            log(f"phase {phase} …")
            started = time.perf_counter()
            tables = PHASES[phase][0]
            if tables:
                self.sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            getattr(self, f"phase_{phase}")()
            seconds[phase] = round(time.perf_counter() - started, 1)
            done = {**self.meta().get("done", {}), phase: seconds[phase]}
            self.set_meta("done", done)
            log(f"phase {phase}: {seconds[phase]} s")
        return seconds

    def sql(self, statement: str, label: str = "") -> int:
        started = time.perf_counter()
        cursor = self.conn.execute(statement)
        if label:
            log(f"  {label}: {cursor.rowcount:,} rows, {time.perf_counter() - started:.1f} s")
        return cursor.rowcount

    def one(self, statement: str) -> Any:
        row = self.conn.execute(statement).fetchone()
        return row[0] if row else None

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position", (table,))]

    def insert(self, table: str, columns: list[str], select: str, order: str = "",
               label: str = "") -> int:
        """``INSERT INTO table (columns) SELECT … FROM (select)``; a NOT NULL column without
        a default that this generator does not know (one added since) gets a zero of its
        type, and is named."""
        missing = self.conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL "
            "AND is_identity = 'NO' AND NOT (column_name = ANY(%s))", (table, columns)).fetchall()
        zero = {"boolean": "FALSE", "jsonb": "'{}'::jsonb", "date": "CURRENT_DATE",
                "timestamp with time zone": "now()", "text": "''", "character varying": "''"}
        extra = [(name, zero.get(kind, "0")) for name, kind in missing]
        if extra:
            log(f"  {table}: unknown NOT NULL columns filled with zeros: {extra}")
        names = ", ".join([*columns, *(n for n, _v in extra)])
        values = ", ".join(["q.*", *(v for _n, v in extra)])
        # The subquery's columns take the target's names, so ``order`` can name them.
        statement = (f"INSERT INTO {table} ({names}) SELECT {values} "
                     f"FROM ({select}) AS q({', '.join(columns)})")
        if order:
            statement += f" ORDER BY {order}"
        return self.sql(statement, label or table)

    # -- indexes: dropped while a big table loads, rebuilt after (and after a crash)

    def _restore_dropped(self) -> None:
        for pk, restore in self.conn.execute("SELECT id, restore FROM bench_dropped ORDER BY id"
                                             ).fetchall():
            try:
                self.conn.execute(restore)
            except psycopg.errors.DuplicateTable:
                pass
            except psycopg.errors.DuplicateObject:
                pass
            self.conn.execute("DELETE FROM bench_dropped WHERE id = %s", (pk,))

    def drop_indexes(self, *tables: str) -> None:
        self.loading = [*getattr(self, "loading", []), *tables]
        rows = self.conn.execute("""
            SELECT c.relname, i.relname, pg_get_indexdef(i.oid), con.conname,
                   pg_get_constraintdef(con.oid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class c ON c.oid = x.indrelid
            LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.conrelid = c.oid
            WHERE c.relname = ANY(%s) AND NOT x.indisprimary""", (list(tables),)).fetchall()
        for table, index, indexdef, constraint, condef in rows:
            if constraint:
                restore = f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {condef}'
                drop = f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"'
            else:
                restore, drop = indexdef, f'DROP INDEX "{index}"'
            self.conn.execute("INSERT INTO bench_dropped (restore) VALUES (%s)", (restore,))
            self.conn.execute(drop)

    def restore_indexes(self) -> None:
        started = time.perf_counter()
        count = self.one("SELECT count(*) FROM bench_dropped")
        self._restore_dropped()
        tables, self.loading = getattr(self, "loading", []), []
        if tables:
            self.sql(f"ANALYZE {', '.join(tables)}")
        log(f"  {count} indexes rebuilt, {', '.join(tables)} analysed: "
            f"{time.perf_counter() - started:.1f} s")

    # -- the phases

    def phase_base(self) -> None:
        p = self.plan
        start = p.now - timedelta(days=DAYS + 30)
        stores = ", ".join(
            f"({i}, {lit(name)}, {lit(f'store-{i:02d}')}, {lit(country)}, {lit(zone)}, "
            f"{lit(language)}, {lit(currency)}, '', timestamptz {lit(start.isoformat())}, 1, 2, "
            "7, time '09:00', time '21:00')"
            for i, name, country, zone, language, currency in STORES)
        self.insert("stores_store", ["id", "name", "slug", "country", "time_zone", "language",
                                     "currency", "telegram_bot", "created_at", "cap_commercial",
                                     "cap_messages", "cap_period_days", "quiet_hours_end",
                                     "quiet_hours_start"],
                    f"SELECT * FROM (VALUES {stores}) v")
        staff: list[tuple[int, str, str, str, str, bool]] = [
            (1, "bench-admin", "Ada", "Admin", "admin", True),
            (2, "bench-manager", "Max", "Manager", "manager", False),
            (3, "manager-gb", "Gill", "Regional", "manager", False),
            (4, "manager-pl", "Piotr", "Regionalny", "manager", False),
            (5, "manager-fi", "Fanni", "Alueellinen", "manager", False),
        ]
        links: list[tuple[int, int]] = [(2, s[0]) for s in STORES]
        links += [(3 + ["GB", "PL", "FI"].index(s[2]), s[0]) for s in STORES]
        for sid, _name, country, *_rest in STORES:
            firsts, lasts = FIRST_NAMES[country], LAST_NAMES[country]
            staff.append((100 + sid, f"manager-{sid:02d}", firsts[sid % 16],
                          lasts[sid % 20], "manager", False))
            links.append((100 + sid, sid))
            for k in range(SELLERS_PER_STORE):
                pk = 1000 + sid * 10 + k
                staff.append((pk, f"seller-{sid:02d}-{k}", firsts[(sid * 7 + k) % 16],
                              lasts[(sid * 3 + k * 5) % 20], "salesperson", False))
                links.append((pk, sid))
        joined = f"timestamptz {lit(start.isoformat())}"
        rows = ", ".join(
            f"({pk}, '!bench', {lit(admin)}, {lit(user)}, {lit(first)}, {lit(last)}, "
            f"{lit(user + '@bench.invalid')}, {lit(role != 'salesperson')}, TRUE, {joined}, "
            f"{lit(role)}, 'en')"
            for pk, user, first, last, role, admin in staff)
        self.insert("stores_staff", ["id", "password", "is_superuser", "username", "first_name",
                                     "last_name", "email", "is_staff", "is_active", "date_joined",
                                     "role", "language"], f"SELECT * FROM (VALUES {rows}) v")
        pairs = ", ".join(f"({a}, {b})" for a, b in links)
        self.insert("stores_staff_stores", ["staff_id", "store_id"],
                    f"SELECT * FROM (VALUES {pairs}) v")
        for table in ("stores_store", "stores_staff"):
            self.sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                     f"(SELECT max(id) FROM {table}))")
        if not self.one("SELECT count(*) FROM stores_category"):
            values = ", ".join(f"({lit(slug)}, {lit(name)}, '', '', TRUE, {i * 10})"
                               for i, (slug, name) in enumerate(CATEGORIES))
            self.insert("stores_category", ["slug", "name_en", "name_ru", "name_pl", "active",
                                            "position"], f"SELECT * FROM (VALUES {values}) v")
        examples = ROOT / "touchflow" / "flows" / "examples"
        for folder in (examples, examples / "re-engagement"):
            subprocess.run([str(BIN / "touchflow"), "flows", "load", str(folder), "--activate"],
                           env=env_for(self.url), check=True, stdout=subprocess.DEVNULL,
                           timeout=300)
        log(f"  flows: {self.one('SELECT string_agg(slug, chr(44)) FROM flows_flow')}")

    def phase_customers(self) -> None:
        p = self.plan
        n = p.customers

        def pick(names: dict[str, list[str]], salt: int) -> str:
            return "CASE s.country " + " ".join(
                f"WHEN {lit(c)} THEN ({text_array(v)})"
                f"[1 + floor(bench_u(x, {salt}) * {len(v)})::int]"
                for c, v in names.items()) + " END"

        self.drop_indexes("customers_customer", "customers_contactpoint",
                          "customers_contactpointstore", "customers_consentevent")
        moment = f"bench_at({p.start_day_sql} + floor((x - 1) * {DAYS}::float8 / {n})::int, " \
                 "bench_u(x, 13), s.time_zone)"
        self.insert(
            "customers_customer",
            ["id", "name", "language", "time_zone", "country", "tags", "created_at",
             "updated_at", "home_store_id", "merged_into_id", "commercial_held"],
            f"""SELECT x, {pick(FIRST_NAMES, 11)} || ' ' || {pick(LAST_NAMES, 12)}, s.language,
                       s.time_zone, s.country,
                       (CASE WHEN u < 0.03 THEN '["vip"]' WHEN u < 0.05 THEN '["wholesale"]'
                             WHEN u < 0.055 THEN '["vip", "wholesale"]' ELSE '[]' END)::jsonb,
                       at, at, s.id,
                       CASE WHEN bench_u(x, 15) < 0.002 AND x > 20
                            THEN x - 1 - floor(bench_u(x, 16) * 9)::int END,
                       FALSE
                FROM (SELECT x, 1 + floor(20 * power(bench_u(x, 10), 1.3))::int AS home,
                             bench_u(x, 14) AS u
                      FROM generate_series(1, {n}) x) c
                JOIN stores_store s ON s.id = c.home
                CROSS JOIN LATERAL (SELECT CASE WHEN {moment} > {p.now_sql}
                                                THEN {moment} - interval '1 day'
                                                ELSE {moment} END AS at) t""",
            order="q.id")
        self.sql("SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), "
                 "(SELECT max(id) FROM customers_customer))")
        phone = ("CASE c.country WHEN 'GB' THEN '+447' || (700000000 + c.id) "
                 "WHEN 'PL' THEN '+48' || (500000000 + c.id) "
                 "ELSE '+358' || (400000000 + c.id) END")
        self.insert(
            "customers_contactpoint",
            ["kind", "network", "value", "contact_consent", "marketing_consent",
             "consent_updated_at", "created_at", "customer_id", "last_inbound_at",
             "undeliverable_at", "undeliverable_reason"],
            f"""SELECT p.kind, '', p.value,
                       CASE WHEN bench_u(c.id * 4 + p.k, 24) < 0.92 THEN TRUE END,
                       CASE WHEN bench_u(c.id * 4 + p.k, 25) < 0.60 THEN TRUE
                            WHEN bench_u(c.id * 4 + p.k, 25) < 0.65 THEN FALSE END,
                       c.created_at, c.created_at, c.id, NULL::timestamptz,
                       NULL::timestamptz, ''
                FROM customers_customer c CROSS JOIN LATERAL (VALUES
                  (1, 'phone', {phone}, bench_u(c.id, 21) < 0.9),
                  (2, 'email', 'customer' || c.id || '@example.com',
                   bench_u(c.id, 22) < 0.5 OR bench_u(c.id, 21) >= 0.9),
                  (3, 'telegram', (100000000 + c.id)::text, bench_u(c.id, 23) < 0.15)
                ) AS p(k, kind, value, present)
                WHERE p.present""",
            order="q.customer_id")
        self.insert("customers_contactpointstore", ["first_seen_at", "contact_point_id",
                                                    "store_id"],
                    """SELECT p.created_at, p.id, c.home_store_id FROM customers_contactpoint p
                       JOIN customers_customer c ON c.id = p.customer_id""", order="2")
        source = "CASE WHEN bench_u(c.id, 102) < 0.05 THEN 'import' ELSE 'counter' END"
        self.insert(
            "customers_consentevent",
            ["purpose", "granted", "source", "at", "note", "integration_id", "staff_id",
             "contact_point_id", "customer_id", "store_id"],
            f"""SELECT e.purpose, e.granted, {source}, p.created_at, '', NULL::bigint,
                       NULL::bigint, p.id, p.customer_id, c.home_store_id
                FROM customers_contactpoint p JOIN customers_customer c ON c.id = p.customer_id
                CROSS JOIN LATERAL (VALUES ('contact', p.contact_consent),
                                           ('marketing', p.marketing_consent)) e(purpose, granted)
                WHERE e.granted IS NOT NULL""", order="q.contact_point_id")
        self.insert("customers_customerexternalid", ["value", "customer_id", "store_id"],
                    """SELECT 'POS-' || c.id, c.id, c.home_store_id FROM customers_customer c
                       WHERE bench_u(c.id, 102) < 0.05""")
        self.restore_indexes()

    def phase_visits(self) -> None:
        p = self.plan
        n = p.customers
        known = int(self.one(f"SELECT coalesce(sum(bench_visits(id, {n}, {VISIT_RATE})), 0) "
                             "FROM customers_customer WHERE merged_into_id IS NULL"))
        anonymous = max(0, p.visits - known)
        log(f"  {known:,} visits with a customer, {anonymous:,} without")
        reasons: dict[str, int] = dict(
            self.conn.execute("SELECT code, id FROM visits_reason").fetchall())
        reason_ids = "ARRAY[" + ", ".join(str(reasons[c]) for c in REASON_WEIGHTS) + "]"
        cats = text_array([c for c, _n in CATEGORIES])
        now = p.now_sql
        # j = 1: the visit the customer was created at (contacts taken); later ones mostly
        # at the home store; visits without a customer: refused or grey.
        raw = f"""
            SELECT c.id::bigint * 1024 + j AS seed, c.id AS customer_id, c.created_at AS since, j,
                   CASE WHEN j = 1 OR bench_u(c.id::bigint * 1024 + j, 31) < 0.85
                        THEN c.home_store_id
                        ELSE 1 + floor(20 * power(bench_u(c.id::bigint * 1024 + j, 32), 1.3))::int
                   END AS store_id,
                   CASE WHEN j = 1 THEN NULL
                        ELSE c.created_at + ({now} - c.created_at)
                             * bench_u(c.id::bigint * 1024 + j, 33) END AS around,
                   NULL::int AS day,
                   CASE WHEN j = 1 THEN
                          CASE WHEN bench_u(c.id::bigint * 1024 + j, 35) < 0.55 THEN 'type1'
                               ELSE 'type3' END
                        ELSE CASE WHEN bench_u(c.id::bigint * 1024 + j, 35) < 0.36 THEN 'type1'
                                  WHEN bench_u(c.id::bigint * 1024 + j, 35) < 0.66 THEN 'type3'
                                  WHEN bench_u(c.id::bigint * 1024 + j, 35) < 0.70 THEN 'type2'
                                  WHEN bench_u(c.id::bigint * 1024 + j, 35) < 0.80 THEN 'type4'
                                  ELSE 'grey' END
                   END AS cls
            FROM customers_customer c
            CROSS JOIN LATERAL generate_series(1, bench_visits(c.id, {n}, {VISIT_RATE})) j
            WHERE c.merged_into_id IS NULL
            UNION ALL
            SELECT -x, NULL, NULL, 0, 1 + floor(20 * power(bench_u(-x, 32), 1.3))::int, NULL,
                   floor({DAYS} * sqrt(bench_u(-x, 33)))::int,
                   CASE WHEN bench_u(-x, 35) < 0.26 THEN 'type2'
                        WHEN bench_u(-x, 35) < 0.65 THEN 'type4' ELSE 'grey' END
            FROM generate_series(1, {anonymous}) x"""
        candidate = f"""bench_at(CASE WHEN r.day IS NOT NULL THEN {p.start_day_sql} + r.day
                                     ELSE (r.around AT TIME ZONE s.time_zone)::date END,
                                bench_u(r.seed, 34), s.time_zone)"""
        placed = f"""SELECT r.seed, r.customer_id, r.store_id, r.cls,
                        CASE WHEN r.j = 1 THEN r.since
                             ELSE least({now} - interval '1 minute',
                                        greatest(coalesce(r.since, '-infinity') + interval
                                            '1 minute',
                                                 CASE WHEN {candidate} > {now}
                                                      THEN {candidate} - interval '1 day'
                                                      ELSE {candidate} END)) END AS at
                 FROM ({raw}) r JOIN stores_store s ON s.id = r.store_id"""
        self.drop_indexes("visits_visit")
        self.insert(
            "visits_visit",
            ["occurred_at", "bought", "contact_capture", "visit_class", "categories", "note",
             "source", "external_id", "created_at", "customer_id", "reason_id", "staff_id",
             "store_id"],
            f"""SELECT v.at, b.bought,
                       CASE WHEN v.cls IN ('type1', 'type3') THEN 'taken'
                            WHEN v.cls IN ('type2', 'type4') THEN 'refused'
                            ELSE 'not_attempted' END,
                       v.cls,
                       jsonb_build_array(({cats})[1 + floor(bench_u(v.seed, 12) *
                           {len(CATEGORIES)})::int]),
                       '', CASE WHEN bench_u(v.seed, 13) < 0.1 THEN 'api' ELSE 'counter' END,
                       NULL::varchar, v.at, v.customer_id,
                       CASE WHEN NOT b.bought AND bench_u(v.seed, 7) < 0.85
                            THEN ({reason_ids})[1 + floor(bench_u(v.seed, 8) *
                                {len(REASON_WEIGHTS)})::int]
                       END,
                       CASE WHEN bench_u(v.seed, 9) < 0.02 THEN NULL
                            ELSE 1000 + v.store_id * 10
                                 + floor({SELLERS_PER_STORE} * power(bench_u(v.seed, 10), 1.4))::int
                       END,
                       v.store_id
                FROM ({placed}) v
                CROSS JOIN LATERAL (SELECT CASE WHEN v.cls IN ('type1', 'type2') THEN TRUE
                                                WHEN v.cls = 'grey' THEN bench_u(v.seed, 11) < 0.35
                                                ELSE FALSE END AS bought) b""",
            order="q.occurred_at")
        self.restore_indexes()

    def phase_purchases(self) -> None:
        p = self.plan
        now = p.now_sql
        self.drop_indexes("purchases_purchase")
        at = f"least({now}, v.occurred_at + interval '2 minutes')"
        self.insert(
            "purchases_purchase",
            ["occurred_at", "amount", "currency", "categories", "items", "source", "external_id",
             "created_at", "customer_id", "store_id", "visit_id"],
            f"""SELECT {at},
                       CASE WHEN v.occurred_at > {now} - interval '2 days'
                                 AND bench_u(v.id, 41) < 0.3 THEN NULL
                            ELSE round(((20 + 1500 * power(bench_u(v.id, 42), 2.5))
                                 * CASE s.currency WHEN 'PLN' THEN 4.5 WHEN 'EUR' THEN 1.15
                                   ELSE 1 END)::numeric, 2) END,
                       s.currency, v.categories,
                       jsonb_build_array(jsonb_build_object(
                           'sku', 'SKU-' || (1000 + floor(bench_u(v.id, 43) * 5000)::int),
                           'name', 'Item', 'quantity', 1, 'unit_price', '0')),
                       v.source, NULL::varchar, {at}, v.customer_id, v.store_id, v.id
                FROM visits_visit v JOIN stores_store s ON s.id = v.store_id
                WHERE v.bought AND v.customer_id IS NOT NULL""",
            order="q.occurred_at")
        self.restore_indexes()

    def phase_links(self) -> None:
        self.drop_indexes("customers_customerstore")
        self.insert(
            "customers_customerstore",
            ["first_seen_at", "last_seen_at", "customer_id", "store_id", "name"],
            """SELECT l.first_at, l.last_at, l.customer_id, l.store_id,
                      CASE WHEN l.store_id = c.home_store_id
                           THEN CASE WHEN bench_u(c.id, 102) < 0.05 THEN NULL ELSE c.name END
                           WHEN bench_u(c.id * 32 + l.store_id, 51) < 0.8 THEN c.name
                           ELSE '' END
               FROM (SELECT customer_id, store_id, min(at) AS first_at, max(at) AS last_at
                     FROM (SELECT id AS customer_id, home_store_id AS store_id, created_at AS at
                           FROM customers_customer
                           UNION ALL
                           SELECT customer_id, store_id, occurred_at FROM visits_visit
                           WHERE customer_id IS NOT NULL) a
                     GROUP BY customer_id, store_id) l
               JOIN customers_customer c ON c.id = l.customer_id""",
            order="q.first_seen_at")
        self.restore_indexes()

    # delivery: enrolments, touches, answers, escalations, call tasks

    def steps(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT s.id, s.flow_id, f.slug, s.position, s.key, s.kind, s.commercial, "
            "s.delay_seconds, s.anchor, s.channels, s.expires_seconds, s.answers, s.assignee "
            "FROM flows_flowstep s JOIN flows_flow f ON f.id = s.flow_id WHERE NOT s.retired "
            "ORDER BY s.flow_id, s.position").fetchall()
        out: list[dict[str, Any]] = []
        previous: dict[int, int] = {}
        for (pk, flow, slug, position, key, kind, commercial, delay, anchor, channels, expires,
             answers, assignee) in rows:
            before = previous.get(flow, 0)
            offset = delay if anchor == "entry" else before + delay
            previous[flow] = offset
            out.append({"id": pk, "flow": flow, "slug": slug, "position": position, "key": key,
                        "kind": kind, "commercial": commercial, "offset": offset,
                        "prev": before, "expires": expires, "channels": channels or [],
                        "answers": answers, "assignee": assignee})
        return out

    def steps_sql(self, where: str = "TRUE") -> str:
        rows = ", ".join(
            f"({s['id']}::bigint, {s['flow']}::bigint, {lit(s['slug'])}::text, {s['position']}, "
            f"{lit(s['key'])}::text, {lit(s['kind'])}::text, {lit(s['commercial'])}, "
            f"{s['offset']}::bigint, {s['prev']}::bigint, {s['expires']}::bigint, "
            f"{text_array(s['channels']) if s['channels'] else 'ARRAY[]::text[]'}, "
            f"{len(s['channels'])}, {lit(s['answers'])}::text, {lit(s['assignee'])}::text)"
            for s in self.steps())
        return (f"(SELECT * FROM (VALUES {rows}) v(step_id, flow_id, slug, position, key, kind, "
                f"commercial, offset_s, prev_s, expires_s, channels, nch, answers, assignee) "
                f"WHERE {where})")

    def flows_sql(self) -> str:
        spans: dict[int, tuple[str, int, int]] = {}
        for s in self.steps():
            slug, span, count = spans.get(s["flow"], (s["slug"], 0, 0))
            spans[s["flow"]] = (slug, max(span, s["offset"]), count + 1)
        rows = ", ".join(f"({pk}::bigint, {lit(slug)}::text, {span}::bigint, {count})"
                         for pk, (slug, span, count) in spans.items())
        return f"(VALUES {rows}) AS f(flow_id, slug, span_s, nsteps)"

    def enrol(self, sources: str, label: str) -> int:
        """Insert the enrolments of ``sources`` (seed, flow_id, customer_id, store_id,
        staff_id, visit_id, purchase_id, entered_at): ended when the chain's last step is
        past (15 % of multi-step ones left early), active otherwise, one active per chain
        and customer."""
        now = self.plan.now_sql
        return self.insert(
            "flows_enrollment",
            ["state", "entered_at", "ended_at", "end_reason", "customer_id", "purchase_id",
             "staff_id", "store_id", "visit_id", "flow_id"],
            f"""SELECT state, entered_at,
                       CASE state WHEN 'completed' THEN entered_at + span_s * interval '1 second'
                                  WHEN 'exited' THEN entered_at + span_s * interval '1 second'
                                                     * (0.1 + 0.8 * bench_u(seed, 62)) END,
                       CASE state WHEN 'completed' THEN 'completed'
                                  WHEN 'exited' THEN CASE WHEN bench_u(seed, 63) < 0.6 THEN
                                      'purchase'
                                                          WHEN bench_u(seed, 63) < 0.9 THEN
                                                              'opt_out'
                                                          ELSE 'unhappy' END
                                  ELSE '' END,
                       customer_id, purchase_id, staff_id, store_id, visit_id, flow_id
                FROM (SELECT e.*, row_number() OVER (PARTITION BY e.flow_id, e.customer_id,
                                                     e.state = 'active'
                                                     ORDER BY e.entered_at DESC) AS rn
                      FROM (SELECT src.*, f.span_s,
                                   CASE WHEN src.entered_at + f.span_s * interval '1 second' > {now}
                                        THEN 'active'
                                        WHEN f.nsteps > 1 AND bench_u(src.seed, 61) < 0.15
                                        THEN 'exited' ELSE 'completed' END AS state
                            FROM ({sources}) src(seed, flow_id, customer_id, store_id, staff_id,
                                                visit_id, purchase_id, entered_at)
                            JOIN {self.flows_sql()} ON f.flow_id = src.flow_id
                            WHERE src.entered_at <= {now}) e) ranked
                WHERE state <> 'active' OR rn = 1""",
            order="q.entered_at", label=label)

    def touches_of(self, after: int, count_only: bool = False) -> str:
        """The touches of the enrolments with id > ``after``: every step due before the
        enrolment ended (or now), and the next step of an active one, queued."""
        now = self.plan.now_sql
        pilot = ", ".join(str(s) for s in PILOT_STORES)
        due = f"""SELECT e.id AS enrollment_id, e.customer_id, e.store_id, st.step_id,
                         st.kind, st.commercial, st.channels, st.nch, st.expires_s,
                         e.id * 16 + st.position AS seed,
                         e.entered_at + st.offset_s * interval '1 second' AS due,
                         e.entered_at + st.prev_s * interval '1 second' AS made
                  FROM flows_enrollment e JOIN {self.steps_sql()} st ON st.flow_id = e.flow_id
                  WHERE e.id > {after}
                    AND (e.entered_at + st.offset_s * interval '1 second'
                           <= coalesce(e.ended_at, {now})
                         OR (e.state = 'active'
                             AND e.entered_at + st.offset_s * interval '1 second' > {now}
                             AND e.entered_at + st.prev_s * interval '1 second' <= {now}))"""
        if count_only:
            return f"SELECT count(*) FROM ({due}) d"
        return f"""
            SELECT 0, d.commercial, d.due, d.due + d.expires_s * interval '1 second', s.state,
                   s.channel, CASE s.state WHEN 'sent' THEN 1 + (bench_u(d.seed, 54) < 0.05)::int
                                           WHEN 'dead' THEN 3 ELSE 0 END,
                   CASE WHEN s.state = 'dead' THEN 'the provider refused the message' ELSE '' END,
                   md5(d.seed::text), '', NULL::timestamptz, s.finished,
                   CASE s.state WHEN 'skipped' THEN CASE WHEN d.kind = 'call' THEN 'calls_off'
                                                         ELSE 'capped' END
                                WHEN 'expired' THEN 'expired' WHEN 'dead' THEN 'rejected'
                                WHEN 'cancelled' THEN 'exited' ELSE '' END,
                   CASE WHEN s.state = 'sent' THEN 'pm-' || d.seed ELSE '' END,
                   d.made, d.customer_id, d.enrollment_id, d.step_id, d.store_id, '',
                   r.receipt,
                   CASE WHEN r.receipt <> '' THEN
                        least({now}, s.finished + bench_u(d.seed, 56) * interval '3 hours') END,
                   NULL::timestamptz
            FROM ({due}) d
            CROSS JOIN LATERAL (
                SELECT st.state, st.channel,
                       CASE st.state WHEN 'queued' THEN NULL
                            WHEN 'expired' THEN least({now}, d.due + d.expires_s * interval
                                '1 second')
                            ELSE least({now}, d.due + bench_u(d.seed, 53) * interval '5 minutes')
                       END AS finished
                FROM (SELECT CASE WHEN d.due > {now} THEN 'queued'
                                  WHEN d.kind = 'call' THEN
                                       CASE WHEN d.store_id IN ({pilot})
                                                 AND d.due > {now} - interval '45 days'
                                            THEN 'task' ELSE 'skipped' END
                                  WHEN bench_u(d.seed, 51) < 0.80 THEN 'sent'
                                  WHEN bench_u(d.seed, 51) < 0.88 THEN 'skipped'
                                  WHEN bench_u(d.seed, 51) < 0.92 THEN 'expired'
                                  WHEN bench_u(d.seed, 51) < 0.935 THEN 'dead'
                                  ELSE 'cancelled' END AS state,
                             CASE WHEN d.kind = 'call' OR d.nch = 0 THEN 'call'
                                  ELSE d.channels[1 + floor(bench_u(d.seed, 52) * d.nch)::int]
                             END AS channel) st) s
            CROSS JOIN LATERAL (
                SELECT CASE WHEN s.state <> 'sent' THEN ''
                            WHEN s.channel IN ('telegram', 'viber', 'whatsapp') THEN
                                 CASE WHEN bench_u(d.seed, 55) < 0.45 THEN 'read'
                                      WHEN bench_u(d.seed, 55) < 0.88 THEN 'delivered'
                                      WHEN bench_u(d.seed, 55) < 0.89 THEN 'failed' ELSE '' END
                            WHEN s.channel = 'sms' THEN
                                 CASE WHEN bench_u(d.seed, 55) < 0.85 THEN 'delivered'
                                      WHEN bench_u(d.seed, 55) < 0.87 THEN 'failed' ELSE '' END
                            ELSE CASE WHEN bench_u(d.seed, 55) < 0.70 THEN 'delivered'
                                      WHEN bench_u(d.seed, 55) < 0.72 THEN 'failed' ELSE '' END
                       END AS receipt) r"""

    TOUCH_COLUMNS = ["round", "commercial", "due_at", "expires_at", "state", "channel",
                     "attempts", "last_error", "idempotency_key", "lease_owner", "lease_until",
                     "finished_at", "reason", "provider_message_id", "created_at", "customer_id",
                     "enrollment_id", "step_id", "store_id", "failed_channels", "receipt",
                     "receipt_at", "in_flight_at"]

    def phase_delivery(self) -> None:
        p = self.plan
        now = p.now_sql
        flows: dict[str, int] = dict(
            self.conn.execute("SELECT slug, id FROM flows_flow").fetchall())
        need = {"check-in", "loyalty", "warming", "review", "referral", "re-engagement"}
        if not need <= set(flows):
            raise SystemExit(f"the example chains changed: need {sorted(need)}, "
                             f"have {sorted(flows)}")
        self.drop_indexes("flows_enrollment", "delivery_touch")
        # Chains the visits and purchases enter people in.
        self.enrol(f"""
            SELECT p.id * 8 + 1, {flows['check-in']}::bigint, p.customer_id, p.store_id,
                   v.staff_id, p.visit_id, p.id, p.occurred_at
            FROM purchases_purchase p LEFT JOIN visits_visit v ON v.id = p.visit_id
            WHERE bench_u(p.id, 21) < 0.85
            UNION ALL
            SELECT v.id * 8 + 2, {flows['loyalty']}, v.customer_id, v.store_id, v.staff_id, v.id,
                   NULL::bigint, v.occurred_at
            FROM visits_visit v WHERE v.visit_class = 'type1' AND bench_u(v.id, 22) < 0.7
            UNION ALL
            SELECT v.id * 8 + 3, {flows['warming']}, v.customer_id, v.store_id, v.staff_id, v.id,
                   NULL::bigint, v.occurred_at + interval '1 minute'
            FROM visits_visit v WHERE v.visit_class = 'type3' AND bench_u(v.id, 23) < 0.9""",
                   "enrolments (check-in, loyalty, warming)")
        # Quarterly re-engagement campaigns, sized so that the touches reach the target.
        so_far = int(self.one(self.touches_of(0, count_only=True)))
        checkins = int(self.one(f"SELECT count(*) FROM flows_enrollment "
                                f"WHERE flow_id = {flows['check-in']}"))
        follow_ups = int(checkins * 0.8 * 0.4 * (0.9 + 0.85 * 0.9))
        campaign = (f"bench_at(({now} AT TIME ZONE 'UTC')::date - 3 - 91 * k, 0.1, "
                    "s.time_zone)")
        eligible = int(self.one(
            f"""SELECT count(*) FROM customers_customer c JOIN stores_store s ON s.id =
                c.home_store_id
                CROSS JOIN generate_series(0, 11) k
                WHERE c.merged_into_id IS NULL AND c.created_at < {campaign} - interval
                    '120 days'"""))
        # ~2.6 touches an enrolment: three steps, less the early leavers and the last
        # campaign's steps not yet due.
        share = max(0.0, min(1.0, (p.touches - so_far - follow_ups) / max(1, 2.6 * eligible)))
        log(f"  {so_far:,} touches so far, ~{follow_ups:,} to follow from answers; "
            f"re-engagement takes {share:.3f} of {eligible:,} eligible (customer, campaign)")
        self.enrol(f"""
            SELECT -(c.id * 16 + k), {flows['re-engagement']}::bigint, c.id, c.home_store_id,
                   NULL::bigint, NULL::bigint, NULL::bigint,
                   {campaign} + bench_u(c.id * 16 + k, 64) * interval '2 hours'
            FROM customers_customer c JOIN stores_store s ON s.id = c.home_store_id
            CROSS JOIN generate_series(0, 11) k
            WHERE c.merged_into_id IS NULL AND c.created_at < {campaign} - interval '120 days'
              AND bench_u(c.id * 16 + k, 65) < {share}""", "enrolments (re-engagement)")
        self.insert("delivery_touch", self.TOUCH_COLUMNS, self.touches_of(0), order="q.created_at",
                    label="touches")
        self.restore_indexes()
        # Check-in answers (40 % of the check-ins sent), escalations of the unhappy ones.
        checkin_steps = self.steps_sql("kind = 'check_in'")
        answered = "t.finished_at + bench_u(t.id, 71) * interval '48 hours'"
        self.insert(
            "aftercare_checkinanswer",
            ["kind", "value", "mood", "via", "text", "answered_at", "changed_at", "customer_id",
             "purchase_id", "staff_id", "store_id", "touch_id", "visit_id"],
            f"""SELECT st.answers, a.value,
                       CASE WHEN st.answers = 'yes_no' THEN
                                 CASE a.value WHEN 1 THEN 'happy' ELSE 'unhappy' END
                            WHEN a.value >= 4 THEN 'happy' WHEN a.value = 3 THEN 'neutral'
                            ELSE 'unhappy' END,
                       CASE WHEN t.channel IN ('sms', 'email') AND bench_u(t.id, 74) < 0.5
                            THEN 'page' ELSE t.channel END,
                       '', {answered}, NULL::timestamptz, t.customer_id, e.purchase_id, e.staff_id,
                       t.store_id, t.id, e.visit_id
                FROM delivery_touch t JOIN {checkin_steps} st ON st.step_id = t.step_id
                JOIN flows_enrollment e ON e.id = t.enrollment_id
                CROSS JOIN LATERAL (SELECT CASE WHEN st.answers = 'yes_no'
                                                THEN (bench_u(t.id, 73) < 0.85)::int
                                                ELSE 5 - least(4, floor(4.6 * power(bench_u(t.id,
                                                    73), 2.2))::int)
                                           END AS value) a
                WHERE t.state = 'sent' AND bench_u(t.id, 72) < 0.4 AND {answered} <= {now}""",
            order="q.answered_at", label="check-in answers")
        resolved = "bench_u(a.id, 76) < 0.95 AND a.answered_at < " + now + " - interval '1 day'"
        resolved_at = "a.answered_at + bench_u(a.id, 77) * interval '9 hours'"
        self.insert(
            "aftercare_escalation",
            ["reason", "text", "opened_at", "due_at", "alerted_at", "resolved_at", "resolution",
             "note", "answer_id", "assignee_id", "customer_id", "purchase_id", "resolved_by_id",
             "seller_id", "store_id", "touch_id", "visit_id"],
            f"""SELECT CASE a.kind WHEN 'yes_no' THEN 'no' ELSE 'rating' END, '', a.answered_at,
                       a.answered_at + interval '4 hours', a.answered_at,
                       CASE WHEN {resolved} THEN {resolved_at} END,
                       CASE WHEN {resolved} THEN (ARRAY['called', 'fixed', 'replaced', 'refunded',
                            'no_answer', 'not_a_problem'])[1 + floor(bench_u(a.id, 78) * 6)::int]
                            ELSE '' END,
                       '', a.id, 100 + a.store_id, a.customer_id, a.purchase_id,
                       CASE WHEN {resolved} THEN 100 + a.store_id END, a.staff_id, a.store_id,
                       a.touch_id, a.visit_id
                FROM aftercare_checkinanswer a WHERE a.mood = 'unhappy'""",
            order="q.opened_at", label="escalations")
        # Chains the answers enter people in: a review request, a referral request.
        last = int(self.one("SELECT coalesce(max(id), 0) FROM flows_enrollment"))
        self.enrol(f"""
            SELECT a.id * 4 + 1, {flows['review']}::bigint, a.customer_id, a.store_id, a.staff_id,
                   a.visit_id, a.purchase_id, a.answered_at
            FROM aftercare_checkinanswer a WHERE bench_u(a.id, 81) < 0.9
            UNION ALL
            SELECT a.id * 4 + 2, {flows['referral']}, a.customer_id, a.store_id, a.staff_id,
                   a.visit_id, a.purchase_id, a.answered_at
            FROM aftercare_checkinanswer a WHERE a.mood = 'happy' AND bench_u(a.id, 82) < 0.9""",
                   "enrolments (review, referral)")
        self.insert("delivery_touch", self.TOUCH_COLUMNS, self.touches_of(last),
                    order="q.created_at", label="touches (review, referral)")
        # Call tasks: the pilot stores' call steps of the last 45 days.
        call_steps = self.steps_sql("kind = 'call'")
        done = f"(t.due_at < {now} - interval '14 days' OR (t.due_at < {now} - interval '1 day' " \
               f"AND bench_u(t.id, 91) < 0.8))"
        minutes = ""
        if "minutes" in self.columns("delivery_calltask"):  # how long a logged call took
            minutes = (f", CASE WHEN {done} AND bench_u(t.id, 94) < 0.7 "
                       "THEN 2 + floor(bench_u(t.id, 95) * 14)::int END")
        self.insert(
            "delivery_calltask",
            ["phone", "script", "due_at", "state", "result", "note", "done_at", "assignee_id",
             "customer_id", "done_by_id", "store_id", "touch_id",
             *(["minutes"] if minutes else [])],
            f"""SELECT coalesce(ph.value, ''), 'Ask how the visit went and whether we can help.',
                       t.due_at, CASE WHEN {done} THEN 'done' ELSE 'open' END,
                       CASE WHEN {done} THEN (ARRAY['reached', 'reached', 'no_answer', 'no_answer',
                            'call_back', 'declined'])[1 + floor(bench_u(t.id, 92) * 6)::int]
                            ELSE '' END, '',
                       CASE WHEN {done} THEN least({now}, t.due_at + bench_u(t.id, 93) * interval
                           '2 days') END,
                       a.assignee, t.customer_id, CASE WHEN {done} THEN a.assignee END,
                       t.store_id, t.id{minutes}
                FROM delivery_touch t JOIN {call_steps} st ON st.step_id = t.step_id
                JOIN flows_enrollment e ON e.id = t.enrollment_id
                CROSS JOIN LATERAL (SELECT CASE WHEN st.assignee = 'seller' AND e.staff_id IS NOT
                    NULL
                                                THEN e.staff_id ELSE 100 + t.store_id END AS
                                                    assignee) a
                LEFT JOIN LATERAL (SELECT value FROM customers_contactpoint cp
                                   WHERE cp.customer_id = t.customer_id AND cp.kind = 'phone'
                                   LIMIT 1) ph ON TRUE
                WHERE t.state = 'task'""", order="q.due_at", label="call tasks")
        # What the figures and the timeline derive from the touches alike: the chain a sale
        # is credited to (the store's last sent touch within 14 days before it, decision
        # 0028) and the replies and STOPs to sent messages.
        self.sql("DROP TABLE IF EXISTS bench_credit, bench_messages")
        self.sql(f"""
            CREATE TABLE bench_credit AS
            SELECT p.id AS purchase_id, coalesce(cr.slug, '') AS flow, coalesce(cr.key, '') AS step
            FROM purchases_purchase p LEFT JOIN LATERAL (
                SELECT st.slug, st.key FROM delivery_touch t
                JOIN {self.steps_sql()} st ON st.step_id = t.step_id
                WHERE t.customer_id = p.customer_id AND t.state = 'sent'
                  AND t.store_id = p.store_id
                  AND t.finished_at >= p.occurred_at - interval '14 days'
                  AND t.finished_at <= p.occurred_at
                ORDER BY t.finished_at DESC LIMIT 1) cr ON TRUE""", "purchase credits")
        self.sql(f"""
            CREATE TABLE bench_messages AS
            SELECT t.id AS touch_id, t.customer_id, t.store_id, st.slug AS flow, t.channel,
                   coalesce(e.staff_id, 100 + t.store_id) AS staff_id,
                   t.finished_at + bench_u(t.id, 101) * interval '6 hours' AS at,
                   CASE WHEN bench_u(t.id, 102) < 0.04 THEN 'reply' ELSE 'stop' END AS what,
                   CASE WHEN bench_u(t.id, 103) < 0.7 THEN 'text' ELSE 'button' END AS how,
                   bench_u(t.id, 104) < 0.5 AS answered,
                   EXISTS (SELECT 1 FROM purchases_purchase p WHERE p.customer_id = t.customer_id
                           AND p.store_id = t.store_id AND p.occurred_at <= t.finished_at) AS bought
            FROM delivery_touch t JOIN {self.steps_sql()} st ON st.step_id = t.step_id
            JOIN flows_enrollment e ON e.id = t.enrollment_id
            WHERE t.state = 'sent' AND bench_u(t.id, 102) < 0.046
              AND t.finished_at + bench_u(t.id, 101) * interval '6 hours' <= {now}""",
                 "replies and STOPs")

    def phase_health(self) -> None:
        p = self.plan
        now = p.now_sql
        today = f"({now} AT TIME ZONE s.time_zone)::date"
        self.drop_indexes("health_customerhealth")
        self.sql("DROP TABLE IF EXISTS bench_rhythm")
        self.sql(f"""
            CREATE TABLE bench_rhythm AS
            SELECT l.customer_id, l.store_id, {today} AS today,
                   pd.n AS purchase_days, pd.first_day, pd.last_day, vd.last_visit,
                   (c.created_at AT TIME ZONE s.time_zone)::date AS created
            FROM customers_customerstore l JOIN stores_store s ON s.id = l.store_id
            JOIN customers_customer c ON c.id = l.customer_id
            LEFT JOIN (SELECT customer_id, store_id, count(DISTINCT day) AS n, min(day) AS
                first_day,
                              max(day) AS last_day
                       FROM (SELECT p.customer_id, p.store_id,
                                    (p.occurred_at AT TIME ZONE s.time_zone)::date AS day
                             FROM purchases_purchase p JOIN stores_store s ON s.id = p.store_id) x
                       GROUP BY 1, 2) pd ON pd.customer_id = l.customer_id AND pd.store_id =
                           l.store_id
            LEFT JOIN (SELECT v.customer_id, v.store_id,
                              max((v.occurred_at AT TIME ZONE s.time_zone)::date) AS last_visit
                       FROM visits_visit v JOIN stores_store s ON s.id = v.store_id
                       WHERE v.customer_id IS NOT NULL GROUP BY 1, 2) vd
                   ON vd.customer_id = l.customer_id AND vd.store_id = l.store_id
            WHERE c.merged_into_id IS NULL""", "rhythms")
        self.insert(
            "health_customerhealth",
            ["segment", "last_purchase_on", "last_contact_on", "purchase_days", "rhythm_days",
             "rhythm_source", "days_since", "days_overdue", "ratio", "p_alive", "expected_90d",
             "cold", "reason", "computed_at", "customer_id", "store_id"],
            f"""SELECT segment, last_day, last_visit, coalesce(purchase_days, 0), rhythm, source,
                       since, since - rhythm, since / rhythm, p_alive,
                       CASE WHEN segment = 'buyers' THEN 90 / rhythm * coalesce(p_alive, 1) END,
                       cold,
                       CASE WHEN NOT cold THEN 'in_rhythm' WHEN source = 'own' THEN
                           'overdue_own_rhythm'
                            WHEN source = 'store' THEN 'overdue_store_rhythm'
                            ELSE 'overdue_visit_rhythm' END,
                       {now}, customer_id, store_id
                FROM (SELECT h.*, since / rhythm > CASE WHEN source = 'own' THEN 1.5 ELSE 2.5 END
                    AS cold,
                             CASE WHEN purchase_days >= 2
                                  THEN exp(-0.25 * since / rhythm) END AS p_alive
                      FROM (SELECT r.*, CASE WHEN r.purchase_days > 0 THEN 'buyers'
                                             ELSE 'prospects' END AS segment,
                                   CASE WHEN r.purchase_days >= 3 THEN 'own'
                                        WHEN r.purchase_days > 0 THEN 'store' ELSE 'visits' END
                                            AS source,
                                   greatest(1.0, CASE WHEN r.purchase_days >= 3
                                        THEN (r.last_day - r.first_day)::float8 /
                                            (r.purchase_days - 1)
                                        WHEN r.purchase_days > 0 THEN sr.buyers ELSE sr.visitors
                                            END)
                                        AS rhythm,
                                   (r.today - greatest(r.last_day, r.last_visit,
                                       r.created))::float8 AS since
                            FROM bench_rhythm r
                            JOIN (SELECT store_id,
                                         coalesce(avg((last_day - first_day)::float8 /
                                             (purchase_days - 1))
                                                  FILTER (WHERE purchase_days >= 2), 90) AS buyers,
                                         45.0 AS visitors
                                  FROM bench_rhythm GROUP BY store_id) sr
                                 ON sr.store_id = r.store_id) h) x""",
            order="q.store_id, q.customer_id", label="customer health")
        self.restore_indexes()
        self.insert(
            "health_storefit",
            ["as_of", "fitted_at", "claimed_until", "seconds", "buyers", "cold_buyers", "prospects",
             "cold_prospects", "repeat_buyers", "store_rhythm_days", "visit_rhythm_days", "r",
             "alpha", "a", "b", "note", "detail", "store_id"],
            f"""SELECT ({now} AT TIME ZONE s.time_zone)::date, {now}, NULL::timestamptz, 14.2,
                       count(*) FILTER (WHERE h.segment = 'buyers'),
                       count(*) FILTER (WHERE h.segment = 'buyers' AND h.cold),
                       count(*) FILTER (WHERE h.segment = 'prospects'),
                       count(*) FILTER (WHERE h.segment = 'prospects' AND h.cold),
                       count(*) FILTER (WHERE h.purchase_days >= 2),
                       avg(h.rhythm_days) FILTER (WHERE h.rhythm_source = 'store'),
                       45.0, 0.63, 47.6, 0.049, 1.69, 'fitted', '', s.id
                FROM stores_store s LEFT JOIN health_customerhealth h ON h.store_id = s.id
                GROUP BY s.id""", label="store fits")
        self.sql("DROP TABLE bench_rhythm")

    def phase_timeline(self) -> None:
        now = self.plan.now_sql
        steps = self.steps_sql()
        minutes = ("ct.minutes" if "minutes" in self.columns("delivery_calltask")
                   else "NULL::int")
        self.sql("DROP TABLE IF EXISTS bench_sample")
        self.sql(f"""CREATE TABLE bench_sample AS
                     SELECT id FROM customers_customer WHERE id % {SAMPLE_EVERY} = 0
                     UNION
                     SELECT customer_id FROM visits_visit WHERE customer_id IS NOT NULL
                     GROUP BY customer_id HAVING count(*) >= {SAMPLE_HEAVY}""", "sampled customers")
        self.sql("ALTER TABLE bench_sample ADD PRIMARY KEY (id)")
        self.sql("ANALYZE bench_sample")
        touch_data = ("jsonb_build_object('touch', t.id, 'flow', st.slug, 'step', st.key, "
                      "'channel', t.channel, 'outcome', o.outcome, 'attempt', t.attempts, "
                      "'reason', t.reason, 'error', '')")
        rows = f"""
            SELECT 'customer_created' AS kind, c.created_at AS at,
                   jsonb_build_object('source', CASE WHEN bench_u(c.id, 102) < 0.05 THEN 'import'
                                                     ELSE 'counter' END, 'name', c.name) AS data,
                   c.id AS customer_id, NULL::bigint AS purchase_id, NULL::bigint AS staff_id,
                   c.home_store_id AS store_id, NULL::bigint AS visit_id
            FROM customers_customer c JOIN bench_sample b ON b.id = c.id
            UNION ALL
            SELECT 'contact_added', p.created_at,
                   jsonb_build_object('kind', p.kind, 'value', p.value, 'source', 'counter'),
                   p.customer_id, NULL, NULL, NULL, NULL
            FROM customers_contactpoint p JOIN bench_sample b ON b.id = p.customer_id
            UNION ALL
            SELECT 'consent', e.at,
                   jsonb_build_object('contact', p.value, 'kind', p.kind, 'purpose', e.purpose,
                                      'granted', e.granted, 'source', e.source),
                   e.customer_id, NULL, e.staff_id, e.store_id, NULL
            FROM customers_consentevent e JOIN bench_sample b ON b.id = e.customer_id
            JOIN customers_contactpoint p ON p.id = e.contact_point_id
            UNION ALL
            SELECT 'visit', v.occurred_at,
                   jsonb_build_object('class', v.visit_class, 'bought', v.bought,
                                      'contacts', v.contact_capture, 'reason', r.code,
                                      'categories', v.categories)
                   || CASE WHEN v.again THEN '{{"again": true}}'::jsonb ELSE '{{}}'::jsonb END,
                   v.customer_id, NULL, v.staff_id, v.store_id, v.id
            FROM (SELECT v.*, row_number() OVER (PARTITION BY v.customer_id, v.store_id
                                                 ORDER BY v.occurred_at, v.id) > 1 AS again
                  FROM visits_visit v JOIN bench_sample b ON b.id = v.customer_id) v
            LEFT JOIN visits_reason r ON r.id = v.reason_id
            UNION ALL
            SELECT 'purchase', p.occurred_at,
                   jsonb_build_object('amount', coalesce(p.amount::text, 'None'),
                                      'currency', p.currency, 'categories', p.categories,
                                      'items', jsonb_array_length(p.items),
                                      'external_id', p.external_id)
                   || CASE WHEN cr.flow <> '' THEN jsonb_build_object('flow', cr.flow, 'step',
                       cr.step)
                           ELSE '{{}}'::jsonb END,
                   p.customer_id, p.id, NULL, p.store_id, NULL
            FROM purchases_purchase p JOIN bench_sample b ON b.id = p.customer_id
            LEFT JOIN bench_credit cr ON cr.purchase_id = p.id
            UNION ALL
            SELECT 'enrolled', e.entered_at, jsonb_build_object('flow', f.slug, 'flow_name',
                f.name),
                   e.customer_id, NULL, NULL, e.store_id, NULL
            FROM flows_enrollment e JOIN bench_sample b ON b.id = e.customer_id
            JOIN flows_flow f ON f.id = e.flow_id
            UNION ALL
            SELECT 'left_flow', e.ended_at,
                   jsonb_build_object('flow', f.slug, 'flow_name', f.name, 'state', e.state,
                                      'reason', e.end_reason),
                   e.customer_id, NULL, NULL, e.store_id, NULL
            FROM flows_enrollment e JOIN bench_sample b ON b.id = e.customer_id
            JOIN flows_flow f ON f.id = e.flow_id WHERE e.ended_at IS NOT NULL
            UNION ALL
            SELECT 'touch', o.at, {touch_data}, t.customer_id, NULL, NULL, t.store_id, NULL
            FROM delivery_touch t JOIN bench_sample b ON b.id = t.customer_id
            JOIN {steps} st ON st.step_id = t.step_id
            CROSS JOIN LATERAL (VALUES (t.state, t.finished_at),
                ('delivered', CASE WHEN t.receipt IN ('delivered', 'read')
                                   THEN t.receipt_at - interval '1 minute' END),
                ('read', CASE WHEN t.receipt = 'read' THEN t.receipt_at END),
                ('failed', CASE WHEN t.receipt = 'failed' THEN t.receipt_at END)) o(outcome, at)
            WHERE o.at IS NOT NULL
            UNION ALL
            SELECT 'touch', ct.done_at,
                   jsonb_build_object('touch', t.id, 'flow', st.slug, 'step', st.key,
                                      'channel', 'call', 'outcome', 'call_logged', 'attempt', 0,
                                      'reason', '', 'error', '', 'result', ct.result, 'note', '')
                   || CASE WHEN {minutes} IS NOT NULL THEN jsonb_build_object('minutes', {minutes})
                           ELSE '{{}}'::jsonb END,
                   ct.customer_id, NULL, ct.done_by_id, ct.store_id, NULL
            FROM delivery_calltask ct JOIN bench_sample b ON b.id = ct.customer_id
            JOIN delivery_touch t ON t.id = ct.touch_id JOIN {steps} st ON st.step_id = t.step_id
            WHERE ct.state = 'done'
            UNION ALL
            SELECT 'check_in_answer', a.answered_at,
                   jsonb_build_object('chain', f.name, 'step', st.key, 'touch', a.touch_id,
                                      'kind', a.kind, 'answer', a.value, 'mood', a.mood,
                                      'via', a.via, 'text', '', 'changed', FALSE),
                   a.customer_id, a.purchase_id, a.staff_id, a.store_id, a.visit_id
            FROM aftercare_checkinanswer a JOIN bench_sample b ON b.id = a.customer_id
            JOIN delivery_touch t ON t.id = a.touch_id JOIN {steps} st ON st.step_id = t.step_id
            JOIN flows_flow f ON f.id = st.flow_id
            UNION ALL
            SELECT 'escalation_opened', x.opened_at,
                   jsonb_build_object('escalation', x.id, 'reason', x.reason, 'answer', 0,
                                      'text', '', 'due_at', x.due_at, 'assignee', x.assignee_id),
                   x.customer_id, x.purchase_id, x.seller_id, x.store_id, x.visit_id
            FROM aftercare_escalation x JOIN bench_sample b ON b.id = x.customer_id
            UNION ALL
            SELECT 'escalation_resolved', x.resolved_at,
                   jsonb_build_object('escalation', x.id, 'resolution', x.resolution, 'note', '',
                                      'overdue', x.resolved_at > x.due_at,
                                      'working_minutes', extract(epoch FROM x.resolved_at -
                                          x.opened_at)::int / 60),
                   x.customer_id, x.purchase_id, x.resolved_by_id, x.store_id, x.visit_id
            FROM aftercare_escalation x JOIN bench_sample b ON b.id = x.customer_id
            WHERE x.resolved_at IS NOT NULL
            UNION ALL
            SELECT 'message_in', m.at,
                   jsonb_build_object('channel', m.channel, 'text',
                                      CASE m.what WHEN 'stop' THEN 'STOP' ELSE 'Thank you!' END,
                                      'from', '', 'flow', m.flow)
                   || CASE WHEN m.what = 'stop' THEN jsonb_build_object('stop', m.how, 'chains', 1)
                           ELSE '{{}}'::jsonb END,
                   m.customer_id, NULL, NULL, m.store_id, NULL
            FROM bench_messages m JOIN bench_sample b ON b.id = m.customer_id
            UNION ALL
            SELECT 'message_out', m.at + interval '1 hour',
                   jsonb_build_object('channel', m.channel, 'text', 'You are welcome.', 'to', '',
                                      'bought', m.bought),
                   m.customer_id, NULL, m.staff_id, m.store_id, NULL
            FROM bench_messages m JOIN bench_sample b ON b.id = m.customer_id
            WHERE m.what = 'reply' AND m.answered AND m.at + interval '1 hour' <= {now}"""
        self.drop_indexes("timeline_timelineevent")
        self.insert("timeline_timelineevent",
                    ["kind", "at", "data", "customer_id", "purchase_id", "staff_id", "store_id",
                     "visit_id"], rows, order="q.at", label="timeline rows")
        self.restore_indexes()
        counts = self.conn.execute(
            "SELECT customer_id, count(*) FROM timeline_timelineevent GROUP BY customer_id "
            "ORDER BY 2, 1").fetchall()
        heavy = counts[-1]
        typical = counts[len(counts) // 2]
        self.set_meta("customers", {"typical": typical[0], "typical_rows": typical[1],
                                    "heavy": heavy[0], "heavy_rows": heavy[1],
                                    "sampled": len(counts)})
        log(f"  sampled {len(counts):,} customers; typical #{typical[0]} ({typical[1]} rows), "
            f"longest #{heavy[0]} ({heavy[1]} rows)")

    def figure_sources(self) -> dict[str, str]:
        """The events the figures count, one SQL each: (kind, at, store_id, staff_id, data,
        n, amount) with ``data`` holding what the app's timeline row (or, for visits, its
        ``visit_written``) would hold of the keys ``figures.counts_of`` reads, and
        ``amount`` the figure's amount (the summed sale, minutes)."""
        now = self.plan.now_sql
        steps = self.steps_sql()
        zero = "0::numeric"
        minutes = ("ct.minutes" if "minutes" in self.columns("delivery_calltask")
                   else "NULL::int")
        return {
            "visit": f"""
                SELECT 'visit', v.occurred_at, v.store_id, v.staff_id,
                       jsonb_build_object('class', v.visit_class, 'contacts', v.contact_capture,
                                          'reason', r.code, 'again', v.again),
                       1, {zero}
                FROM (SELECT *, customer_id IS NOT NULL AND row_number() OVER (
                                    PARTITION BY customer_id, store_id
                                    ORDER BY occurred_at, id) > 1 AS again
                      FROM visits_visit) v
                LEFT JOIN visits_reason r ON r.id = v.reason_id""",
            "purchase": """
                SELECT 'purchase', p.occurred_at, p.store_id, NULL::bigint,
                       jsonb_build_object('currency', p.currency)
                       || CASE WHEN c.flow <> '' THEN jsonb_build_object('flow', c.flow,
                                                                         'step', c.step)
                               ELSE '{}'::jsonb END,
                       1, coalesce(p.amount, 0)
                FROM purchases_purchase p LEFT JOIN bench_credit c ON c.purchase_id = p.id""",
            "touch": f"""
                SELECT 'touch', o.at, t.store_id, NULL::bigint,
                       jsonb_build_object('flow', st.slug, 'step', st.key, 'channel', t.channel,
                                          'outcome', o.outcome),
                       1, {zero}
                FROM delivery_touch t JOIN {steps} st ON st.step_id = t.step_id
                CROSS JOIN LATERAL (VALUES (t.state, t.finished_at),
                    ('delivered', CASE WHEN t.receipt IN ('delivered', 'read')
                                       THEN t.receipt_at - interval '1 minute' END),
                    ('read', CASE WHEN t.receipt = 'read' THEN t.receipt_at END),
                    ('failed', CASE WHEN t.receipt = 'failed' THEN t.receipt_at END)) o(outcome, at)
                WHERE o.at IS NOT NULL""",
            "call_logged": f"""
                SELECT 'touch', ct.done_at, ct.store_id, ct.done_by_id,
                       jsonb_build_object('flow', st.slug, 'step', st.key, 'channel', 'call',
                                          'outcome', 'call_logged', 'result', ct.result)
                       || CASE WHEN {minutes} IS NOT NULL
                               THEN jsonb_build_object('minutes', 0) ELSE '{{}}'::jsonb END,
                       1, coalesce({minutes}, 0)::numeric
                FROM delivery_calltask ct JOIN delivery_touch t ON t.id = ct.touch_id
                JOIN {steps} st ON st.step_id = t.step_id WHERE ct.state = 'done'""",
            "bounce": f"""
                SELECT 'bounce', t.receipt_at, t.store_id, NULL::bigint,
                       jsonb_build_object('hard', TRUE), 1, {zero}
                FROM delivery_touch t WHERE t.receipt = 'failed' AND t.channel = 'email'""",
            "enrolled": f"""
                SELECT 'enrolled', e.entered_at, e.store_id, NULL::bigint,
                       jsonb_build_object('flow', f.slug), 1, {zero}
                FROM flows_enrollment e JOIN flows_flow f ON f.id = e.flow_id""",
            "left_flow": f"""
                SELECT 'left_flow', e.ended_at, e.store_id, NULL::bigint,
                       jsonb_build_object('flow', f.slug, 'state', e.state,
                                          'reason', e.end_reason), 1, {zero}
                FROM flows_enrollment e JOIN flows_flow f ON f.id = e.flow_id
                WHERE e.ended_at IS NOT NULL""",
            "customer_created": f"""
                SELECT 'customer_created', c.created_at, c.home_store_id, NULL::bigint,
                       jsonb_build_object('source', CASE WHEN bench_u(c.id, 102) < 0.05
                                                         THEN 'import' ELSE 'counter' END),
                       1, {zero}
                FROM customers_customer c""",
            "consent": f"""
                SELECT 'consent', e.at, e.store_id, e.staff_id,
                       jsonb_build_object('purpose', e.purpose, 'granted', e.granted,
                                          'source', e.source), 1, {zero}
                FROM customers_consentevent e""",
            "check_in_answer": f"""
                SELECT 'check_in_answer', a.answered_at, a.store_id, a.staff_id,
                       jsonb_build_object('mood', a.mood, 'kind', a.kind, 'via', a.via,
                                          'answer', a.value,
                                          'categories', coalesce(p.categories, v.categories)),
                       1, {zero}
                FROM aftercare_checkinanswer a
                LEFT JOIN purchases_purchase p ON p.id = a.purchase_id
                LEFT JOIN visits_visit v ON v.id = a.visit_id""",
            "escalation_opened": f"""
                SELECT 'escalation_opened', x.opened_at, x.store_id, x.seller_id,
                       jsonb_build_object('reason', x.reason), 1, {zero}
                FROM aftercare_escalation x""",
            "escalation_resolved": """
                SELECT 'escalation_resolved', x.resolved_at, x.store_id, x.resolved_by_id,
                       jsonb_build_object('resolution', x.resolution,
                                          'overdue', x.resolved_at > x.due_at),
                       1, (extract(epoch FROM x.resolved_at - x.opened_at)::int / 60)::numeric
                FROM aftercare_escalation x WHERE x.resolved_at IS NOT NULL""",
            "message_in": f"""
                SELECT 'message_in', m.at, m.store_id, NULL::bigint,
                       jsonb_build_object('channel', m.channel, 'flow', m.flow)
                       || CASE WHEN m.what = 'stop' THEN jsonb_build_object('stop', m.how)
                               ELSE '{{}}'::jsonb END, 1, {zero}
                FROM bench_messages m""",
            "message_out": f"""
                SELECT 'message_out', m.at + interval '1 hour', m.store_id, m.staff_id,
                       jsonb_build_object('channel', m.channel, 'bought', m.bought), 1, {zero}
                FROM bench_messages m
                WHERE m.what = 'reply' AND m.answered AND m.at + interval '1 hour' <= {now}""",
            "referrals_reviews": f"""
                SELECT o.kind, least({now}, t.finished_at + interval '1 day'), t.store_id,
                       NULL::bigint, o.data, 1, {zero}
                FROM delivery_touch t JOIN {steps} st ON st.step_id = t.step_id
                CROSS JOIN LATERAL (VALUES
                    ('referral_made', '{{"state": "counted", "via": "counter"}}'::jsonb,
                     st.kind = 'referral_request' AND bench_u(t.id, 111) < 0.06),
                    ('referred', '{{"state": "counted", "via": "counter"}}'::jsonb,
                     st.kind = 'referral_request' AND bench_u(t.id, 111) < 0.06),
                    ('review_click', '{{}}'::jsonb,
                     st.kind = 'review_request' AND bench_u(t.id, 112) < 0.15)) o(kind, data, yes)
                WHERE t.state = 'sent' AND o.yes""",
        }

    def phase_figures(self) -> None:
        self.sql("DROP TABLE IF EXISTS bench_counts")
        self.sql("CREATE UNLOGGED TABLE bench_counts (day date, store_id int, staff_id int, "
                 "metric varchar(24), k1 varchar(64), k2 varchar(64), k3 varchar(64), "
                 "k4 varchar(64), n bigint, amount numeric)")
        # The events grouped by (kind, local day, store, staff, data) in SQL; each group
        # through the app's own ``counts_of`` (in a Django process): the keys are the
        # app's, whatever it counts today.
        spec = json.dumps({"sources": self.figure_sources(), "amounts": AMOUNT_FIELDS})
        subprocess.run([sys.executable, "-m", "bench.dashboard_bench", "figures"],
                       env=env_for(self.url), cwd=ROOT, input=spec, text=True, check=True,
                       timeout=6 * 3600)
        self.drop_indexes("timeline_figure")
        self.insert("timeline_figure",
                    ["day", "store_id", "staff_id", "metric", "k1", "k2", "k3", "k4", "n",
                     "amount"],
                    """SELECT day, store_id, staff_id, metric, k1, k2, k3, k4, sum(n), sum(amount)
                       FROM bench_counts GROUP BY 1, 2, 3, 4, 5, 6, 7, 8""",
                    order="q.day, q.store_id", label="figures")
        self.restore_indexes()
        metrics = self.conn.execute("SELECT metric, count(*), sum(n) FROM timeline_figure "
                                    "GROUP BY 1 ORDER BY 2 DESC").fetchall()
        log("  figure rows by metric: " + ", ".join(f"{m} {c:,} ({n:,})" for m, c, n in metrics))
        self.sql("DROP TABLE bench_counts")
        # The last day's counts not folded yet: a third of each visit, touch and purchase
        # count of the data's last two days moves to an unfolded delta.
        self.sql(f"""
            WITH picked AS (
                SELECT id, greatest(1, n / 3) AS dn,
                       round(amount * greatest(1, n / 3) / n, 2) AS da
                FROM timeline_figure
                WHERE day >= ({self.plan.now_sql} AT TIME ZONE 'UTC')::date - 1
                  AND metric IN ('visit', 'touch', 'purchase') AND n >= 2),
            moved AS (
                UPDATE timeline_figure f SET n = f.n - p.dn, amount = f.amount - p.da
                FROM picked p WHERE f.id = p.id
                RETURNING f.day, f.store_id, f.staff_id, f.metric, f.k1, f.k2, f.k3, f.k4, p.dn,
                          p.da AS moved_amount)
            INSERT INTO timeline_figuredelta (day, store_id, staff_id, metric, k1, k2, k3, k4, n,
                                              amount)
            SELECT day, store_id, staff_id, metric, k1, k2, k3, k4, dn, moved_amount FROM moved""",
                 "unfolded deltas")
        # The weekly and monthly figures from the daily ones, by the app's own command.
        subprocess.run([str(BIN / "touchflow"), "figures", "rollups"], env=env_for(self.url),
                       check=True, stdout=subprocess.DEVNULL, timeout=3600)

    def phase_denorm(self) -> None:
        present = set(self.columns("customers_customerstore"))
        wanted = {"last_visit_at": "occurred_at", "last_visit_class": "visit_class",
                  "last_visit_staff_id": "staff_id"}
        found = {c: v for c, v in wanted.items() if c in present}
        if not found:
            log("  CustomerStore has no last-visit columns: nothing to fill")
            return
        self.drop_indexes("customers_customerstore")
        assignments = ", ".join(f"{c} = latest.{v}" for c, v in found.items())
        self.sql(f"""
            UPDATE customers_customerstore AS link SET {assignments}
            FROM (SELECT DISTINCT ON (customer_id, store_id) customer_id, store_id, occurred_at,
                         visit_class, staff_id
                  FROM visits_visit WHERE customer_id IS NOT NULL
                  ORDER BY customer_id, store_id, occurred_at DESC, id DESC) latest
            WHERE link.customer_id = latest.customer_id AND link.store_id = latest.store_id""",
                 f"store links' {', '.join(found)}")
        self.restore_indexes()

    def phase_analyze(self) -> None:
        self.sql("VACUUM (ANALYZE)", "VACUUM ANALYZE")

    def counts(self) -> dict[str, int]:
        return {t: int(self.one(f"SELECT count(*) FROM {t}")) for t in BIG_TABLES}

    def size(self) -> str:
        return str(self.one("SELECT pg_size_pretty(pg_database_size(current_database()))"))


def url_context(conn: Any, today: date) -> dict[str, Any]:
    """The values the URL table's {names} take, from the generated data (PostgreSQL)."""
    meta = {k: v for k, v in conn.execute("SELECT key, value FROM bench_meta")}
    since = today - timedelta(days=27)
    store, = conn.execute(
        "SELECT store_id FROM timeline_figure WHERE metric = 'visit' AND day >= %s "
        "GROUP BY store_id ORDER BY sum(n) DESC, store_id LIMIT 1", (since,)).fetchone()
    seller, = conn.execute(
        "SELECT staff_id FROM timeline_figure WHERE metric = 'visit' AND day >= %s "
        "AND store_id = %s AND staff_id <> 0 GROUP BY staff_id ORDER BY sum(n) DESC, staff_id "
        "LIMIT 1", (since, store)).fetchone()
    slug, = conn.execute("SELECT slug FROM stores_store WHERE id = %s", (store,)).fetchone()
    typical = meta["customers"]["typical"]
    name, = conn.execute("SELECT name FROM customers_customer WHERE id = %s",
                         (typical,)).fetchone()
    phone = conn.execute("SELECT value FROM customers_contactpoint WHERE customer_id = %s "
                         "AND kind = 'phone'", (typical,)).fetchone()
    digits = (phone[0] if phone else "+447700900000")[-7:]
    task_store, task_seller = conn.execute(
        "SELECT store_id, assignee_id FROM delivery_calltask WHERE state = 'open' "
        "GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1").fetchone() or (PILOT_STORES[0], 0)
    open_tasks = conn.execute("SELECT count(*) FROM delivery_calltask WHERE state = 'open'"
                              ).fetchone()[0]
    cold, = conn.execute("SELECT cold_buyers FROM health_storefit WHERE store_id = %s",
                         (store,)).fetchone()
    return {
        "today": today.isoformat(),
        "year_since": (today - timedelta(days=364)).isoformat(),
        "years3_since": (today - timedelta(days=DAYS - 1)).isoformat(),
        "store": store, "store_slug": slug, "seller": seller,
        "customer_typical": typical, "customer_heavy": meta["customers"]["heavy"],
        "typical_rows": meta["customers"]["typical_rows"],
        "heavy_rows": meta["customers"]["heavy_rows"],
        "name_query": name.split()[-1], "phone_query": f"{digits[:3]} {digits[3:]}",
        "visits_deep": 200, "customers_deep": 300,
        "cold_deep": max(1, min(200, int(cold) // 25 // 2)),
        "tasks_deep": max(1, int(open_tasks) // 25 // 2),
        "task_store": task_store, "task_seller": task_seller,
    }


def _pg_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _pg_exists(name: str) -> bool:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (name,)).fetchone() is not None


def _pg_create(name: str) -> str:
    assert name != "test"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _pg_url(name)


def _pg_drop(name: str) -> None:
    assert name != "test"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Generated:
    database: str
    scale: float
    seconds: dict[str, float]  # the phases run now
    stored_seconds: dict[str, float]  # every phase, as recorded when it ran
    counts: dict[str, int]
    size: str
    now: str
    context: dict[str, Any]


def generate_pg(name: str, scale: float, redo: list[str], keep: bool) -> Generated:
    """Create (unless kept) and fill ``name``; returns what it holds."""
    assert name != "test"
    if not (keep and _pg_exists(name)) or {"base", "all"} & set(redo):
        _pg_drop(name)
        _pg_create(name)
    url = _pg_url(name)
    started = time.perf_counter()
    migrate(url)  # the real migrations (new ones too, on a kept database)
    log(f"migrate: {time.perf_counter() - started:.1f} s")
    gen = Generator(url, scale)
    seconds = gen.run(redo)
    generated = _described(gen, name)
    generated.seconds = seconds
    return generated


def _described(gen: Generator, name: str) -> Generated:
    meta = gen.meta()
    today = gen.plan.now.date()
    return Generated(name, gen.plan.scale, {}, meta.get("done", {}), gen.counts(), gen.size(),
                     meta["now"], url_context(gen.conn, today))


def describe_pg(name: str) -> Generated:
    gen = Generator(_pg_url(name), float(_meta_of(name)["scale"]))
    return _described(gen, name)


def _meta_of(name: str) -> dict[str, Any]:
    with psycopg.connect(_pg_url(name)) as conn:
        return {k: v for k, v in conn.execute("SELECT key, value FROM bench_meta")}


# -- SQLite: the same rows, copied ----------------------------------------------------------

SQLITE_SKIP = {"django_migrations", "django_content_type", "auth_permission", "django_session",
               "django_admin_log"}


def copy_to_sqlite(pg_url: str, path: Path) -> dict[str, int]:
    """Every table's rows from the PostgreSQL database into the migrated SQLite file at
    ``path`` (its own rows of those tables replaced), with ``executemany``; the indexes
    are dropped while loading and rebuilt after, then ANALYZE."""
    import sqlite3

    lite = sqlite3.connect(path)
    lite.execute("PRAGMA journal_mode=WAL")
    lite.execute("PRAGMA synchronous=OFF")
    lite.execute("PRAGMA foreign_keys=OFF")
    lite.execute("PRAGMA cache_size=-262144")
    tables = [r[0] for r in lite.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    indexes = lite.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                           "AND sql IS NOT NULL").fetchall()
    for index, _sql in indexes:
        lite.execute(f'DROP INDEX "{index}"')
    copied: dict[str, int] = {}
    with psycopg.connect(pg_url) as pg:
        pg_tables = {r[0] for r in pg.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        for table in tables:
            if table in SQLITE_SKIP or table not in pg_tables:
                continue
            columns = [r[1] for r in lite.execute(f'PRAGMA table_info("{table}")')]
            started = time.perf_counter()
            lite.execute(f'DELETE FROM "{table}"')
            names = ", ".join(f'"{c}"' for c in columns)
            insert = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
            total = 0
            with pg.cursor(name=f"copy_{table}") as cursor:
                cursor.itersize = 20_000
                cursor.execute(f"SELECT {names} FROM {table} ORDER BY 1")
                while batch := cursor.fetchmany(20_000):
                    lite.executemany(insert, [tuple(_lite(v) for v in row) for row in batch])
                    total += len(batch)
            lite.commit()
            copied[table] = total
            if total > 50_000:
                log(f"  sqlite {table}: {total:,} rows, {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    for _index, sql in indexes:
        lite.execute(sql)
    lite.execute("ANALYZE")
    lite.commit()
    lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lite.close()
    log(f"  sqlite indexes and ANALYZE: {time.perf_counter() - started:.1f} s")
    return copied


def _lite(value: Any) -> Any:
    """A PostgreSQL value as Django's SQLite backend stores it."""
    if value is None or isinstance(value, int | float | str | bytes):
        return int(value) if isinstance(value, bool) else value
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def sqlite_counts(path: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(path) as lite:
        return {t: lite.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in BIG_TABLES}


# -- timing (in a process of its own, Django set up against the database) ------------------


@dataclass
class Timing:
    view: str
    url: str
    role: str
    status: int
    requests: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    queries: int
    sql_ms: float
    bytes: int
    first_p95_ms: float = 0.0  # a streamed download: p95 of its first bytes (0: not one)


@dataclass
class Explained:
    url: str
    role: str
    total_ms: float
    queries: list[dict[str, Any]] = field(default_factory=list)  # sql, ms, plan


@dataclass
class Run:
    database: str
    generated: Generated
    timings: list[Timing]
    explained: list[Explained]
    speed_before: float
    speed_after: float
    load: tuple[float, float]
    started: str
    clock_shift_h: float


def time_views(url: str, context: dict[str, Any], data_now: str, requests: int,
               explain: bool, only: str = "") -> tuple[list[Timing], list[Explained], float]:
    urls = [(view, u) for view, u in URLS if not only or re.search(only, u.format(**context))]
    spec = {"urls": urls, "context": context, "roles": ROLES, "requests": requests,
            "warmup": 2, "now": data_now, "explain": explain, "threshold": TARGET_MS}
    env = {**env_for(url), "DJANGO_SETTINGS_MODULE": "touchflow.settings",
           "TOUCHFLOW_SECRET_KEY": "bench-dashboard-secret-key-not-for-production-0123456789",
           "TOUCHFLOW_CREDENTIALS_KEY": "", "TOUCHFLOW_DEBUG": "0"}
    out = subprocess.run([sys.executable, "-m", "bench.dashboard_bench", "time"], env=env,
                         cwd=ROOT, input=json.dumps(spec), stdout=subprocess.PIPE, text=True,
                         check=False, timeout=8 * 3600)  # its progress: on our stderr
    if out.returncode:
        raise RuntimeError("timing failed")
    raw = json.loads(out.stdout)
    return ([Timing(**t) for t in raw["timings"]], [Explained(**e) for e in raw["explained"]],
            raw["shift_hours"])


def _time_main() -> None:
    """The timing process: Django against TOUCHFLOW_DATABASE_URL, a test client per role."""
    import contextlib
    import logging

    import django

    spec = json.loads(sys.stdin.read())
    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from touchflow.core import clock
    from touchflow.stores.models import Staff

    logging.getLogger("django.request").setLevel(logging.ERROR)
    # "Today" is the data's last day: the default period (28 days to today) then covers
    # the data however long after the generation the views are timed.
    data_now = datetime.fromisoformat(spec["now"])
    shift = datetime.now(UTC) - data_now - timedelta(minutes=5)
    if shift < timedelta(hours=1):
        shift = timedelta(0)
    simulated = (clock.simulated(lambda: datetime.now(UTC) - shift) if shift
                 else contextlib.nullcontext())
    clients = {}
    for role, username in spec["roles"].items():
        client = Client(HTTP_HOST="localhost", raise_request_exception=False)
        client.force_login(Staff.objects.get(username=username))
        clients[role] = client
    timings: list[dict[str, Any]] = []
    explained: list[dict[str, Any]] = []
    firsts: list[float] = []  # the first bytes of each streamed download timed
    with simulated:
        for view, template in spec["urls"]:
            url = template.format(**spec["context"])
            for role, client in clients.items():
                def once(client: Any = client, url: str = url) -> tuple[float, int, int]:
                    started = time.perf_counter()
                    response = client.get(url)
                    if response.streaming:  # a download: when it starts, and when it ends
                        chunks = iter(response.streaming_content)
                        body = next(chunks, b"")
                        firsts.append((time.perf_counter() - started) * 1000)
                        body += b"".join(chunks)
                    else:
                        body = response.content
                    return (time.perf_counter() - started) * 1000, response.status_code, len(body)


                warm = [once()]
                if warm[0][0] < 10_000:
                    warm += [once() for _ in range(spec["warmup"] - 1)]
                slowest = max(ms for ms, _s, _b in warm)
                # A URL of seconds a request is timed fewer times (about a minute's worth,
                # at least 3), said in the table's "requests" column: p95 ≤ 300 ms is
                # settled by then.
                count = spec["requests"]
                if slowest >= 2500:
                    count = max(3, min(count, int(60_000 / slowest)))
                firsts.clear()
                runs = [once() for _ in range(count)]
                times = sorted(ms for ms, _s, _b in runs)
                first_p95 = round(_percentile(sorted(firsts), 0.95), 1) if firsts else 0.0
                with CaptureQueriesContext(connection) as captured:
                    total, _status, _bytes = once()
                queries = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
                timing = {
                    "view": view, "url": url, "role": role, "status": runs[-1][1],
                    "requests": count, "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(_percentile(times, 0.95), 1), "max_ms": round(times[-1], 1),
                    "queries": len(queries), "sql_ms": round(sum(ms for ms, _q in queries), 1),
                    "bytes": runs[-1][2], "first_p95_ms": first_p95,
                }
                timings.append(timing)
                log(f"{role:8} {url}: p50 {timing['p50_ms']} ms, p95 {timing['p95_ms']} ms, "
                    f"{len(queries)} queries ({timing['sql_ms']} ms SQL), {timing['status']}")
                if (spec["explain"] and connection.vendor == "postgresql"
                        and timing["p95_ms"] > spec["threshold"]):
                    explained.append(_explain(connection, url, role, total, queries))
    print(json.dumps({"timings": timings, "explained": explained,
                      "shift_hours": round(shift.total_seconds() / 3600, 1)}))


def _percentile(sorted_values: list[float], share: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    rank = share * (len(sorted_values) - 1)
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def _explain(connection: Any, url: str, role: str, total: float,
             queries: list[tuple[float, str]]) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the request's slowest SELECTs (those over 20 ms, at
    most three; the slowest one whatever its time)."""
    slow = sorted(queries, reverse=True)
    picked = [q for q in slow if q[0] >= 20][:3] or slow[:1]
    out = []
    with connection.cursor() as cursor:
        for ms, sql in picked:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(r[0] for r in cursor.fetchall())
            out.append({"ms": round(ms, 1), "sql": sql, "plan": plan})
    return {"url": url, "role": role, "total_ms": round(total, 1), "queries": out}


def _figures_main() -> None:
    """The figures phase's counting: each source's events grouped in SQL by (kind, local
    day, store, staff, data), each group put through ``figures.counts_of`` (the group's
    summed amount in the data's amount field) and the counts it makes COPYed into
    ``bench_counts``."""
    import django

    spec = json.loads(sys.stdin.read())
    django.setup()
    from touchflow.timeline import figures

    url = os.environ["TOUCHFLOW_DATABASE_URL"]
    amounts = spec["amounts"]
    with psycopg.connect(url) as read, psycopg.connect(url, autocommit=True) as write:
        read.execute("SET work_mem = '512MB'")
        for name, source in spec["sources"].items():
            started = time.perf_counter()
            grouped = f"""
                SELECT x.kind, (x.at AT TIME ZONE s.time_zone)::date, x.store_id,
                       coalesce(x.staff_id, 0), x.data, sum(x.n), sum(x.amount)
                FROM ({source}) x(kind, at, store_id, staff_id, data, n, amount)
                JOIN stores_store s ON s.id = x.store_id
                GROUP BY 1, 2, 3, 4, 5"""
            groups = events = written = 0
            with read.cursor(name=f"figures_{name}") as cursor, write.cursor() as out:
                cursor.itersize = 20_000
                cursor.execute(grouped)
                with out.copy("COPY bench_counts (day, store_id, staff_id, metric, k1, k2, k3, "
                              "k4, n, amount) FROM STDIN") as copy:
                    for kind, day, store_id, staff_id, data, n, amount in cursor:
                        groups += 1
                        events += n
                        field = amounts.get(kind)
                        if field and (field[2] or field[0] in data):
                            data[field[0]] = str(amount) if field[1] == "str" else int(amount)
                        for metric, staff, k1, k2, k3, k4, times, money in figures.counts_of(
                                kind, staff_id, data):
                            copy.write_row((day, store_id or 0, staff, metric, k1, k2, k3, k4,
                                            times * n, money))
                            written += 1
            log(f"  counts: {name}: {events:,} events in {groups:,} groups → {written:,} "
                f"counts, {time.perf_counter() - started:.1f} s")


# -- the run ------------------------------------------------------------------------------


def bench_dashboard(kind: str, scale: float | None, keep: bool, only_time: bool,
                    phases: list[str], requests: int, only: str = "") -> Run:
    from bench.databases import machine_speed

    scale = scale if scale is not None else (1.0 if kind == "postgres" else 0.1)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    if kind == "postgres":
        if only_time:
            if not _pg_exists(NAME):
                raise SystemExit(f"--only-time: no database {NAME}; generate it with --keep")
            generated = describe_pg(NAME)
        else:
            generated = generate_pg(NAME, scale, phases, keep)
        url = _pg_url(NAME)
        try:
            return _timed(kind, url, generated, requests, started, machine_speed, only)
        finally:
            if not keep and not only_time:
                _pg_drop(NAME)
    path = VAR / f"{NAME}.sqlite3"
    url = f"sqlite:///{path}"
    if only_time:
        if not path.exists():
            raise SystemExit(f"--only-time: no {path}; generate it with --keep")
        generated = Generated(**json.loads(path.with_suffix(".json").read_text()))
        generated.seconds = {}
    else:
        source = generate_pg(SQLITE_SOURCE, scale, phases, keep)
        if not (keep and path.exists()):
            VAR.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        migrate(url)
        copy_started = time.perf_counter()
        copy_to_sqlite(_pg_url(SQLITE_SOURCE), path)
        copy_seconds = round(time.perf_counter() - copy_started, 1)
        generated = Generated(f"{path.name} (copied from {SQLITE_SOURCE})", scale,
                              {"copy to SQLite": copy_seconds},
                              {**source.stored_seconds, "copy to SQLite": copy_seconds},
                              sqlite_counts(path), f"{path.stat().st_size / 2**20:,.0f} MB",
                              source.now, source.context)
        path.with_suffix(".json").write_text(json.dumps(asdict(generated), indent=2))
        if not keep:
            _pg_drop(SQLITE_SOURCE)
    try:
        return _timed(kind, url, generated, requests, started, machine_speed, only)
    finally:
        if not keep and not only_time:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def _timed(kind: str, url: str, generated: Generated, requests: int, started: str,
           machine_speed: Any, only: str) -> Run:
    before = machine_speed()
    load_before = os.getloadavg()[0]
    timings, explained, shift = time_views(url, generated.context, generated.now, requests,
                                           explain=kind == "postgres", only=only)
    after = machine_speed()
    return Run(kind, generated, timings, explained, round(before, 2), round(after, 2),
               (round(load_before, 2), round(os.getloadavg()[0], 2)), started, shift)


# -- reporting ----------------------------------------------------------------------------


def report(run: Run) -> str:
    g = run.generated
    order = [*PHASES]
    stored = sorted(g.stored_seconds.items(),
                    key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    total = sum(v for _k, v in stored)
    phases = ", ".join(f"{k} {v:g} s" for k, v in stored)
    lines = [
        f"**{run.database}**, scale {g.scale:g} — {g.database}, {g.size}; data up to "
        f"{g.now[:16]} UTC" + (f" (timed with the clock set back {run.clock_shift_h:g} h to it)"
                                if run.clock_shift_h else "") + ".",
        f"Machine speed {run.speed_before:.2f} s before timing, {run.speed_after:.2f} s after "
        f"(the header's loop; lower is faster); load average {run.load[0]:.2f} → "
        f"{run.load[1]:.2f}. Generation: {total / 60:.1f} min ({phases}).",
        "",
        "| table | rows |", "|---|---|",
        *(f"| {t} | {n:,} |" for t, n in g.counts.items()),
        "",
        f"Customers opened: #{g.context['customer_typical']} (a typical timeline, "
        f"{g.context['typical_rows']} rows), #{g.context['customer_heavy']} (the longest, "
        f"{g.context['heavy_rows']} rows). Store {g.context['store']}, seller "
        f"{g.context['seller']}: the busiest of the last 28 days.",
        "",
        "| view | URL | manager p50 / p95 ms | admin p50 / p95 ms | requests | queries m / a "
        "| SQL ms m / a | p95 ≤ 300 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_url: dict[str, dict[str, Timing]] = {}
    for t in run.timings:
        by_url.setdefault(t.url, {})[t.role] = t
    for url, roles in by_url.items():
        m, a = roles.get("manager"), roles.get("admin")
        first = m or a
        assert first is not None

        def cell(t: Timing | None) -> str:
            if t is None:
                return "–"
            status = "" if t.status == 200 else f" ({t.status})"
            first = f" (first bytes {t.first_p95_ms:g})" if t.first_p95_ms else ""
            return f"{t.p50_ms:g} / **{t.p95_ms:g}**{first}{status}"

        worst = max(t.p95_ms for t in roles.values())
        count = "/".join(sorted({str(t.requests) for t in roles.values()}))
        queries = " / ".join(str(t.queries) if t else "–" for t in (m, a))
        sql = " / ".join(f"{t.sql_ms:g}" if t else "–" for t in (m, a))
        verdict = "yes" if worst <= TARGET_MS else "**no**"
        if first.first_p95_ms:
            starts = max(t.first_p95_ms for t in roles.values())
            verdict += f"; starts in ≤ 300 ms: {'yes' if starts <= TARGET_MS else '**no**'}"
        lines.append(
            f"| {first.view} | `{url}` | {cell(m)} | {cell(a)} | {count} | {queries} | {sql} | "
            f"{verdict} |")
    over = sorted({t.url for t in run.timings if t.p95_ms > TARGET_MS})
    lines += ["", f"{len(by_url) - len(over)} of {len(by_url)} URLs at p95 ≤ 300 ms for both "
                  "roles."]
    return "\n".join(lines)


def explain_report(run: Run) -> str:
    parts = []
    for e in run.explained:
        parts.append(f"### {e.role}: `{e.url}` ({e.total_ms:g} ms)\n")
        for q in e.queries:
            parts.append(f"{q['ms']:g} ms:\n\n```sql\n{q['sql'][:3000]}\n```\n\n```\n"
                         f"{q['plan']}\n```\n")
    return "\n".join(parts)


def as_json(run: Run) -> dict[str, Any]:
    return asdict(run)


def write_details(run: Run) -> Path:
    VAR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = VAR / f"dashboard-{run.database}-{stamp}.md"
    path.write_text(report(run) + "\n\n" + explain_report(run))
    (VAR / f"dashboard-{run.database}-{stamp}.json").write_text(
        json.dumps(as_json(run), indent=2, default=str))
    return path


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchflow.settings")
    if sys.argv[1:] == ["time"]:
        _time_main()
    elif sys.argv[1:] == ["figures"]:
        _figures_main()
    else:
        raise SystemExit("usage: python -m bench dashboard [options] (this module's own "
                         "commands, time and figures, are run by it)")
