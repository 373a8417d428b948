"""The manager's customer list (issue 11, decision 0027): filters by the last visit's type
and seller, store, chain, going cold and tag, four orders, pages that keep the filters,
a streamed CSV — and nothing of another store in any of them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from tests.web.conftest import START
from touchflow.customers import listing
from touchflow.customers.actions import ContactInput
from touchflow.customers.models import Customer
from touchflow.flows.models import Flow
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.visits import log_visit
from touchflow.health.models import CustomerHealth
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store
from touchflow.web import customer_listing

CAPTURE = {"type1": (True, "taken"), "type2": (True, "refused"), "type3": (False, "taken"),
           "type4": (False, "refused"), "grey": (False, "not_attempted")}


def visit(store: Store, seller: Staff, visit_class: str, days_ago: float, *,
          customer: Customer | None = None, contacts: list[ContactInput] | None = None,
          name: str = "") -> Customer:
    bought, capture = CAPTURE[visit_class]
    logged, _ = log_visit(store=store, actor=Actor(source="counter", staff=seller),
                          bought=bought, reason=None if bought else "just_looking",
                          contact_capture=capture, customer=customer, contacts=contacts or [],
                          name=name, occurred_at=START - timedelta(days=days_ago))
    assert logged.customer is not None
    return logged.customer


def phone(number: str) -> list[ContactInput]:
    return [ContactInput("phone", number)]


def cold(customer: Customer, store: Store, segment: str, is_cold: bool = True) -> None:
    CustomerHealth.objects.create(customer=customer, store=store, segment=segment,
                                  days_since=40, cold=is_cold, computed_at=START,
                                  reason="overdue_store_rhythm" if is_cold else "in_rhythm")


class World:
    """Warsaw and Kraków (Mira manages both, Wanda Warsaw), London (nobody's here)."""

    def __init__(self, warsaw: Store, make_store: Callable[..., Store],
                 make_staff: Callable[..., Staff]) -> None:
        self.warsaw = warsaw
        self.krakow = make_store(name="Kraków", slug="krakow")
        self.london = make_store(name="Londinium", slug="london", country="GB",
                                 time_zone="Europe/London")
        self.sam = make_staff(Role.SALESPERSON, [warsaw], username="sam", first_name="Sam")
        self.ola = make_staff(Role.SALESPERSON, [self.krakow], username="ola",
                              first_name="Ola")
        self.lena = make_staff(Role.SALESPERSON, [self.london], username="lena",
                               first_name="Ldnseller")
        self.mira = make_staff(Role.MANAGER, [warsaw, self.krakow], username="mira")
        self.wanda = make_staff(Role.MANAGER, [warsaw], username="wanda")
        # Anna: Warsaw type 3 by Sam, then Kraków type 1 by Ola (her last visit anywhere).
        self.anna = visit(warsaw, self.sam, "type3", 10, contacts=phone("+48501000001"),
                          name="Anna Nowak")
        visit(self.krakow, self.ola, "type1", 5, customer=self.anna)
        # Bolek: Warsaw type 3, then a grey visit at Warsaw.
        self.bolek = visit(warsaw, self.sam, "type3", 8, contacts=phone("+48501000002"),
                           name="bolek Zielony")
        visit(warsaw, self.sam, "grey", 3, customer=self.bolek)
        # Cyryl: Kraków only, type 1.
        self.cyryl = visit(self.krakow, self.ola, "type1", 20, contacts=phone("+48501000003"),
                           name="Cyryl Kowal")
        # Ewa: Warsaw's, never visited (came through the API).
        self.ewa, _ = resolve_customer(store=warsaw, actor=Actor(source="api"), name="Ewa Bez",
                                       contacts=phone("+48501000004"))
        # Lorna: London's customer (home London, tagged there); Warsaw met her later by
        # the e-mail London took, and gave its own name and phone.
        self.lorna = visit(self.london, self.lena, "type3", 30, name="Lorna Ldnmarker",
                           contacts=[ContactInput("phone", "+447911123456"),
                                     ContactInput("email", "shared@example.com")])
        visit(warsaw, self.sam, "type4", 40, customer=self.lorna)  # Warsaw's, long ago
        visit(warsaw, self.sam, "type3", 1, name="Wiktor Wspolny",
              contacts=[ContactInput("email", "shared@example.com"),
                        ContactInput("phone", "+48501000009")])
        self.lucius = visit(self.london, self.lena, "type1", 2, name="Lucius Ldnonly",
                            contacts=phone("+447911123789"))
        Customer.objects.filter(pk=self.lorna.pk).update(tags=["vip", "Ldnmarker"])
        Customer.objects.filter(pk=self.lucius.pk).update(tags=["vip"])
        Customer.objects.filter(pk=self.anna.pk).update(tags=["vip", "sofa 50% off"])
        Customer.objects.filter(pk=self.bolek.pk).update(tags=["vipx", 'say "hi"'])
        cold(self.anna, warsaw, "buyers")
        cold(self.bolek, warsaw, "prospects")
        cold(self.cyryl, self.krakow, "buyers", is_cold=False)
        cold(self.lorna, self.london, "buyers")  # London's judgement, not Warsaw's


@pytest.fixture
def world(store: Store, make_store: Callable[..., Store], make_staff: Callable[..., Staff],
          follow_up: Flow) -> World:
    return World(store, make_store, make_staff)


def listed(client: Client, **params: Any) -> list[int]:
    """The customer ids on the page, in order."""
    response = client.get("/customers/", params)
    assert response.status_code == 200, response.content.decode()[:2000]
    return [int(pk) for pk in re.findall(r'href="/customers/(\d+)/" class="customer-row"',
                                         response.content.decode())]


def exported(client: Client, **params: Any) -> list[dict[str, str]]:
    response = client.get("/customers/", {**params, "csv": "1"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="customers-2026-06-02.csv"'
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


# -- the filters ---------------------------------------------------------------------------

def test_a_manager_of_two_stores_sees_both_newest_first(
    world: World, login_client: Callable[[Staff], Client],
) -> None:
    w = world
    assert listed(login_client(w.mira)) == sorted(
        [w.anna.pk, w.bolek.pk, w.cyryl.pk, w.ewa.pk, w.lorna.pk], reverse=True)
    assert listed(login_client(w.wanda)) == sorted(
        [w.anna.pk, w.bolek.pk, w.ewa.pk, w.lorna.pk], reverse=True)


def test_the_type_of_the_last_visit_is_the_latest_across_the_viewers_stores_or_in_one(
    world: World, login_client: Callable[[Staff], Client],
) -> None:
    w, mira = world, login_client(world.mira)
    # Anna's last visit in Mira's stores was Kraków's type 1; at Warsaw it was a type 3.
    assert listed(mira, visit_class="type1") == [w.cyryl.pk, w.anna.pk]
    assert listed(mira, visit_class="type3") == [w.lorna.pk]
    assert listed(mira, visit_class="type3", store=w.warsaw.pk) == [w.lorna.pk, w.anna.pk]
    assert listed(mira, visit_class="grey") == [w.bolek.pk]
    assert listed(mira, visit_class="type4") == []
    # Wanda sees Warsaw only: Anna's last visit there is the type 3.
    assert listed(login_client(w.wanda), visit_class="type3") == [w.lorna.pk, w.anna.pk]


def test_the_seller_of_the_last_visit(world: World,
                                      login_client: Callable[[Staff], Client]) -> None:
    w, mira = world, login_client(world.mira)
    assert listed(mira, seller=w.ola.pk) == [w.cyryl.pk, w.anna.pk]
    assert listed(mira, seller=w.sam.pk) == [w.lorna.pk, w.bolek.pk]
    assert listed(mira, seller=w.sam.pk, store=w.warsaw.pk) == [w.lorna.pk, w.bolek.pk,
                                                                 w.anna.pk]
    assert listed(mira, seller=w.sam.pk, visit_class="grey") == [w.bolek.pk]


def test_a_salesperson_may_pick_only_themselves_as_the_seller(
    world: World, login_client: Callable[[Staff], Client],
) -> None:
    w, sam = world, login_client(world.sam)
    assert listed(sam, seller=w.sam.pk) == [w.lorna.pk, w.bolek.pk, w.anna.pk]
    response = sam.get("/customers/", {"seller": w.ola.pk})
    assert response.status_code == 400
    assert "seller: not one you can choose; showing all." in response.content.decode()


def test_the_store_filter(world: World, login_client: Callable[[Staff], Client]) -> None:
    w, mira = world, login_client(world.mira)
    assert listed(mira, store=w.krakow.pk) == [w.cyryl.pk, w.anna.pk]
    assert listed(mira, store=w.warsaw.pk) == sorted(
        [w.anna.pk, w.bolek.pk, w.ewa.pk, w.lorna.pk], reverse=True)


def test_in_a_chain_at_the_viewers_stores(world: World, follow_up: Flow,
                                          login_client: Callable[[Staff], Client]) -> None:
    """The follow-up chain takes type 3 visits and ends on a purchase: Anna left it when
    she bought at Kraków. Lorna entered it at London (her Warsaw type 3 found her in it
    already): that entry is London's, not Warsaw's to list."""
    w, mira = world, login_client(world.mira)
    assert listed(mira, chain="follow-up") == [w.bolek.pk]
    assert listed(mira, chain="follow-up", store=w.krakow.pk) == []
    assert listed(login_client(world.lena), chain="follow-up") == [w.lorna.pk]


def test_going_cold_in_the_viewers_stores(world: World,
                                          login_client: Callable[[Staff], Client]) -> None:
    w, mira = world, login_client(world.mira)
    assert listed(mira, cold="any") == [w.bolek.pk, w.anna.pk]
    assert listed(mira, cold="buyers") == [w.anna.pk]
    assert listed(mira, cold="prospects") == [w.bolek.pk]
    assert listed(mira, cold="buyers", store=w.krakow.pk) == []  # Cyryl is in rhythm
    html = mira.get("/customers/").content.decode()
    assert html.count("badge-cold") == 2


def test_a_tag_matches_exactly_and_only_where_the_viewer_sees_the_tags(
    world: World, login_client: Callable[[Staff], Client], admin_staff: Staff,
) -> None:
    w, mira = world, login_client(world.mira)
    # Anna is Warsaw's (tagged there); Lorna is London's, so her "vip" is not Warsaw's to
    # search by; "vipx" is another tag.
    assert listed(mira, tag="vip") == [w.anna.pk]
    assert listed(mira, tag="Ldnmarker") == []
    assert listed(mira, tag="sofa 50% off") == [w.anna.pk]
    assert listed(mira, tag="sofa 5_% off") == []
    assert listed(mira, tag='say "hi"') == [w.bolek.pk]
    assert listed(mira, tag="vi") == []
    assert listed(mira, tag="VIP") == []
    assert listed(login_client(admin_staff), tag="vip") == [w.lucius.pk, w.lorna.pk,
                                                            w.anna.pk]


def test_filters_combine_with_each_other_and_the_search(
    world: World, login_client: Callable[[Staff], Client],
) -> None:
    w, mira = world, login_client(world.mira)
    assert listed(mira, store=w.warsaw.pk, visit_class="type3", seller=w.sam.pk,
                  tag="vip", cold="buyers") == [w.anna.pk]
    assert listed(mira, visit_class="type3", q="Wiktor") == [w.lorna.pk]
    assert listed(mira, visit_class="type3", q="Lorna") == []  # London's name for her
    assert listed(mira, q="+48501000002", cold="prospects") == [w.bolek.pk]
    assert listed(mira, q="+48501000002", cold="buyers") == []


# -- the orders and the pages --------------------------------------------------------------

def test_the_four_orders(world: World, login_client: Callable[[Staff], Client]) -> None:
    w, mira = world, login_client(world.mira)
    everyone = [w.anna.pk, w.bolek.pk, w.cyryl.pk, w.ewa.pk, w.lorna.pk]
    assert listed(mira, sort="newest") == sorted(everyone, reverse=True)
    assert listed(mira, sort="oldest") == sorted(everyone)
    # By the names the viewer sees, case aside: Lorna is "Wiktor Wspolny" to Warsaw.
    assert listed(mira, sort="name") == [w.anna.pk, w.bolek.pk, w.cyryl.pk, w.ewa.pk,
                                         w.lorna.pk]
    # Latest visit first; Ewa never came.
    assert listed(mira, sort="last_visit") == [w.lorna.pk, w.bolek.pk, w.anna.pk,
                                               w.cyryl.pk, w.ewa.pk]
    assert listed(login_client(w.wanda), sort="last_visit") == [w.lorna.pk, w.bolek.pk,
                                                                w.anna.pk, w.ewa.pk]


def test_sorting_by_name_puts_the_unnamed_last(
    world: World, login_client: Callable[[Staff], Client],
) -> None:
    w = world
    nameless = visit(w.warsaw, w.sam, "type3", 0.5, contacts=phone("+48501000077"))
    assert listed(login_client(w.wanda), sort="name") == [w.anna.pk, w.bolek.pk, w.ewa.pk,
                                                          w.lorna.pk, nameless.pk]


def test_pages_keep_the_filters(store: Store, salesperson: Staff, manager: Staff,
                                login_client: Callable[[Staff], Client]) -> None:
    for n in range(30):
        visit(store, salesperson, "type3", 1 + n / 24, contacts=phone(f"+485010001{n:02d}"),
              name=f"Person {n:02d}")
    client = login_client(manager)
    first = client.get("/customers/", {"visit_class": "type3", "sort": "name"}).content.decode()
    assert first.count('class="customer-row"') == 25
    assert "Page 1 of 2" in first and "30 customers" in first
    assert 'href="?visit_class=type3&amp;sort=name&amp;page=2"' in first
    assert 'href="?visit_class=type3&amp;sort=name&amp;csv=1"' in first
    second = client.get("/customers/", {"visit_class": "type3", "sort": "name", "page": 2})
    html = second.content.decode()
    assert html.count('class="customer-row"') == 5
    assert "Person 25" in html and "Person 29" in html and "Person 24" not in html


def test_a_page_counts_up_to_a_cap(store: Store, salesperson: Staff, manager: Staff,
                                   login_client: Callable[[Staff], Client],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(customer_listing, "COUNT_CAP", 3)
    monkeypatch.setattr(customer_listing, "PAGE_SIZE", 2)
    for n in range(5):
        visit(store, salesperson, "type3", 1, contacts=phone(f"+4850100020{n}"))
    html = login_client(manager).get("/customers/").content.decode()
    assert "More than 3 customers" in html and "Page 1 of 2" in html
    assert "narrow the filters, or export them all" in html
    assert html.count('class="customer-row"') == 2


def test_sorting_by_name_reads_no_more_customers_than_a_page_counts(
    world: World, login_client: Callable[[Staff], Client], monkeypatch: pytest.MonkeyPatch,
) -> None:
    w, mira = world, login_client(world.mira)
    monkeypatch.setattr(customer_listing, "COUNT_CAP", 4)
    response = mira.get("/customers/", {"sort": "name"})
    assert response.status_code == 200
    assert ("sort: by name only when at most 4 customers match; showing the newest first."
            in response.content.decode())
    # Newest first, and only as many as counted ("more than 4").
    assert listed(mira, sort="name") == sorted(
        [w.anna.pk, w.bolek.pk, w.cyryl.pk, w.ewa.pk, w.lorna.pk], reverse=True)[:4]
    # Narrowed to four or fewer, the names order them.
    assert listed(mira, sort="name", store=w.warsaw.pk) == [w.anna.pk, w.bolek.pk, w.ewa.pk,
                                                             w.lorna.pk]
    assert "by name only" not in mira.get("/customers/", {"sort": "name", "store": w.warsaw.pk}
                                          ).content.decode()


def test_a_page_takes_the_same_queries_for_many_customers_as_for_few(
    world: World, login_client: Callable[[Staff], Client],
    django_assert_max_num_queries: Any,
) -> None:
    # Signing in, the menu's counts and the filters' choices take six; the list ten.
    client = login_client(world.mira)
    with django_assert_max_num_queries(16):
        assert client.get("/customers/", {"cold": "any", "tag": "vip", "sort": "name"}
                          ).status_code == 200
    for n in range(30):
        visit(world.krakow, world.ola, "type1", 1, contacts=phone(f"+485010003{n:02d}"))
    with django_assert_max_num_queries(16):
        assert client.get("/customers/", {"sort": "last_visit"}).status_code == 200


# -- refused input -------------------------------------------------------------------------

@pytest.mark.parametrize(("params", "said"), [
    ({"store": "london"}, "store: not one you can choose; showing all."),
    ({"seller": "x"}, "seller: not one you can choose; showing all."),
    ({"visit_class": "type9"}, "visit_class: not one you can choose; showing all."),
    ({"chain": "no-such-chain"}, "chain: not one you can choose; showing all."),
    ({"cold": "lukewarm"}, "cold: not one you can choose; showing all."),
    ({"tag": "x" * 201}, "tag: At most 200 characters, please."),
    ({"tag": "a\x00b"}, "tag: This text contains control characters"),
    ({"sort": "salary"}, "sort: not one of the offered orders; showing the newest first."),
])
def test_a_refused_filter_is_named_and_left_out(
    world: World, login_client: Callable[[Staff], Client], params: dict[str, str], said: str,
) -> None:
    w, mira = world, login_client(world.mira)
    response = mira.get("/customers/", params)
    assert response.status_code == 400
    html = response.content.decode()
    assert said in html
    shown = [int(pk) for pk in re.findall(r'href="/customers/(\d+)/" class="customer-row"',
                                          html)]
    assert shown == sorted([w.anna.pk, w.bolek.pk, w.cyryl.pk, w.ewa.pk, w.lorna.pk],
                           reverse=True)
    # Asked as CSV, it is the same page: nothing is exported on a refused filter.
    again = mira.get("/customers/", {**params, "csv": "1"})
    assert again.status_code == 400 and not again.streaming


def test_another_stores_id_is_refused_and_shows_nothing_of_it(
    world: World, login_client: Callable[[Staff], Client],
) -> None:
    w, wanda = world, login_client(world.wanda)
    for params in ({"store": w.london.pk}, {"store": w.krakow.pk}, {"seller": w.lena.pk},
                   {"seller": w.ola.pk}):
        response = wanda.get("/customers/", params)
        assert response.status_code == 400
        html = response.content.decode()
        for marker in ("Lorna", "Ldnmarker", "Lucius", "+447911123456", "Londinium",
                       "Ldnseller", "Cyryl", "Kraków"):
            assert marker not in html, (params, marker)


@pytest.mark.parametrize("field", ["store", "seller", "visit_class", "chain", "cold", "tag",
                                   "sort", "page", "csv", "format"])
def test_junk_in_any_parameter_is_answered_not_a_500(
    world: World, login_client: Callable[[Staff], Client], field: str,
) -> None:
    client = login_client(world.mira)
    for junk in ("", "\x00", "' OR 1=1 --", "😀" * 300, "-1", "9" * 40, "1e999"):
        response = client.get("/customers/", {field: junk})
        assert response.status_code in (200, 400), (field, junk)


# -- the CSV -------------------------------------------------------------------------------

def test_the_csv_has_every_match_as_the_viewer_sees_them(
    world: World, login_client: Callable[[Staff], Client],
) -> None:
    w = world
    rows = exported(login_client(w.wanda), sort="name")
    assert list(rows[0]) == ["Id", "Name", "Phones", "E-mails", "Other contacts", "Stores",
                             "Last visit", "Type of the last visit", "Store of the last visit",
                             "Seller", "Going cold", "Tags"]
    assert [r["Id"] for r in rows] == [str(c.pk) for c in (w.anna, w.bolek, w.ewa, w.lorna)]
    anna, _bolek, ewa, lorna = rows
    assert anna == {
        "Id": str(w.anna.pk), "Name": "Anna Nowak", "Phones": "+48501000001", "E-mails": "",
        "Other contacts": "", "Stores": "Warsaw Centre", "Last visit": "2026-05-23",
        "Type of the last visit": "Type 3: did not buy, contacts taken",
        "Store of the last visit": "Warsaw Centre", "Seller": "Sam",
        "Going cold": "Buyers", "Tags": "vip; sofa 50% off",
    }
    assert (ewa["Last visit"], ewa["Type of the last visit"], ewa["Seller"]) == ("", "", "")
    # The person London also knows: Warsaw's name and contacts, no London store, no tags
    # (London's record), not going cold (London's judgement).
    assert lorna == {
        "Id": str(w.lorna.pk), "Name": "Wiktor Wspolny", "Phones": "+48501000009",
        "E-mails": "shared@example.com", "Other contacts": "", "Stores": "Warsaw Centre",
        "Last visit": "2026-06-01", "Type of the last visit": "Type 3: did not buy, contacts taken",
        "Store of the last visit": "Warsaw Centre", "Seller": "Sam", "Going cold": "", "Tags": "",
    }


def test_the_csv_of_a_manager_of_two_stores_names_both(
    world: World, login_client: Callable[[Staff], Client],
) -> None:
    w = world
    rows = {r["Id"]: r for r in exported(login_client(w.mira), visit_class="type1")}
    assert list(rows) == [str(w.cyryl.pk), str(w.anna.pk)]
    anna = rows[str(w.anna.pk)]
    assert (anna["Stores"], anna["Store of the last visit"], anna["Seller"], anna["Going cold"]) \
        == ("Kraków; Warsaw Centre", "Kraków", "Ola", "Buyers")


def test_the_csv_keeps_nothing_of_another_store(
    world: World, login_client: Callable[[Staff], Client], admin_staff: Staff,
) -> None:
    w = world
    markers = ("Lorna", "Ldnmarker", "Lucius", "+447911123456", "+447911123789",
               "Londinium", "Ldnseller")
    for viewer, params in ((w.wanda, {}), (w.mira, {"sort": "last_visit"}),
                           (w.sam, {"cold": "any"}), (w.wanda, {"q": "+447911123456"})):
        response = login_client(viewer).get("/customers/", {**params, "csv": "1"})
        body = b"".join(response.streaming_content).decode()
        for marker in markers:
            assert marker not in body, (viewer.username, params, marker)
    # The check can fail: an admin's export holds them.
    body = b"".join(login_client(admin_staff).get("/customers/", {"csv": "1"})
                    .streaming_content).decode()
    # (Warsaw's name replaced the person's own: an admin reads "Wiktor Wspolny" too.)
    assert all(marker in body for marker in markers if marker != "Lorna")


def test_the_csv_is_written_in_batches_each_customer_once(
    world: World, login_client: Callable[[Staff], Client], monkeypatch: pytest.MonkeyPatch,
    django_assert_max_num_queries: Any,
) -> None:
    monkeypatch.setattr(customer_listing, "CSV_BATCH", 2)
    response = login_client(world.mira).get("/customers/", {"csv": "1", "sort": "oldest"})
    # The rows' cursor and the stores' names, then per batch: the links (names, stores),
    # the contacts, who recorded them, going cold (and on PostgreSQL the transaction the
    # cursor streams in).
    with django_assert_max_num_queries(2 + 3 * 4 + 2):
        chunks = list(response.streaming_content)
    assert len(chunks) == 1 + 3  # the header, then five customers in batches of two
    ids = [line.split(b",")[0] for chunk in chunks[1:] for line in chunk.splitlines()]
    assert ids == [str(pk).encode() for pk in sorted([world.anna.pk, world.bolek.pk,
                                                      world.cyryl.pk, world.ewa.pk,
                                                      world.lorna.pk])]


def test_free_text_that_a_spreadsheet_would_run_is_kept_as_text(
    store: Store, salesperson: Staff, manager: Staff, login_client: Callable[[Staff], Client],
) -> None:
    customer = visit(store, salesperson, "type3", 1, contacts=phone("+48501000099"),
                     name="=HYPERLINK(1)")
    Customer.objects.filter(pk=customer.pk).update(tags=["@cmd", "ok"])
    row = exported(login_client(manager))[0]
    assert (row["Name"], row["Tags"], row["Phones"]) == ("'=HYPERLINK(1)", "'@cmd; ok",
                                                         "+48501000099")


def test_the_export_link_carries_the_filters(
    world: World, login_client: Callable[[Staff], Client],
) -> None:
    html = login_client(world.mira).get("/customers/", {"cold": "any", "q": "Anna N"}
                                        ).content.decode()
    assert 'id="export-csv" href="?q=Anna+N&amp;cold=any&amp;csv=1"' in html
    rows = exported(login_client(world.mira), cold="any", format="csv")
    assert [r["Id"] for r in rows] == [str(world.bolek.pk), str(world.anna.pk)]


# -- the tag match on this database ---------------------------------------------------------

@pytest.mark.parametrize(("tag", "found"), [
    ("vip", ["a"]), ("VIP", []), ("v", []), ('"vip"', []), ("%", ["b"]), ("_", []),
    ("a\\b", ["b"]), ('x", "vip', ["c"]), ("klient ł", ["c"]), ("клиент", ["c"]),
])
def test_tags_are_matched_whole(store: Store, tag: str, found: list[str]) -> None:
    made = {}
    for key, tags in (("a", ["vip", "x"]), ("b", ["%", "a\\b"]),
                      ("c", ['x", "vip', "klient ł", "клиент"])):
        customer, _ = resolve_customer(store=store, actor=Actor(source="api"), name=key,
                                       contacts=[ContactInput("email", f"{key}@example.com")])
        Customer.objects.filter(pk=customer.pk).update(tags=tags)
        made[customer.pk] = key
    rows = listing.links(listing.Listing(stores=frozenset({store.pk}), tag=tag,
                                         sort="oldest"))
    assert [made[link.customer_id] for link in rows] == found


def test_an_unknown_sort_is_refused_by_the_listing(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown sort"):
        listing.links(listing.Listing(stores=None, sort="-id; DROP TABLE"))

