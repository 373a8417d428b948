"""Buying at the counter is a purchase (SPEC §1, §3.5): a "Bought" visit ends the warming
chain (its queued touches and its open call task with it) and starts the purchase chains
with the visit's seller, and the till's purchase carrying the visit's id is the same sale:
one purchase, chains entered once. Through the counter screen, the API and the import."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.delivery.conftest import Clock
from tests.servers import Sink
from touchflow.customers.actions import add_external_id
from touchflow.delivery.actions import open_tasks_for
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import CallTask, Touch
from touchflow.flows.models import Enrollment
from touchflow.funnel.importer import ImportOptions, import_purchases
from touchflow.integrations.actions import create_token
from touchflow.purchases.import_mapping import build_mapping
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

pytestmark = pytest.mark.usefixtures("flows")

PHONE = "501 234 567"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def counter(staff: Staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def post_visit(client: Client, store: Store, **fields: Any) -> None:
    page = client.get("/").content.decode()
    token = re.search(r'name="optin_token" value="([^"]+)"', page)
    assert token is not None
    response = client.post("/", {"store": store.pk, "optin_token": token.group(1), **fields})
    assert response.status_code == 302, response.content.decode()


def api_post(secret: str, path: str, body: dict[str, Any]) -> Any:
    return Client().post(f"/api/v1{path}", data=json.dumps(body),
                         content_type="application/json",
                         headers={"Authorization": f"Bearer {secret}"})


def lead_with_an_open_call_task(
    client: Client, store: Store, dispatcher: Dispatcher, clock: Clock
) -> None:
    """A visitor who did not buy and left a phone number, walked through the warming
    chain until its seller's call is a task to do."""
    post_visit(client, store, outcome="not_bought", reason="just_looking",
               contact=PHONE, name="Anna Nowak", contact_capture="taken")
    # thank-you (3 h), how-to-choose (3 d later, 11:00), then the call 5 d after that.
    for when in (utc(2026, 6, 2, 15, 0), utc(2026, 6, 6, 9, 0), utc(2026, 6, 11, 9, 0)):
        clock.move_to(when)
        dispatcher.drain()
    assert CallTask.objects.get().state == "open"
    assert Touch.objects.get(step__key="gentle-offer").state == "queued"


def chains() -> list[tuple[str, str, str]]:
    return sorted(Enrollment.objects.values_list("flow__slug", "state", "end_reason"))


def assert_warming_ended_and_purchase_chains_began(seller: Staff) -> None:
    assert chains() == [
        ("check-in", "active", ""),
        ("loyalty", "active", ""),
        ("warming", "exited", "purchase"),
    ]
    offer = Touch.objects.get(step__key="gentle-offer")
    assert (offer.state, offer.reason) == ("cancelled", "purchase")
    assert CallTask.objects.get().state == "cancelled"
    assert list(open_tasks_for(seller)) == []
    check_in = Enrollment.objects.get(flow__slug="check-in")
    assert check_in.staff_id == seller.pk


def test_a_bought_visit_at_the_counter_ends_warming_and_starts_the_check_in(
    store: Store, salesperson: Staff, manager: Staff, clock: Clock,
    make_dispatcher: Callable[..., Dispatcher], sink: tuple[Sink, str],
) -> None:
    client = counter(salesperson)
    dispatcher = make_dispatcher()
    lead_with_an_open_call_task(client, store, dispatcher, clock)
    sent_before = len(sink[0].received)
    clock.advance(hours=2)
    post_visit(client, store, outcome="bought", contact=PHONE, contact_capture="taken")

    assert_warming_ended_and_purchase_chains_began(salesperson)
    bought = Visit.objects.get(bought=True)
    sale = Purchase.objects.get()
    assert (sale.visit, sale.customer_id, sale.amount, sale.source) == (
        bought, bought.customer_id, None, "counter")
    assert Enrollment.objects.get(flow__slug="check-in").purchase == sale
    # The visit's row says "bought"; no purchase row until the till says how much.
    assert TimelineEvent.objects.filter(kind="purchase").count() == 0
    assert TimelineEvent.objects.filter(kind="left_flow").get().data["reason"] == "purchase"
    page = counter(manager).get(f"/customers/{bought.customer_id}/")
    assert page.status_code == 200
    assert "None" not in page.content.decode()

    # A store without a till still asks "is everything OK?", once, signed by the seller.
    check_in = Touch.objects.get(step__key="is-everything-ok")
    clock.move_to(check_in.due_at)
    dispatcher.drain()
    check_in.refresh_from_db()
    assert (check_in.state, check_in.channel) == ("sent", "sms")
    assert len(sink[0].received) == sent_before + 1
    assert Touch.objects.filter(step__key="gentle-offer", state="sent").count() == 0


def test_the_tills_purchase_with_the_visit_id_completes_the_same_sale(
    store: Store, salesperson: Staff, clock: Clock,
) -> None:
    _token, secret = create_token("warsaw-till", store=store)
    lead = api_post(secret, "/visits", {
        "staff": "sam", "bought": False, "reason": "just_looking", "contact_capture": "taken",
        "customer": {"name": "Anna Nowak", "phone": PHONE, "consent": {"contact": True}}})
    assert lead.status_code == 201, lead.content
    clock.advance(days=1)
    visit = api_post(secret, "/visits", {
        "staff": "sam", "bought": True, "contact_capture": "taken",
        "customer": {"phone": PHONE}})
    assert visit.status_code == 201, visit.content
    visit_id = visit.json()["id"]
    assert chains() == [
        ("check-in", "active", ""), ("loyalty", "active", ""), ("warming", "exited", "purchase")
    ]
    assert Enrollment.objects.get(flow__slug="check-in").staff_id == salesperson.pk
    sale = Purchase.objects.get()
    assert (sale.visit_id, sale.amount) == (visit_id, None)

    body = {"customer_id": visit.json()["customer_id"], "visit_id": visit_id,
            "amount": "1299.50", "currency": "PLN", "external_id": "rcpt-1",
            "categories": ["sofas"]}
    till = api_post(secret, "/purchases", body)
    assert till.status_code == 201, till.content
    assert (till.json()["id"], till.json()["amount"], till.json()["visit_id"]) == (
        sale.pk, "1299.50", visit_id)
    again = api_post(secret, "/purchases", body)
    assert (again.status_code, again.json()["id"]) == (200, sale.pk)

    assert Purchase.objects.count() == 1
    sale.refresh_from_db()
    assert (sale.amount, sale.external_id, sale.categories) == (
        Decimal("1299.50"), "rcpt-1", ["sofas"])
    assert Enrollment.objects.filter(flow__slug="check-in").count() == 1
    assert Touch.objects.filter(step__key="is-everything-ok").count() == 1
    [row] = TimelineEvent.objects.filter(kind="purchase")
    assert (row.purchase_id, row.data["amount"]) == (sale.pk, "1299.50")

    # A second receipt for the same visit is recorded, but enters no chain again.
    split = api_post(secret, "/purchases", {**body, "amount": "20", "external_id": "rcpt-2"})
    assert split.status_code == 201, split.content
    assert Purchase.objects.count() == 2
    assert Enrollment.objects.filter(flow__slug="check-in").count() == 1


def test_the_tills_purchase_for_another_customer_is_refused_naming_the_visit(
    store: Store, salesperson: Staff, clock: Clock,
) -> None:
    _token, secret = create_token("warsaw-till", store=store)
    visit = api_post(secret, "/visits", {
        "staff": "sam", "bought": True, "contact_capture": "taken",
        "customer": {"phone": PHONE, "consent": {"contact": True}}})
    other = api_post(secret, "/purchases", {
        "customer": {"phone": "+48 600 100 200"}, "visit_id": visit.json()["id"],
        "amount": "10", "external_id": "rcpt-9"})
    assert other.status_code == 422
    assert [(p["field"], p["code"]) for p in other.json()["detail"]] == [("visit_id", "conflict")]
    sale = Purchase.objects.get()
    assert (sale.amount, sale.external_id) == (None, None)


def test_a_bought_visit_without_a_customer_records_no_sale(
    store: Store, salesperson: Staff, clock: Clock,
) -> None:
    post_visit(counter(salesperson), store, outcome="bought", contact_capture="refused")
    assert Purchase.objects.count() == 0
    assert Enrollment.objects.count() == 0


def test_an_imported_purchase_ends_warming_with_its_call_task_and_starts_the_check_in_once(
    store: Store, salesperson: Staff, clock: Clock, tmp_path: Path,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    client = counter(salesperson)
    lead_with_an_open_call_task(client, store, make_dispatcher(), clock)
    customer = Visit.objects.get().customer
    assert customer is not None
    add_external_id(customer, store, "C-17")
    path = tmp_path / "till.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "F-1,S1,Sofa,1,2026-06-11 08:30:00,2400.00,C-17,Poland\n"
    )
    options = ImportOptions(store=store, time_zone="UTC")
    report = import_purchases(path, build_mapping({}), options)
    assert report.invoices_imported == 1
    assert chains() == [
        ("check-in", "active", ""), ("loyalty", "active", ""), ("warming", "exited", "purchase")
    ]
    assert Touch.objects.get(step__key="gentle-offer").state == "cancelled"
    assert CallTask.objects.get().state == "cancelled"
    again = import_purchases(path, build_mapping({}), options)
    assert again.invoices_imported == 0
    assert Purchase.objects.count() == 1
    assert Enrollment.objects.filter(flow__slug="check-in").count() == 1
