"""The visits behind a dashboard number (issue 11): every filter narrows, pages keep the
filters, each store's own calendar days, nothing of another store, a count capped like the
customer list's — and on PostgreSQL the newest visits read backwards from ``visit_recent``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from touchflow.core import clock
from touchflow.customers.actions import ContactInput
from touchflow.customers.models import Customer
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store
from touchflow.visits.models import Visit
from touchflow.web import paging
from touchflow.web.views import visits as visits_view

RESULT = {"type1": (True, "taken"), "type2": (True, "refused"), "type3": (False, "taken"),
          "type4": (False, "refused"), "grey": (False, "not_attempted")}


def visit(store: Store, seller: Staff, visit_class: str, at: datetime, *,
          customer: Customer | None = None, email: str = "",
          reason: str = "just_looking") -> Visit:
    bought, capture = RESULT[visit_class]
    logged, _ = log_visit(store=store, actor=Actor(source="counter", staff=seller),
                          bought=bought, contact_capture=capture, customer=customer,
                          contacts=[ContactInput("email", email)] if email else [],
                          reason=None if bought else reason, occurred_at=at)
    return logged


def listed(client: Client, **params: Any) -> list[int]:
    response = client.get("/visits/", params)
    assert response.status_code == 200
    return [v.pk for v in response.context["rows"]]


def hours_ago(hours: float) -> datetime:
    return clock.now() - timedelta(hours=hours)


class World:
    """Warsaw and Kraków (Mira manages both; Sam sells in Warsaw, Ola in Kraków), London
    (Lena's; nobody here manages it)."""

    def __init__(self, make_store: Callable[..., Store],
                 make_staff: Callable[..., Staff]) -> None:
        self.warsaw = make_store(name="Warsaw", slug="warsaw")
        self.krakow = make_store(name="Kraków", slug="krakow")
        self.london = make_store(name="Londinium", slug="london", country="GB",
                                 time_zone="Europe/London")
        self.sam = make_staff(Role.SALESPERSON, [self.warsaw], first_name="Sam")
        self.ola = make_staff(Role.SALESPERSON, [self.krakow], first_name="Ola")
        self.lena = make_staff(Role.SALESPERSON, [self.london], first_name="Lena")
        self.mira = make_staff(Role.MANAGER, [self.warsaw, self.krakow])
        self.grey = visit(self.warsaw, self.sam, "grey", hours_ago(1))
        self.first = visit(self.warsaw, self.sam, "type3", hours_ago(50), email="a@example.com")
        anna = self.first.customer
        self.again = visit(self.warsaw, self.sam, "type1", hours_ago(2), customer=anna)
        self.refused = visit(self.warsaw, self.sam, "type4", hours_ago(3), reason="too_pushy")
        # Anna's first visit to Kraków: a return visit to Warsaw is not one to Kraków.
        self.krakow_anna = visit(self.krakow, self.ola, "type3", hours_ago(4), customer=anna)
        self.krakow_bought = visit(self.krakow, self.ola, "type2", hours_ago(5))
        self.london_grey = visit(self.london, self.lena, "grey", hours_ago(1.5))


@pytest.fixture
def world(make_store: Callable[..., Store], make_staff: Callable[..., Staff]) -> World:
    return World(make_store, make_staff)


def test_each_filter_narrows_to_the_visits_it_names(
    world: World, login_client: Callable[[Staff], Client]
) -> None:
    w, mira = world, login_client(world.mira)
    assert listed(mira) == [w.grey.pk, w.again.pk, w.refused.pk, w.krakow_anna.pk,
                            w.krakow_bought.pk, w.first.pk]
    assert listed(mira, store=w.krakow.pk) == [w.krakow_anna.pk, w.krakow_bought.pk]
    assert listed(mira, seller=w.ola.pk) == [w.krakow_anna.pk, w.krakow_bought.pk]
    assert listed(mira, visit_class="grey") == [w.grey.pk]
    assert listed(mira, capture="refused") == [w.refused.pk, w.krakow_bought.pk]
    assert listed(mira, reason="too_pushy") == [w.refused.pk]
    assert listed(mira, bought="1") == [w.again.pk, w.krakow_bought.pk]
    assert listed(mira, again="return") == [w.again.pk]
    assert listed(mira, store=w.warsaw.pk, capture="taken") == [w.again.pk, w.first.pk]
    # Before the period (28 days to today by default) and after it.
    today = clock.now().date()
    assert listed(mira, since=today, until=today) == [w.grey.pk, w.again.pk, w.refused.pk,
                                                      w.krakow_anna.pk, w.krakow_bought.pk]
    assert listed(mira, until=today - timedelta(days=1)) == [w.first.pk]


def test_nobody_sees_another_stores_visits(
    world: World, login_client: Callable[[Staff], Client]
) -> None:
    w, mira = world, login_client(world.mira)
    refused = mira.get("/visits/", {"store": w.london.pk})
    assert "store: not one you can choose; showing all." in refused.content.decode()
    assert w.london_grey.pk not in [v.pk for v in refused.context["rows"]]
    assert len(refused.context["rows"]) == 6
    # A salesperson lists their own visits, whatever seller is asked for.
    sam = login_client(w.sam)
    assert listed(sam) == [w.grey.pk, w.again.pk, w.refused.pk, w.first.pk]
    assert listed(sam, seller=w.ola.pk) == [w.grey.pk, w.again.pk, w.refused.pk, w.first.pk]
    assert listed(login_client(w.lena)) == [w.london_grey.pk]


def test_each_store_counts_its_own_calendar_days(
    make_store: Callable[..., Store], make_staff: Callable[..., Staff],
    login_client: Callable[[Staff], Client],
) -> None:
    warsaw = make_store(name="Warsaw")  # UTC+2 in May
    london = make_store(name="London", country="GB", time_zone="Europe/London")  # UTC+1
    ania = make_staff(Role.SALESPERSON, [warsaw])
    lucy = make_staff(Role.SALESPERSON, [london])
    admin = make_staff(Role.ADMIN)
    # 22:30 UTC on 30 April is 00:30 on 1 May in Warsaw and 23:30 on 30 April in London;
    # 22:30 UTC on 31 May is 00:30 on 1 June in Warsaw and 23:30 on 31 May in London.
    first_warsaw = visit(warsaw, ania, "grey", datetime(2026, 4, 30, 22, 30, tzinfo=UTC))
    visit(london, lucy, "grey", datetime(2026, 4, 30, 22, 30, tzinfo=UTC))
    visit(warsaw, ania, "grey", datetime(2026, 5, 31, 22, 30, tzinfo=UTC))
    last_london = visit(london, lucy, "grey", datetime(2026, 5, 31, 22, 30, tzinfo=UTC))
    may = {"since": "2026-05-01", "until": "2026-05-31"}
    assert listed(login_client(admin), **may) == [last_london.pk, first_warsaw.pk]
    assert listed(login_client(admin), store=london.pk, **may) == [last_london.pk]


def test_pages_keep_the_filters(world: World, login_client: Callable[[Staff], Client],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    w, mira = world, login_client(world.mira)
    monkeypatch.setattr(visits_view, "PAGE_SIZE", 2)
    first = mira.get("/visits/", {"store": w.warsaw.pk, "capture": "taken"})
    html = first.content.decode()
    assert "2 visits · from" in html and "Page 1 of" not in html
    assert [v.pk for v in first.context["rows"]] == [w.again.pk, w.first.pk]
    everything = mira.get("/visits/", {"seller": w.sam.pk}).content.decode()
    assert "4 visits · from" in everything and "Page 1 of 2" in everything
    assert f'href="?seller={w.sam.pk}&amp;page=2"' in everything
    assert listed(mira, seller=w.sam.pk, page=2) == [w.refused.pk, w.first.pk]


def test_the_count_stops_at_a_cap(world: World, login_client: Callable[[Staff], Client],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    w, mira = world, login_client(world.mira)
    monkeypatch.setattr(visits_view, "PAGE_SIZE", 2)
    monkeypatch.setattr(paging, "COUNT_CAP", 3)
    with CaptureQueriesContext(connection) as queries:
        capped = mira.get("/visits/")
    html = capped.content.decode()
    assert "More than 3 visits" in html and "Page 1 of 2" in html
    assert "Only the first pages are listed: narrow the filters." in html
    assert [v.pk for v in capped.context["rows"]] == [w.grey.pk, w.again.pk]
    counts = [q["sql"] for q in queries.captured_queries
              if q["sql"].startswith('SELECT COUNT(*) FROM (SELECT "visits_visit"')]
    assert len(counts) == 1 and "LIMIT 4" in counts[0]
    # Past the counted pages: the last of them.
    assert listed(mira, page=9) == [w.refused.pk]
    # As many as the cap: counted exactly, and no "more than".
    exact = mira.get("/visits/", {"capture": "taken"}).content.decode()
    assert "3 visits · from" in exact and "More than" not in exact
    assert "narrow the filters" not in exact


@pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="the plan is PostgreSQL's; run with TOUCHFLOW_DATABASE_URL=postgresql://…",
)
def test_the_newest_visits_are_read_backwards_from_the_index(
    world: World, make_staff: Callable[..., Staff], login_client: Callable[[Staff], Client]
) -> None:
    w = world
    # Two months of visits of the three stores, one every three minutes: enough that
    # PostgreSQL weighs reading the newest 50 from the index against sorting the period's.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO visits_visit (store_id, occurred_at, bought, contact_capture,
                                      visit_class, categories, note, source, created_at)
            SELECT (ARRAY[%s, %s, %s]::bigint[])[1 + n %% 3], %s - n * interval '3 minutes',
                   false, 'not_attempted', 'grey', '[]', '', 'import', %s
            FROM generate_series(100, 28800) AS n
            """,
            [w.warsaw.pk, w.krakow.pk, w.london.pk, clock.now(), clock.now()],
        )
        cursor.execute("ANALYZE visits_visit")
    # An admin's list: stores in two time zones, so each store's own range differs and
    # PostgreSQL finds no condition on the time common to them all (it factors one out of
    # ranges that are the same).
    with CaptureQueriesContext(connection) as queries:
        listed(login_client(make_staff(Role.ADMIN)))
    page = [q["sql"] for q in queries.captured_queries
            if 'ORDER BY "visits_visit"."occurred_at" DESC' in q["sql"]]
    assert len(page) == 1
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + page[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan Backward using visit_recent on visits_visit" in plan, plan
    # Bounded by the period (the overall range), not the whole index read with a filter.
    assert "Index Cond: ((occurred_at >=" in plan, plan
    assert "Sort" not in plan, plan
