"""A customer's page shows the latest timeline rows, then plain links to older ones
(bench/RESULTS.md: a customer with 3,548 rows took ~600 ms a page to put into words)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from touchflow.core import clock
from touchflow.customers import visibility
from touchflow.customers.actions import ContactInput
from touchflow.customers.models import Customer
from touchflow.funnel.customers import resolve_customer
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.web import timeline


def _customer(store: Store, phone: str = "+48501234567") -> Customer:
    customer, _ = resolve_customer(store=store, actor=Actor(source="api"), name="Anna Nowak",
                                   contacts=[ContactInput("phone", phone)])
    return customer


def _rows(customer: Customer, n: int, *, store: Store | None, start: datetime,
          step: timedelta = timedelta(minutes=1), label: str = "row") -> list[TimelineEvent]:
    """``n`` message rows ``label 0`` … ``label n-1``, oldest first."""
    return TimelineEvent.objects.bulk_create(
        TimelineEvent(customer=customer, kind="message_in", at=start + i * step, store=store,
                      data={"channel": "sms", "text": f"{label} {i}"})
        for i in range(n))


def _shown(html: str) -> list[str]:
    """The texts of the page's message rows, in the page's order."""
    return re.findall(r'<span class="detail">(row \d+)</span>', html)


def _link(html: str, element_id: str) -> str | None:
    found = re.search(rf'id="{element_id}" href="([^"]*)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_latest_200_rows_then_a_link_to_the_older_ones(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store,
) -> None:
    customer = _customer(store)
    start = clock.now() + timedelta(days=1)  # after the rows of the customer's creation
    _rows(customer, 450, store=store, start=start)
    client = login_client(manager)
    page_url = f"/customers/{customer.pk}/"

    html = client.get(page_url).content.decode()
    assert timeline.PAGE_ROWS == 200
    assert _shown(html) == [f"row {i}" for i in range(250, 450)]  # oldest first
    assert html.count('<li class="event ') == 200
    oldest = TimelineEvent.objects.get(customer=customer, data__text="row 250")
    assert _link(html, "timeline-older") == f"?before={oldest.pk}#timeline"
    assert _link(html, "timeline-latest") is None

    html = client.get(page_url + f"?before={oldest.pk}").content.decode()
    assert _shown(html) == [f"row {i}" for i in range(50, 250)]
    older = TimelineEvent.objects.get(customer=customer, data__text="row 50")
    assert _link(html, "timeline-older") == f"?before={older.pk}#timeline"
    assert _link(html, "timeline-latest") == "?#timeline"

    # The last page: the 50 oldest rows and the customer's creation rows before them.
    html = client.get(page_url + f"?before={older.pk}").content.decode()
    assert _shown(html) == [f"row {i}" for i in range(50)]
    assert "<strong>Customer created</strong>" in html
    assert html.count('<li class="event ') == 50 + 2  # created, contact added
    assert _link(html, "timeline-older") is None
    assert _link(html, "timeline-latest") == "?#timeline"


def test_the_links_keep_the_rest_of_the_url_and_a_bad_position_shows_the_latest(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(timeline, "PAGE_ROWS", 2)
    customer = _customer(store)
    first, second, third = _rows(customer, 3, store=store, start=clock.now() + timedelta(days=1))
    someone_else = _customer(store, "+48501234999")
    elsewhere = _rows(someone_else, 1, store=store, start=clock.now())[0]
    client = login_client(manager)
    page_url = f"/customers/{customer.pk}/"

    html = client.get(page_url, {"lang": "en", "before": str(third.pk)}).content.decode()
    assert _shown(html) == ["row 0", "row 1"]
    assert _link(html, "timeline-older") is not None  # the creation rows are older still
    assert _link(html, "timeline-latest") == "?lang=en#timeline"
    html = client.get(page_url, {"lang": "en"}).content.decode()
    assert _shown(html) == ["row 1", "row 2"]
    assert _link(html, "timeline-older") == f"?lang=en&before={second.pk}#timeline"

    for bad in ("abc", "-1", "1e3", "9" * 40, str(elsewhere.pk), "٣"):
        response = client.get(page_url, {"before": bad})
        assert response.status_code == 200, bad
        assert _shown(response.content.decode()) == ["row 1", "row 2"], bad


def test_rows_at_the_same_moment_are_paged_by_id_without_loss_or_repeat(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(timeline, "PAGE_ROWS", 3)
    customer = _customer(store)
    _rows(customer, 10, store=store, start=clock.now() + timedelta(days=1),
          step=timedelta(0))
    client = login_client(manager)
    seen: list[str] = []
    query: str | None = ""
    while query is not None:
        html = client.get(f"/customers/{customer.pk}/{query.split('#')[0]}").content.decode()
        seen = _shown(html) + seen
        query = _link(html, "timeline-older")
    assert seen == [f"row {i}" for i in range(10)]


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_a_stores_pages_walk_exactly_its_visible_timeline(
    login_client: Callable[[Staff], Client], make_staff: Callable[..., Staff], store: Store,
    make_store: Callable[..., Store], monkeypatch: pytest.MonkeyPatch, size: int,
) -> None:
    """Rows of another store and store-less rows the store may not see are never shown,
    even when a page's first read holds nothing else."""
    monkeypatch.setattr(timeline, "PAGE_ROWS", size)
    other = make_store(name="Kraków", slug="krakow")
    customer = _customer(store)
    start = clock.now() + timedelta(days=1)
    _rows(customer, 4, store=store, start=start)
    _rows(customer, 9, store=None, start=start + timedelta(hours=1), label="nostorerow")
    _rows(customer, 5, store=other, start=start + timedelta(hours=2), label="krakowrow")
    _rows(customer, 2, store=store, start=start + timedelta(hours=3), label="late")
    seller = make_staff(Role.SALESPERSON, [store])
    expected = [e.pk for e in visibility.visible_timeline(customer, frozenset({store.pk}))]
    assert len(expected) == 2 + 4 + 2  # created and contact added, then its own rows

    walked: list[int] = []
    before: int | None = None
    while True:
        page = timeline.page(customer, "en", frozenset({store.pk}), before)
        walked = [row.pk for row in page.rows] + walked
        if page.older_than is None:
            break
        assert len(page.rows) == size
        before = page.older_than
    assert walked == expected

    html = login_client(seller).get(f"/customers/{customer.pk}/").content.decode()
    assert "nostorerow" not in html and "krakowrow" not in html


def test_the_pages_queries_do_not_grow_with_the_timeline(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store,
) -> None:
    customer = _customer(store)
    client = login_client(manager)
    url = f"/customers/{customer.pk}/"
    start = clock.now() + timedelta(days=1)
    _rows(customer, 10, store=store, start=start)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _rows(customer, 600, store=store, start=start + timedelta(days=1))
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert html.count('<li class="event ') == 200
    assert len(many) == len(few)
