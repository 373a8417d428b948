"""The customer list and page: search, pages, the timeline, and per-store visibility."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.test import Client

from touchflow.core import clock
from touchflow.customers.actions import ContactInput, record_consent
from touchflow.customers.models import ContactPoint, Customer
from touchflow.flows.actions import load_flow_text
from touchflow.funnel.customers import merge_customers, resolve_customer
from touchflow.funnel.purchases import record_purchase
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline.models import TimelineEvent

WARMING = """\
slug: warming
name: Warming for lookers
audience: {trigger: visit, visit_class: [type3]}
steps:
  - key: thank-you
    kind: gratitude
    channels: [sms]
    message:
      en: {text: "Thanks"}
"""


def _customer(store: Store, name: str, phone: str = "", email: str = "") -> Customer:
    contacts = [ContactInput("phone", phone)] if phone else []
    contacts += [ContactInput("email", email)] if email else []
    customer, _ = resolve_customer(store=store, actor=Actor(source="api"), name=name,
                                   contacts=contacts)
    return customer


def test_salesperson_sees_only_their_stores_customers(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store,
    make_store: Callable[..., Store],
) -> None:
    other = make_store(name="Kraków", slug="krakow")
    mine = _customer(store, "Anna Mine", phone="+48501234567")
    theirs = _customer(other, "Boris Theirs", phone="+48601234567")
    client = login_client(salesperson)
    html = client.get("/customers/").content.decode()
    assert "Anna Mine" in html
    assert "Boris Theirs" not in html
    assert client.get(f"/customers/{mine.pk}/").status_code == 200
    assert client.get(f"/customers/{theirs.pk}/").status_code == 404
    assert client.get("/customers/999999/").status_code == 404
    assert "Boris Theirs" not in client.get("/customers/?q=Boris").content.decode()


def test_admin_sees_every_customer_and_the_admin_link(
    login_client: Callable[[Staff], Client], admin_staff: Staff, store: Store,
    make_store: Callable[..., Store],
) -> None:
    _customer(store, "Anna Mine", phone="+48501234567")
    _customer(make_store(), "Boris Theirs", phone="+48601234567")
    html = login_client(admin_staff).get("/customers/").content.decode()
    assert "Anna Mine" in html and "Boris Theirs" in html
    assert 'href="/admin/"' in html


def test_navigation_by_role(
    login_client: Callable[[Staff], Client], salesperson: Staff, manager: Staff
) -> None:
    sales_html = login_client(salesperson).get("/").content.decode()
    assert 'href="/customers/"' in sales_html
    assert 'href="/profile/"' in sales_html
    assert 'href="/admin/"' not in sales_html
    assert 'href="/admin/"' in login_client(manager).get("/").content.decode()


def test_search_by_name_phone_and_email(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store
) -> None:
    _customer(store, "Anna Nowak", phone="+48501234567")
    _customer(store, "Jan Kowalski", email="jan@example.pl")
    client = login_client(manager)

    def names(query: str) -> list[str]:
        html = client.get("/customers/", {"q": query}).content.decode()
        return [n for n in ("Anna Nowak", "Jan Kowalski") if n in html]

    assert names("nowak") == ["Anna Nowak"]
    assert names("501 234-567") == ["Anna Nowak"]
    assert names("JAN@example") == ["Jan Kowalski"]
    assert names("") == ["Anna Nowak", "Jan Kowalski"]
    assert "No customer matches this search." in client.get(
        "/customers/", {"q": "zzz"}).content.decode()


def test_list_is_paginated(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store
) -> None:
    for n in range(30):
        _customer(store, f"Person {n:02d}", email=f"p{n}@example.com")
    client = login_client(manager)
    first = client.get("/customers/").content.decode()
    assert first.count('class="customer-row"') == 25
    assert "Page 1 of 2" in first
    second = client.get("/customers/", {"page": 2}).content.decode()
    assert second.count('class="customer-row"') == 5
    assert "Person 00" in second  # newest first, so the oldest are on the last page
    # The pager keeps the search: page 2 of "Person" is page 2 of the same search.
    searched = client.get("/customers/", {"q": "Person"}).content.decode()
    assert 'href="?q=Person&amp;page=2"' in searched


def test_customer_page_shows_contacts_consent_and_timeline_in_order(
    login_client: Callable[[Staff], Client], manager: Staff, salesperson: Staff, store: Store
) -> None:
    actor = Actor(source="counter", staff=salesperson)
    start = clock.now() - timedelta(days=3)
    visit, _ = log_visit(store=store, actor=actor, bought=False, contact_capture="taken",
                         reason="price_difference", occurred_at=start, name="Anna Nowak",
                         contacts=[ContactInput("phone", "+48501234567")])
    customer = visit.customer
    assert customer is not None
    record_purchase(store=store, actor=Actor(source="api"), customer=customer,
                    amount=Decimal("1299.50"), currency="PLN",
                    occurred_at=start + timedelta(days=1))
    point = ContactPoint.objects.get(customer=customer)
    record_consent(point, "marketing", False, Actor(source="customer"),
                   at=start + timedelta(days=2))
    dup = _customer(store, "", email="anna@example.pl")
    merge_customers(customer, dup, Actor(source="admin", staff=manager))

    html = login_client(manager).get(f"/customers/{customer.pk}/").content.decode()
    assert "<h1>Anna Nowak</h1>" in html
    assert "+48501234567" in html and "anna@example.pl" in html
    timeline = html[html.index('class="timeline"'):]
    titles = [
        "Customer created", "Contact added", "Consent granted",
        "Type 3: did not buy, contacts taken", "Purchase", "Consent withdrawn",
        "Duplicate merged",
    ]
    positions = [timeline.index(f"<strong>{t}</strong>") for t in titles]
    assert positions == sorted(positions)
    assert "Did not buy · Price difference" in timeline
    assert "1299.50 PLN" in timeline
    assert "Offers and promotions for +48501234567 (Customer&#x27;s own request)" in timeline
    assert f"Merged with duplicate — (#{dup.pk})" in timeline


def test_merged_customer_id_leads_to_the_survivor(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store
) -> None:
    survivor = _customer(store, "Anna", phone="+48501234567")
    dup = _customer(store, "Anna N.", email="anna@example.pl")
    merge_customers(survivor, dup, Actor(source="admin", staff=manager))
    response = login_client(manager).get(f"/customers/{dup.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/customers/{survivor.pk}/"


def test_salesperson_of_another_store_cannot_follow_a_merged_id(
    login_client: Callable[[Staff], Client], make_staff: Callable[..., Staff], store: Store,
    make_store: Callable[..., Store],
) -> None:
    survivor = _customer(store, "Anna", phone="+48501234567")
    dup = _customer(store, "Anna N.", email="anna@example.pl")
    merge_customers(survivor, dup, Actor(source="api"))
    outsider = make_staff(Role.SALESPERSON, [make_store()])
    assert login_client(outsider).get(f"/customers/{dup.pk}/").status_code == 404


def test_times_are_shown_in_the_stores_time_zone(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store
) -> None:
    at = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    visit, _ = log_visit(store=store, actor=Actor(source="counter", staff=manager), bought=True,
                         contact_capture="taken", occurred_at=at,
                         contacts=[ContactInput("phone", "+48501234567")])
    html = login_client(manager).get(f"/customers/{visit.customer_id}/").content.decode()
    assert store.time_zone == "Europe/Warsaw"
    assert "15 Jan 2026, 13:00" in html
    assert "15 Jan 2026, 12:00" not in html


def test_chain_and_message_rows_are_put_into_words(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store
) -> None:
    customer = _customer(store, "Anna", phone="+48501234567")
    at = clock.now()
    # Touch rows name the chain by its code; the page shows the chain's name.
    load_flow_text(WARMING)
    # Rows as the flows and delivery apps write them (their own tests cover the writing).
    TimelineEvent.objects.create(customer=customer, kind="enrolled", at=at, store=store,
                                 data={"flow": "warming", "flow_name": "Warming for lookers"})
    TimelineEvent.objects.create(customer=customer, kind="touch", at=at, store=store,
                                 data={"flow": "warming", "step": "thank-you", "channel": "sms",
                                       "outcome": "retry", "reason": "retry",
                                       "error": "gateway timeout"})
    TimelineEvent.objects.create(customer=customer, kind="touch", at=at, store=store,
                                 data={"flow": "warming", "step": "how-to", "channel": "",
                                       "outcome": "skipped", "reason": "no_consent"})
    TimelineEvent.objects.create(customer=customer, kind="touch", at=at, store=store,
                                 data={"flow": "warming", "step": "call", "channel": "call",
                                       "outcome": "task", "reason": ""})
    TimelineEvent.objects.create(customer=customer, kind="touch", at=at, store=store,
                                 data={"flow": "warming", "step": "offer", "channel": "email",
                                       "outcome": "dead", "reason": "rejected",
                                       "error": "550 no such mailbox"})
    TimelineEvent.objects.create(customer=customer, kind="left_flow", at=at, store=store,
                                 data={"flow": "warming", "flow_name": "Warming for lookers",
                                       "state": "exited", "reason": "purchase"})
    html = login_client(manager).get(f"/customers/{customer.pk}/").content.decode()
    assert "<strong>Entered a chain</strong>" in html
    assert "<strong>Sending failed, will retry</strong>" in html
    assert "SMS · Warming for lookers › thank-you · gateway timeout" in html
    assert "<strong>Message skipped</strong>" in html
    assert "Warming for lookers › how-to · no consent" in html
    assert "<strong>Call task created</strong>" in html
    assert "Phone call · Warming for lookers › call" in html
    assert "<strong>Message failed (dead letter)</strong>" in html
    assert "E-mail · Warming for lookers › offer · refused by the provider · 550 no such mailbox" \
        in html
    assert "<strong>Left a chain</strong>" in html
    assert "Warming for lookers · bought" in html
