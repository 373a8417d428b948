"""The dashboard (issue 11): figures of the viewer's stores for a period, compared with
the one before; a salesperson's own; CSV; the visits behind a number."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable

import pytest
from django.test import Client

from touchflow.core import clock
from touchflow.customers.actions import ContactInput
from touchflow.funnel.visits import log_visit
from touchflow.health.actions import refresh
from touchflow.health.models import StoreFit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store


@pytest.fixture
def two_stores(make_store: Callable[..., Store], make_staff: Callable[..., Staff]
               ) -> dict[str, object]:
    warsaw, london = make_store(name="Warsaw"), make_store(name="London")
    anna = make_staff(stores=[warsaw], first_name="Anna", last_name="Nowak")
    bogdan = make_staff(stores=[warsaw], first_name="Bogdan", last_name="Zaremba")
    lucy = make_staff(stores=[london], first_name="Lucy", last_name="Londoner")
    boss = make_staff(role=Role.MANAGER, stores=[warsaw])

    def visit(seller: Staff, store: Store, capture: str, bought: bool = False,
              email: str = "") -> None:
        contacts = [ContactInput("email", email)] if email else []
        log_visit(store=store, actor=Actor(source="counter", staff=seller), bought=bought,
                  contact_capture=capture, contacts=contacts,
                  reason=None if bought else "just_looking")

    visit(anna, warsaw, "not_attempted")
    visit(anna, warsaw, "not_attempted")
    visit(anna, warsaw, "taken", email="ewa@example.com")
    visit(bogdan, warsaw, "refused", bought=True)
    visit(lucy, london, "taken", email="londoner@example.com")
    return {"warsaw": warsaw, "london": london, "anna": anna, "bogdan": bogdan,
            "lucy": lucy, "boss": boss}


def _table(html: str, panel: str) -> str:
    start = html.index(f'id="panel-{panel}"')
    return html[start:html.index("</section>", start)]


def test_a_manager_sees_each_seller_of_their_stores_and_no_other_store(
    two_stores: dict[str, object], login_client: Callable[[Staff], Client]
) -> None:
    page = login_client(two_stores["boss"]).get("/dashboard/")  # type: ignore[arg-type]
    assert page.status_code == 200
    html = page.content.decode()
    visits = _table(html, "visits")
    assert "Anna Nowak" in visits and "Bogdan Zaremba" in visits
    assert "Londoner" not in html
    assert 'data-chart="bar" data-stacked="true"' in visits
    # Anna: two grey visits and one type 3; the grey column is marked as the miss.
    assert 'data-muted="true">Grey: contacts not asked</th>' in visits
    assert 'data-value="2"' in visits and 'data-value="1"' in visits
    capture = _table(html, "capture")
    assert 'data-value="66.7"' in capture  # Anna did not ask in two visits of three
    assert "Customers going cold" in html
    assert "The daily relationship check has not run for these stores yet." in html


def test_a_salesperson_sees_only_their_own_figures(
    two_stores: dict[str, object], login_client: Callable[[Staff], Client]
) -> None:
    anna = two_stores["anna"]
    html = login_client(anna).get(  # type: ignore[arg-type]
        f"/dashboard/?seller={two_stores['bogdan'].pk}").content.decode()  # type: ignore[attr-defined]
    assert "Your own figures." in html
    assert "Anna Nowak" in _table(html, "visits") and "Bogdan" not in html
    # What the store's chains sent and sold, its complaints, its customers going cold
    # and its effort week by week are the manager's figures, not hers; her own calls and
    # replies are hers.
    for store_wide in ("funnel", "revenue", "chains", "channels", "satisfaction_stores",
                       "satisfaction_categories", "aftercare", "cold", "effort_weeks"):
        assert f'id="panel-{store_wide}"' not in html
    assert 'id="panel-effort"' in html
    assert "Messages sent" not in html


def test_each_panel_downloads_as_csv_and_a_number_opens_its_visits(
    two_stores: dict[str, object], login_client: Callable[[Staff], Client]
) -> None:
    client = login_client(two_stores["boss"])  # type: ignore[arg-type]
    answer = client.get("/dashboard/?csv=visits")
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0][0] == "" and rows[0][-1] == "Grey: contacts not asked"
    assert ["Anna Nowak", "0", "0", "1", "0", "2"] in rows
    html = client.get("/dashboard/").content.decode()
    anna, today = two_stores["anna"], clock.now().date()
    since = today.fromordinal(today.toordinal() - 27)
    href = (f"/visits/?seller={anna.pk}&since={since}&until={today}"  # type: ignore[attr-defined]
            "&visit_class=grey")
    assert f'<a href="{href.replace("&", "&amp;")}">2</a>' in _table(html, "visits")
    grey = client.get(href).content.decode()
    assert grey.count("<td>Grey: contacts not asked</td>") == 2
    assert "2 visits · from" in grey


def test_the_period_compares_with_the_one_before_and_bad_filters_are_named(
    two_stores: dict[str, object], login_client: Callable[[Staff], Client]
) -> None:
    client = login_client(two_stores["boss"])  # type: ignore[arg-type]
    today = clock.now().date()
    html = client.get(f"/dashboard/?since={today}&until={today}").content.decode()
    assert "Compared with" in html and "+4" in html and "no earlier figure" in html
    bad = client.get(f"/dashboard/?since=yesterday&store={two_stores['london'].pk}"
                     ).content.decode()  # type: ignore[attr-defined]
    assert "since: not a date (YYYY-MM-DD)." in bad
    assert "store: not one you can choose; showing all." in bad
    assert "Londoner" not in bad


def test_a_manager_lands_on_the_dashboard_and_a_salesperson_at_the_counter(
    two_stores: dict[str, object], make_staff: Callable[..., Staff]
) -> None:
    for role, lands in ((Role.MANAGER, "/dashboard/"), (Role.SALESPERSON, "/")):
        person = make_staff(role=role, stores=[two_stores["warsaw"]], password="pw-12345678")
        answer = Client().post("/login/", {"username": person.username,
                                           "password": "pw-12345678"})
        assert answer.status_code == 302 and answer["Location"] == lands


def test_the_cold_panel_shows_the_last_daily_check_and_opens_its_list(
    two_stores: dict[str, object], login_client: Callable[[Staff], Client]
) -> None:
    warsaw, boss = two_stores["warsaw"], two_stores["boss"]
    today = clock.now().date()
    refresh(warsaw, today)  # type: ignore[arg-type]
    html = login_client(boss).get("/dashboard/").content.decode()  # type: ignore[arg-type]
    cold = _table(html, "cold")
    assert "Nobody is going cold, as of the last daily check." in cold
    fit = StoreFit.objects.get(store=warsaw)
    StoreFit.objects.filter(pk=fit.pk).update(cold_buyers=3, cold_prospects=1)
    cold = _table(login_client(boss).get("/dashboard/").content.decode(), "cold")  # type: ignore[arg-type]
    link = f'/cold/?store={warsaw.pk}&amp;segment=buyers">3</a>'  # type: ignore[attr-defined]
    assert link in cold and "Warsaw" in cold and "London" not in cold


def test_each_metric_is_read_once_a_period_however_many_panels_use_it(
    two_stores: dict[str, object], login_client: Callable[[Staff], Client]
) -> None:
    """Every grouping the panels need of a metric comes from one statement (decision
    0029): the page's reads of the figures are at most one per metric and period, and one
    per line drawn by day."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login_client(two_stores["boss"])  # type: ignore[arg-type]
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/dashboard/").status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if "timeline_figure" in q["sql"]]
    metrics = [re.search(r"""metric"? = '(\w+)'""", sql) for sql in reads]
    counted = Counter(found.group(1) if found else "?" for found in metrics)
    assert {"visit", "touch", "check_in", "purchase", "effort"} <= set(counted), counted
    # This period and the one before for the headlines; the 20% rule's line by day.
    assert "?" not in counted and max(counted.values()) == 2, counted
