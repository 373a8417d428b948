"""The dashboard's panels beyond the counter's: the funnel, sales credited to chains,
replies and STOPs per chain, check-in answers per store and category, and the 20% rule —
each built through the real actions, read from the figures, shown on the page."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from tests.delivery.conftest import (  # noqa: F401
    Clock,
    clock,
    flows,
    type3_visit,
)
from touchflow.delivery.channels.null import NullChannel
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch, TouchState
from touchflow.funnel.optout import opt_out
from touchflow.funnel.purchases import record_purchase
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline import events
from touchflow.visits.models import Visit

pytestmark = pytest.mark.django_db
JUNE = "since=2026-06-01&until=2026-06-30"


def _table(html: str, panel: str) -> str:
    start = html.index(f'id="panel-{panel}"')
    return html[start:html.index("</section>", start)]


def _csv(client: Client, panel: str) -> list[list[str]]:
    answer = client.get(f"/dashboard/?{JUNE}&csv={panel}")
    assert answer.status_code == 200
    return list(csv.reader(io.StringIO(answer.content.decode())))


def _send_first_message(clock: Clock) -> Touch:  # noqa: F811
    clock.move_to(datetime(2026, 6, 2, 15, 0, tzinfo=UTC))
    dispatcher = Dispatcher({"sms": NullChannel("sms"), "email": NullChannel("email")},
                            now=clock.now)
    dispatcher.drain()
    dispatcher.close()
    return Touch.objects.get(state=TouchState.SENT)


def test_a_sale_after_a_chains_message_shows_as_that_chains_revenue_and_its_reply(
    type3_visit: Callable[..., Visit], clock: Clock, flows: Any, store: Store,  # noqa: F811
    make_staff: Callable[..., Staff], login_client: Callable[[Staff], Client],
) -> None:
    visit = type3_visit()
    touch = _send_first_message(clock)
    clock.advance(hours=2)
    events.message_received(visit.customer_id, clock.now(), store_id=store.pk, channel="sms",
                            text="Thanks", sender="+48501234567",
                            credit=("warming", touch.step.key))
    clock.advance(days=2)
    record_purchase(store=store, actor=Actor(source="api"), customer=touch.customer,
                    amount="250.00", currency="PLN")
    clock.advance(days=1)
    opt_out(visit.customer_id, "sms", True, store_id=store.pk, how="text", text="STOP")
    boss = login_client(make_staff(role=Role.MANAGER, stores=[store]))
    html = boss.get(f"/dashboard/?{JUNE}").content.decode()

    revenue = _table(html, "revenue")
    assert f"· {touch.step.key}" in revenue and 'data-value="250.0"' in revenue
    assert "Last touch" in revenue and "14 days" in revenue
    assert _csv(boss, "revenue")[1:] == [[f"{touch.enrollment.flow.name} · {touch.step.key}",
                                          "1", "250.0"]]
    chains = _csv(boss, "chains")
    assert chains[0][-2:] == ["Replies", "Opted out"]
    assert chains[1][0] == touch.enrollment.flow.name and chains[1][-2:] == ["1", "1"]
    # A bar of the chain opens its customers.
    assert "/customers/?chain=warming" in _table(html, "chains")

    funnel = _csv(boss, "funnel")
    assert [row[:2] for row in funnel[1:]] == [
        ["Visits", "1"], ["Contacts taken", "1"], ["Return visits", "0"],
        ["Visits that ended in a purchase", "0"]]  # the sale came from the till


def test_a_sale_with_no_message_before_it_is_nobodys(
    type3_visit: Callable[..., Visit], clock: Clock, store: Store,  # noqa: F811
    make_staff: Callable[..., Staff], login_client: Callable[[Staff], Client],
) -> None:
    visit = type3_visit()
    record_purchase(store=store, actor=Actor(source="api"), customer=visit.customer,
                    amount="99.00", currency="PLN")
    boss = login_client(make_staff(role=Role.MANAGER, stores=[store]))
    assert _csv(boss, "revenue")[1:] == [["No chain's message before the sale", "1", "99.0"]]


def test_effort_on_buyers_against_the_target(
    type3_visit: Callable[..., Visit], clock: Clock, store: Store,  # noqa: F811
    make_staff: Callable[..., Staff], login_client: Callable[[Staff], Client],
) -> None:
    store.effort_target = 25
    store.save(update_fields=["effort_target"])
    ola = make_staff(stores=[store], first_name="Ola", last_name="Kowal")
    customer = type3_visit().customer_id
    for bought in (True, False, False, False):
        events.reply_sent(customer, clock.now(), store_id=store.pk, staff_id=ola.pk,
                          channel="sms", text="Hello", to="+48501234567", provider_id="x",
                          bought=bought)
    boss = login_client(make_staff(role=Role.MANAGER, stores=[store]))
    rows = _csv(boss, "effort")
    assert rows[0][1:5] == ["Calls to buyers", "Calls to prospects", "Replies to buyers",
                            "Replies to prospects"]
    assert rows[1][0] == "Ola Kowal"
    assert rows[1][1:5] == ["0", "0", "1", "3"]
    assert rows[1][-3:] == ["25.0", "", "25"]  # share of replies, no minutes, the target
    weeks = _csv(boss, "effort_weeks")
    assert weeks[1:] == [["2026-06-01", "25.0"]]  # the Monday of the week
    assert "Target: 25 per cent" in _table(boss.get(f"/dashboard/?{JUNE}").content.decode(),
                                           "effort")


def test_check_in_answers_per_store_and_category(
    store: Store, make_store: Callable[..., Store], make_staff: Callable[..., Staff],
    login_client: Callable[[Staff], Client], clock: Clock,  # noqa: F811
    type3_visit: Callable[..., Visit],  # noqa: F811
) -> None:
    customer = type3_visit().customer_id
    other = make_store(name="Elsewhere")
    at = clock.now() - timedelta(hours=1)

    def answer(where: Store, mood: str, categories: list[str]) -> None:
        events.check_in_answered(
            customer, at, store_id=where.pk, staff_id=None, purchase_id=None, visit_id=None,
            data={"chain": "Care", "step": "ok", "touch": 1, "kind": "scale", "answer": 5,
                  "mood": mood, "via": "page", "text": "", "changed": False,
                  "categories": categories})

    answer(store, "happy", ["phones", "cases"])
    answer(store, "unhappy", ["phones"])
    answer(other, "happy", ["tv"])
    boss = login_client(make_staff(role=Role.MANAGER, stores=[store]))
    by_store = _csv(boss, "satisfaction_stores")
    assert by_store[1:] == [[store.name, "1", "0", "1"]]  # Elsewhere is not the boss's
    by_category = dict((row[0], row[1:]) for row in _csv(boss, "satisfaction_categories")[1:])
    assert by_category == {"phones": ["1", "0", "1"], "cases": ["1", "0", "0"]}


def test_a_customers_second_visit_is_a_return_visit_and_opens_as_one(
    type3_visit: Callable[..., Visit], clock: Clock, store: Store,  # noqa: F811
    salesperson: Staff,
    make_staff: Callable[..., Staff], login_client: Callable[[Staff], Client],
) -> None:
    first = type3_visit()
    clock.advance(days=1)
    second = type3_visit()  # the same phone: the same customer
    type3_visit(phone="601 999 888", name="Someone Else")
    sale, _ = log_visit(store=store, actor=Actor(source="counter", staff=salesperson),
                        bought=True, contact_capture="refused")
    assert second.customer_id == first.customer_id
    boss = login_client(make_staff(role=Role.MANAGER, stores=[store]))
    funnel = {row[0]: row[1:] for row in _csv(boss, "funnel")[1:]}
    assert funnel["Visits"] == ["4", "100.0"]
    assert funnel["Return visits"] == ["1", "25.0"]
    assert funnel["Visits that ended in a purchase"] == ["1", "25.0"]
    bought = boss.get("/visits/?since=2026-06-01&until=2026-06-30&bought=1")
    assert [v.pk for v in bought.context["rows"]] == [sale.pk]
    html = boss.get(f"/dashboard/?{JUNE}").content.decode()
    link = "/visits/?since=2026-06-01&amp;until=2026-06-30&amp;again=return"
    assert link in _table(html, "funnel")
    listed = boss.get(link.replace("&amp;", "&"))
    assert listed.context["page"].paginator.count == 1
    assert [v.pk for v in listed.context["rows"]] == [second.pk]
