"""The manager's page of customers going cold (``/cold/``) and its one action, and the
customer card's relationship block: who may see what, paging, and exactly who enters a
chain."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from tests.health.conftest import TODAY, People, bulk
from touchflow.customers.models import Customer
from touchflow.flows.actions import load_flow_text
from touchflow.flows.models import Enrollment, Flow
from touchflow.funnel.chains import set_status
from touchflow.health.actions import refresh
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db

CHAIN = """\
slug: come-back
name: Come back
audience: {trigger: visit, visit_class: [type3]}
exit_on: [purchase, opt_out]
steps:
  - key: miss-you
    kind: info
    after: 1h
    channels: [sms]
    expires: 3d
    message:
      en: {subject: "We miss you", text: "{{ greeting }} we miss you."}
"""


@pytest.fixture
def chain(db: None) -> Flow:
    return set_status(load_flow_text(CHAIN, "come-back.yaml").flow, "active")


def signed_in(staff: Staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def cold_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="cold-(\d+)"', html)]


@pytest.fixture
def world(store: Store, krakow: Store, people: People) -> dict[str, list[Customer]]:
    """Warsaw: a regular (rhythm 10) in rhythm, 30 one-time buyers 26–55 days ago (cold
    by the store's rhythm, the freshest first), a prospect gone quiet; Krakow: the same
    kind of buyers, cold too."""
    people.buys(store, people.customer(store), 25, 15, 5)
    warsaw = list(bulk(store, [[26 + i] for i in range(30)]))
    prospect = people.visits(store, "+48501000555", 70, 63, 56)
    people.buys(krakow, people.customer(krakow), 25, 15, 5)
    there = list(bulk(krakow, [[40], [45]]))
    refresh(store, TODAY)
    refresh(krakow, TODAY)
    return {"warsaw": warsaw, "prospects": [prospect], "krakow": there}


def test_the_page_is_for_managers_and_admins(
        world: dict[str, list[Customer]], store: Store, manager: Staff, salesperson: Staff,
        admin_staff: Staff) -> None:
    anonymous = Client().get("/cold/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert signed_in(salesperson).get("/cold/").status_code == 403
    assert signed_in(salesperson).post("/cold/enrol/", {"store": "warsaw"}).status_code == 403
    mine = signed_in(manager)
    assert mine.get("/cold/").status_code == 200
    assert mine.get("/cold/?store=krakow").status_code == 404
    assert mine.post("/cold/enrol/", {"store": "krakow", "segment": "buyers",
                                      "chain": "x"}).status_code == 404
    everything = signed_in(admin_staff).get("/cold/?store=krakow")
    assert everything.status_code == 200
    assert set(cold_ids(everything.content.decode())) == {c.pk for c in world["krakow"]}


def test_a_manager_sees_their_stores_counts_and_the_cold_buyers_freshest_first(
        world: dict[str, list[Customer]], manager: Staff, chain: Flow) -> None:
    client = signed_in(manager)

    first = client.get("/cold/").content.decode()
    second = client.get("/cold/?store=warsaw&segment=buyers&page=2").content.decode()

    assert 'id="summary-warsaw"' in first and "Krakow" not in first
    assert re.search(r'id="tab-warsaw-buyers"[^>]*>Buyers <span class="count count-bad">30<',
                     first)
    assert re.search(r'id="tab-warsaw-prospects"[^>]*>Prospects <span class="count count-bad">'
                     r"1<", first)
    assert cold_ids(first) + cold_ids(second) == [c.pk for c in world["warsaw"]]
    assert len(cold_ids(first)) == 25
    assert "Page 2 of 2" in second
    assert "Enrol these 30 customers in the chain" in first
    prospects = client.get("/cold/?segment=prospects").content.decode()
    assert cold_ids(prospects) == [world["prospects"][0].pk]
    assert "Overdue by the store&#x27;s visit rhythm" in prospects


def test_enrolling_a_segment_enters_exactly_its_cold_customers_of_that_store(
        world: dict[str, list[Customer]], store: Store, manager: Staff, chain: Flow) -> None:
    client = signed_in(manager)

    response = client.post("/cold/enrol/", {"store": "warsaw", "segment": "buyers",
                                            "chain": "come-back"}, follow=True)

    assert response.redirect_chain == [("/cold/?store=warsaw&segment=buyers", 302)]
    assert "“Come back”: 30 customers entered." in response.content.decode()
    entered = Enrollment.objects.filter(flow=chain)
    assert sorted(entered.values_list("customer_id", flat=True)) == sorted(
        c.pk for c in world["warsaw"])
    assert set(entered.values_list("store_id", flat=True)) == {store.pk}
    assert TimelineEvent.objects.filter(kind=EventKind.ENROLLED).count() == 30

    again = client.post("/cold/enrol/", {"store": "warsaw", "segment": "buyers",
                                         "chain": "come-back"}, follow=True)

    assert "“Come back”: 0 customers entered. 30 were in it already." in (
        again.content.decode())
    assert entered.count() == 30


def test_enrolling_needs_an_active_chain_and_a_segment(
        world: dict[str, list[Customer]], manager: Staff, chain: Flow) -> None:
    client = signed_in(manager)
    set_status(chain, "paused")

    paused = client.post("/cold/enrol/", {"store": "warsaw", "segment": "buyers",
                                          "chain": "come-back"}, follow=True)
    unknown = client.post("/cold/enrol/", {"store": "warsaw", "segment": "buyers",
                                           "chain": "nope"}, follow=True)
    set_status(chain, "active")
    no_segment = client.post("/cold/enrol/", {"store": "warsaw", "segment": "everyone",
                                              "chain": "come-back"}, follow=True)

    assert "Choose an active chain." in paused.content.decode()
    assert "Choose a chain." in unknown.content.decode()
    assert "Choose a segment." in no_segment.content.decode()
    assert not Enrollment.objects.exists()


def test_the_card_says_why_and_only_for_the_viewer_stores(
        store: Store, krakow: Store, people: People, make_staff: Callable[..., Staff],
        admin_staff: Staff) -> None:
    shared = people.buys(store, people.customer(store, name="Wanda Wspolna"), 60, 50, 40, 30)
    people.buys(krakow, shared, 3)
    refresh(store, TODAY)
    refresh(krakow, TODAY)
    warsaw_seller = make_staff(Role.SALESPERSON, [store])

    mine = signed_in(warsaw_seller).get(f"/customers/{shared.pk}/").content.decode()
    everything = signed_in(admin_staff).get(f"/customers/{shared.pk}/").content.decode()

    block = mine[mine.index('id="relationship"'):mine.index('id="timeline"')]
    assert re.sub(r"\s+", " ", block).count("Going cold:") == 1
    assert "last purchase 30 days ago" in block
    assert "buys about every 10 days (their own rhythm)" in block
    assert "Overdue by their own rhythm" in block and "Warsaw Centre" in block
    assert "Krakow" not in mine
    assert "Krakow Rynek" in everything and "last purchase 3 days ago" in everything


def test_the_list_names_a_customer_as_the_store_knows_them(
        store: Store, krakow: Store, people: People, make_staff: Callable[..., Staff]) -> None:
    shared = people.buys(store, people.customer(store, "Wanda Warszawska", "+48501000777"),
                         25, 15, 5)
    there = people.customer(krakow, "Kasia Krakowska", "+48501000777")
    assert there == shared
    people.buys(krakow, people.customer(krakow), 25, 15, 5)
    people.buys(krakow, shared, 60)
    refresh(krakow, TODAY)
    krakow_manager = make_staff(Role.MANAGER, [krakow])

    html = signed_in(krakow_manager).get("/cold/?store=krakow").content.decode()

    assert cold_ids(html) == [shared.pk]
    assert "Kasia Krakowska" in html and "Warszawska" not in html
