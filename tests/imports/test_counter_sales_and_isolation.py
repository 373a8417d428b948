"""The till's file and the counter: a line carrying the visit id Touchflow gave completes
that visit's sale (decision 0007), never a second purchase; and a store importing a
customer another store recorded first sees what its own file gave (decision 0008)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.test import Client

from touchflow.customers import visibility
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import ContactPointStore, Customer
from touchflow.flows.actions import load_flow_dir
from touchflow.flows.models import Enrollment
from touchflow.funnel.chains import set_status
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.importer import ImportOptions, import_purchases
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.purchases.import_mapping import build_mapping
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

from .conftest import table_counts

EXAMPLES = Path(__file__).resolve().parents[2] / "touchflow" / "flows" / "examples"
START = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)  # 14:00 in Warsaw
PHONE = "+48 501 234 567"
TILL = "Invoice,Date,Phone,Item,Qty,Price,Visit\n"
TILL_MAP = build_mapping({
    "invoice": "Invoice", "occurred_at": "Date", "phone": "Phone", "description": "Item",
    "quantity": "Qty", "unit_price": "Price", "visit": "Visit", "customer_id": "",
    "sku": "", "country": "",
})


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def flows(db: None) -> None:
    results, errors = load_flow_dir(EXAMPLES)
    assert errors == []
    for result in results:
        set_status(result.flow, "active")


def bought_visit(store: Store, seller: Staff, phone: str = PHONE) -> Visit:
    visit, _ = log_visit(
        store=store, actor=Actor(source="counter", staff=seller), bought=True,
        contact_capture="taken", contacts=[ContactInput("phone", phone.replace(" ", ""))],
        consent=ConsentGrant(),
    )
    return visit


def purchase_chains() -> list[tuple[str, int | None]]:
    return sorted(Enrollment.objects.values_list("flow__slug", "purchase_id"))


@pytest.mark.usefixtures("flows")
def test_a_till_file_with_the_visit_id_completes_the_counter_sale_once(
    store: Store, salesperson: Staff, clock: time_machine.Coordinates,
    write_csv: Callable[..., Path],
) -> None:
    visit = bought_visit(store, salesperson)
    sale = Purchase.objects.get()
    assert sale.amount is None
    chains = purchase_chains()
    assert chains and all(purchase == sale.pk for _flow, purchase in chains)
    clock.shift(timedelta(hours=1))
    path = write_csv(
        TILL
        + f"F-1,2026-06-02 14:05:00,{PHONE},Sofa,1,2400.00,{visit.pk}\n"
        f"F-1,2026-06-02 14:05:00,{PHONE},Cushion,2,25.50,{visit.pk}\n"
        f"F-2,2026-06-02 14:30:00,{PHONE},Lamp,1,99.00,\n"
    )

    report = import_purchases(path, TILL_MAP, ImportOptions(store=store))

    assert (report.invoices_imported, report.lines_imported, report.bad_rows) == (2, 3, [])
    assert report.customers_created == 0
    sale.refresh_from_db()
    assert (sale.visit_id, sale.amount, sale.currency, sale.external_id, sale.source) == (
        visit.pk, Decimal("2451.00"), "PLN", "F-1", "counter")
    assert [i["name"] for i in sale.items] == ["Sofa", "Cushion"]
    lamp = Purchase.objects.get(external_id="F-2")
    assert (lamp.customer_id, lamp.visit_id, lamp.amount) == (
        sale.customer_id, None, Decimal("99.00"))
    assert Purchase.objects.count() == 2
    # The counter sale's chains were entered when it was logged, and stay entered once.
    assert [c for c in purchase_chains() if c[1] == sale.pk] == chains
    assert TimelineEvent.objects.filter(kind="purchase", purchase=sale).count() == 1

    before = table_counts()
    again = import_purchases(path, TILL_MAP, ImportOptions(store=store))
    assert (again.invoices_imported, again.skipped["already_imported"].invoices) == (0, 2)
    assert table_counts() == before


def test_another_stores_visit_or_an_unknown_one_is_a_refused_line(
    store: Store, salesperson: Staff, make_store: Callable[..., Store],
    make_staff: Callable[..., Staff], clock: time_machine.Coordinates,
    write_csv: Callable[..., Path],
) -> None:
    krakow = make_store(name="Krakow", slug="krakow")
    theirs = bought_visit(krakow, make_staff(Role.SALESPERSON, [krakow], username="kris"))
    ours = bought_visit(store, salesperson, "+48 600 100 200")
    clock.shift(timedelta(hours=1))
    path = write_csv(
        TILL
        + f"F-1,2026-06-02 14:05:00,{PHONE},Sofa,1,2400.00,{theirs.pk}\n"
        f"F-1,2026-06-02 14:05:00,{PHONE},Cushion,1,20.00,{theirs.pk}\n"
        f"F-2,2026-06-02 14:06:00,{PHONE},Lamp,1,99.00,999999\n"
        f"F-3,2026-06-02 14:07:00,+48 600 100 200,Chair,1,150.00,{ours.pk}\n"
        f"F-4,2026-06-02 14:08:00,{PHONE},Rug,1,80.00,{ours.pk}\n"
        f"F-5,2026-06-02 14:09:00,{PHONE},Vase,1,30.00,not-a-visit\n"
    )

    report = import_purchases(path, TILL_MAP, ImportOptions(store=store))

    assert report.invoices_imported == 1  # F-3 only
    refused = {(r.line, r.column, r.invoice) for r in report.bad_rows}
    assert refused == {(2, "Visit", "F-1"), (3, "Visit", "F-1"), (4, "Visit", "F-2"),
                       (6, "Visit", "F-4"), (7, "Visit", "F-5")}
    messages = {r.line: r.message for r in report.bad_rows}
    assert messages[2] == f"Visit {theirs.pk} is not one of this store's visits."
    assert messages[4] == "Visit 999999 is not one of this store's visits."
    assert messages[6] == f"Visit {ours.pk} was logged for another customer."
    assert messages[7] == "Not a visit id: 'not-a-visit'."
    assert {r.line for r in report.refused()} == {2, 3, 4, 6, 7}
    # Krakow's counter sale is untouched; ours is completed by F-3.
    assert Purchase.objects.get(visit=theirs).amount is None
    assert Purchase.objects.get(visit=ours).amount == Decimal("150.00")
    assert not Purchase.objects.filter(external_id__in=["F-1", "F-2", "F-4", "F-5"]).exists()
    assert not Customer.objects.filter(contacts__value=PHONE.replace(" ", ""),
                                       home_store=store).exists()


def test_a_customer_another_store_recorded_is_seen_by_the_importing_store_as_its_file_says(
    store: Store, make_store: Callable[..., Store], make_staff: Callable[..., Staff],
    clock: time_machine.Coordinates, write_csv: Callable[..., Path],
) -> None:
    london = make_store(name="Londinium", slug="london", country="GB",
                        time_zone="Europe/London")
    customer, _ = resolve_customer(
        store=london, actor=Actor(source="counter"), name="Lorna London",
        contacts=[ContactInput("phone", PHONE.replace(" ", "")),
                  ContactInput("email", "lorna@example.org")],
    )
    warsaw_staff = make_staff(Role.SALESPERSON, [store], username="wanda")
    ldn_staff = make_staff(Role.SALESPERSON, [london], username="larry")
    warsaw, ldn = visibility.stores_of_staff(warsaw_staff), visibility.stores_of_staff(ldn_staff)
    assert visibility.visible_customers(warsaw).count() == 0
    clock.shift(timedelta(days=1))
    path = write_csv(
        "Invoice,Date,Phone,Name,Amount\n"
        f"W-1,2026-06-03 10:00:00,{PHONE},Ola Nowak,120.00\n"
    )
    mapping = build_mapping({"invoice": "Invoice", "occurred_at": "Date", "phone": "Phone",
                             "name": "Name", "amount": "Amount", "customer_id": "",
                             "sku": "", "description": "", "quantity": "", "unit_price": "",
                             "country": ""})

    report = import_purchases(path, mapping, ImportOptions(store=store))

    assert (report.customers_existing, report.customers_created) == (1, 0)
    assert list(visibility.visible_customers(warsaw)) == [customer]
    seen = visibility.view_of(Customer.objects.get(pk=customer.pk), warsaw)
    assert seen.name == "Ola Nowak"
    assert [c.point.value for c in seen.contacts] == [PHONE.replace(" ", "")]
    # London keeps its own name and both its contacts.
    home = visibility.view_of(Customer.objects.get(pk=customer.pk), ldn)
    assert home.name == "Lorna London"
    assert sorted(c.point.value for c in home.contacts) == [
        PHONE.replace(" ", ""), "lorna@example.org"]
    # The customer page as Warsaw staff: the file's name and phone, nothing of London's.
    client = Client()
    client.force_login(warsaw_staff)
    page = client.get(f"/customers/{customer.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Ola Nowak" in text
    assert "Lorna" not in text
    assert "lorna@example.org" not in text

    # Importing again records nothing new.
    before = table_counts()
    import_purchases(path, mapping, ImportOptions(store=store))
    assert table_counts() == before


def test_a_point_the_importer_wrote_stays_its_home_stores_when_another_store_imports_it(
    store: Store, make_store: Callable[..., Store], make_staff: Callable[..., Staff],
    clock: time_machine.Coordinates, write_csv: Callable[..., Path],
) -> None:
    """A contact point no store is linked to is its home store's: when another store's
    file links it, the home store keeps seeing it."""
    london = make_store(name="Londinium", slug="london", country="GB",
                        time_zone="Europe/London")
    mapping = build_mapping({"invoice": "Invoice", "occurred_at": "Date", "phone": "Phone",
                             "name": "Name", "amount": "Amount", "customer_id": "",
                             "sku": "", "description": "", "quantity": "", "unit_price": "",
                             "country": ""})
    header = "Invoice,Date,Phone,Name,Amount\n"
    import_purchases(write_csv(header + f"L-1,2026-06-01 10:00:00,{PHONE},Lorna,5.00\n",
                               name="london.csv"), mapping, ImportOptions(store=london))
    customer = Customer.objects.get()
    assert not ContactPointStore.objects.exists()  # the importer links none of its own

    import_purchases(write_csv(header + f"W-1,2026-06-01 11:00:00,{PHONE},Ola,7.00\n",
                               name="warsaw.csv"), mapping, ImportOptions(store=store))

    ldn = visibility.stores_of_staff(make_staff(Role.SALESPERSON, [london], username="larry"))
    waw = visibility.stores_of_staff(make_staff(Role.SALESPERSON, [store], username="wanda"))
    assert [p.value for p in visibility.visible_points(customer, ldn)] == [
        PHONE.replace(" ", "")]
    assert [p.value for p in visibility.visible_points(customer, waw)] == [
        PHONE.replace(" ", "")]
    names = (visibility.view_of(customer, ldn).name, visibility.view_of(customer, waw).name)
    assert names == ("Lorna", "Ola")
