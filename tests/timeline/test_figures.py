"""The figures (issue 11, decision 0025): counted with every timeline row as it is
written, folded by the worker's chore, and always equal to a recount of the timeline."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.test_replay import _history
from touchflow import replay
from touchflow.customers.actions import ContactInput
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline import figures
from touchflow.timeline.models import (
    Figure,
    FigureDelta,
    FigureMonth,
    FigureYear,
    TimelineEvent,
)
from touchflow.visits import queries as visits
from touchflow.visits.models import Reason


def _random_visits(store: Store, rng: random.Random, count: int) -> None:
    """Visits of every kind by three sellers: bought or not, contacts taken or not."""
    sellers = [Staff.objects.create(username=f"{store.slug}-s{n}", role=Role.SALESPERSON)
               for n in range(3)]
    for seller in sellers:
        seller.stores.add(store)
    reasons = list(Reason.objects.filter(active=True).values_list("code", flat=True))
    for n in range(count):
        seller = rng.choice(sellers)
        bought = rng.random() < 0.4
        capture = rng.choice(["taken", "refused", "not_attempted"])
        contacts = ([ContactInput("email", f"v{n}-{rng.randrange(6)}@example.com")]
                    if capture == "taken" else [])
        log_visit(store=store, actor=Actor(source="counter", staff=seller), bought=bought,
                  contact_capture=capture, contacts=contacts,
                  reason=None if bought else rng.choice(reasons))


def _recount() -> dict[tuple[Any, ...], tuple[int, Decimal]]:
    # Small chunks: the merge across chunks is exercised too.
    figures.rebuild(visits.figure_rows(chunk=7), chunk=37)
    return figures.snapshot()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [3, 11])
def test_the_figures_kept_as_events_arrive_equal_a_recount_of_the_timeline(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    history = _history(tmp_path / "history.csv.gz", invoices=90, customers=14, seed=seed)
    replay.run(history, f"fig-{seed}", seed=seed)
    store = replay._store(f"fig-{seed}")
    _random_visits(store, rng, 40)
    kept = figures.snapshot()  # deltas not folded yet, and folded ones
    metrics = {key[3] for key in kept}
    # The replay and the visits wrote every kind the dashboard reads.
    assert {"visit", "purchase", "touch", "enrolled", "left_flow", "check_in",
            "customer_created"} <= metrics
    assert sum(n for key, (n, _) in kept.items() if key[3] == "visit") == 40
    assert figures.fold() > 0 and not FigureDelta.objects.exists()
    assert figures.snapshot() == kept  # folding moves counts, changes none
    for rollup in figures.ROLLUPS:
        assert _held(rollup) == _days_added_up(rollup) != {}
    assert _recount() == kept
    for rollup in figures.ROLLUPS:
        assert _held(rollup) == _days_added_up(rollup)


def _as_day(value: Any) -> date:
    """A day as read back: a date, or its ISO text (SQLite, from an expression)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _held(rollup: Any) -> dict[tuple[Any, ...], tuple[int, Decimal]]:
    return {tuple(key): (n, amount) for *key, n, amount in
            rollup.objects.values_list(*figures.KEY_COLUMNS, "n", "amount") if n}


def _days_added_up(rollup: Any) -> dict[tuple[Any, ...], tuple[int, Decimal]]:
    """The daily figures added up a week (from Monday) or a month at a time, in Python:
    what the rollup holds."""
    def start(day: date) -> date:
        return (day.replace(month=1, day=1) if rollup is FigureYear
                else day.replace(day=1) if rollup is FigureMonth
                else day - timedelta(days=day.weekday()))

    added: dict[tuple[Any, ...], tuple[int, Decimal]] = {}
    for day, *key, n, amount in Figure.objects.values_list(*figures.KEY_COLUMNS, "n", "amount"):
        at = (start(day), *key)
        old_n, old_amount = added.get(at, (0, Decimal(0)))
        added[at] = (old_n + n, old_amount + amount)
    return {key: value for key, value in added.items() if value[0]}


@pytest.mark.django_db(transaction=True)
def test_a_period_read_through_the_rollups_equals_the_same_days_added_up(
    tmp_path: Path
) -> None:
    """Years, months and weeks come from their rollups, added or taken away, the rest
    from ``Figure``, the deltas not folded from theirs: any period gives what its days
    add up to."""
    history = _history(tmp_path / "history.csv.gz", invoices=160, customers=20, seed=7)
    replay.run(history, "fig-months", seed=7)
    figures.fold()
    _random_visits(replay._store("fig-months"), random.Random(7), 12)  # left unfolded
    days = [d for d in Figure.objects.values_list("day", flat=True).distinct()]
    first, last = min(days), max(days)
    assert (last - first).days > 62, "the history must span whole months"
    rng = random.Random(7)
    periods = [(first, last), (first.replace(day=1), last),
               (first + timedelta(days=3), last - timedelta(days=3))]
    periods += [tuple(sorted(rng.sample(days, 2))) for _ in range(6)]
    for since, until in periods:
        for metric in ("purchase", "touch", "visit"):
            by_month = figures.totals(metric, stores=None, since=since, until=until,
                                      by=["store_id", "k1"])
            by_day = figures.totals(metric, stores=None, since=since, until=until,
                                    by=["day", "store_id", "k1"])
            added: dict[tuple[Any, ...], tuple[int, Decimal]] = {}
            for (_day, *key), (n, amount) in by_day.items():
                old_n, old_amount = added.get(tuple(key), (0, Decimal(0)))
                added[tuple(key)] = (old_n + n, old_amount + amount)
            assert by_month == added, (metric, since, until)
            by_week = figures.totals(metric, stores=None, since=since, until=until,
                                     by=[figures.WEEK, "store_id", "k1"])
            weekly: dict[tuple[Any, ...], tuple[int, Decimal]] = {}
            for (day, *key), (n, amount) in by_day.items():
                at = (_as_day(day) - timedelta(days=_as_day(day).weekday()), *key)
                old_n, old_amount = weekly.get(at, (0, Decimal(0)))
                weekly[at] = (old_n + n, old_amount + amount)
            assert {(_as_day(monday), *key): v for (monday, *key), v in by_week.items()} == {
                k: v for k, v in weekly.items() if v[0]}, (metric, since, until)
            sets = [("store_id", "k1"), ("k1",), (), ("k2", "k1"), ("k1", "k2"),
                    ("staff_id", "k4")]
            together = figures.grouped(metric, stores=None, since=since, until=until,
                                       sets=sets)
            assert together == {one: figures.totals(metric, stores=None, since=since,
                                                    until=until, by=one) for one in sets}
            if (since, until) == (first, last) and metric != "visit":  # not vacuous
                assert together[("k1",)] and together[("store_id", "k1")]


@pytest.mark.parametrize(("since", "until", "read"), [
    # 28 days to a Monday: November less its first two days.
    (date(2026, 11, 3), date(2026, 11, 30),
     [("FigureMonth", "2026-11-01", "2026-11-30", 1), ("Figure", "2026-11-01", "2026-11-02", -1)]),
    # A year to the end of November: 2026 less December, and December 2025.
    (date(2025, 12, 1), date(2026, 11, 30),
     [("FigureYear", "2026-01-01", "2026-12-31", 1), ("FigureMonth", "2025-12-01", "2025-12-31", 1),
      ("FigureMonth", "2026-12-01", "2026-12-31", -1)]),
    (date(2026, 11, 9), date(2026, 11, 15), [("FigureWeek", "2026-11-09", "2026-11-15", 1)]),
    (date(2026, 11, 30), date(2026, 11, 30), [("Figure", "2026-11-30", "2026-11-30", 1)]),
])
def test_a_period_is_read_from_the_fewest_rows(since: date, until: date,
                                               read: list[tuple[Any, ...]]) -> None:
    assert sorted((m.__name__, a.isoformat(), b.isoformat(), sign)
                  for m, a, b, sign in figures.spans(since, until)) == sorted(read)


def test_the_spans_of_any_period_add_up_to_its_days_once_each() -> None:
    """Added and taken away, every day of the period counts once and no other day at
    all — over random periods of a day to five years, and at the ends of a date."""
    rng = random.Random(11)
    periods = [(date.min, date.min + timedelta(days=40)), (date.max - timedelta(days=40), date.max)]
    for _ in range(400):
        since = date(2020, 1, 1) + timedelta(days=rng.randrange(2500))
        periods.append((since, since + timedelta(days=rng.choice([0, 6, 27, 90, 364, 1800])
                                                 + rng.randrange(40))))
    for since, until in periods:
        times: dict[date, int] = {}
        for model, first, last, sign in figures.spans(since, until):
            assert model is Figure or first == figures._unit_start(model, first)
            for i in range((last - first).days + 1):
                day = first + timedelta(days=i)
                times[day] = times.get(day, 0) + sign
        held = {day: n for day, n in times.items() if n}
        assert held == {since + timedelta(days=i): 1 for i in range((until - since).days + 1)}, (
            since, until)


@pytest.mark.django_db(transaction=True)
def test_a_row_written_around_the_figures_is_found_by_the_recount(tmp_path: Path) -> None:
    """The equality above can fail: a purchase row written without its count differs."""
    replay.run(_history(tmp_path / "history.csv.gz", invoices=20, customers=4, seed=5),
               "fig-x", seed=5)
    kept = figures.snapshot()
    row = TimelineEvent.objects.filter(kind="purchase").first()
    assert row is not None
    TimelineEvent.objects.create(customer_id=row.customer_id, kind="purchase", at=row.at,
                                 store_id=row.store_id, data={"amount": "5.00"})
    assert _recount() != kept


@pytest.mark.django_db
def test_a_day_is_the_stores_local_day_and_deltas_count_before_the_fold(
    store: Store, salesperson: Staff
) -> None:
    store.time_zone = "Europe/Warsaw"
    store.save()
    figures._zones.clear()
    # 23:30 UTC on 31 May is 01:30 on 1 June in Warsaw.
    late = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
    log_visit(store=store, actor=Actor(source="counter", staff=salesperson), bought=False,
              contact_capture="not_attempted", reason="just_looking", occurred_at=late)
    june = figures.totals("visit", stores=[store.pk], since=date(2026, 6, 1),
                          until=date(2026, 6, 1), by=["staff_id", "k1"])
    assert june == {(salesperson.pk, "grey"): (1, Decimal(0))}
    assert figures.totals("visit", stores=[store.pk], since=date(2026, 5, 31),
                          until=date(2026, 5, 31)) == {}
    figures.fold()
    assert Figure.objects.get().day == date(2026, 6, 1)
    assert figures.totals("visit", stores=[store.pk + 1], since=date(2026, 6, 1),
                          until=date(2026, 6, 1)) == {}
