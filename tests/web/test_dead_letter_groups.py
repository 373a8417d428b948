"""Issue 13: the dead-letter page groups by reason ("3 × template: unknown variable
store.phone"), lists the touches not known to have been sent as their own group, and
shows the rows behind a group page by page. A person may send an uncertain one again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client

from tests.servers import Sink
from tests.web.conftest import Clock
from touchflow.customers.models import Customer
from touchflow.delivery.dead_letters import UNCERTAIN, group_key
from touchflow.delivery.models import Touch, TouchState
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline.models import TimelineEvent

TEMPLATE = "template: unknown variable store.phone"


def _ended(customer: Customer, state: str, error: str, finished: object) -> Touch:
    """The customer's first touch, ended as the worker would have ended it."""
    touch = Touch.objects.get(customer=customer)
    Touch.objects.filter(pk=touch.pk).update(
        state=state, last_error=error, finished_at=finished, attempts=1, channel="sms",
        in_flight_at=finished if state == TouchState.UNCERTAIN else None,
    )
    touch.refresh_from_db()
    return touch


@pytest.fixture
def customers(looker: Callable[..., Customer]) -> Callable[[int], list[Customer]]:
    def make(n: int) -> list[Customer]:
        return [looker(name=f"Person {i}", phone=f"+4850123{i:04d}", email=None)
                for i in range(n)]

    return make


def test_groups_count_and_order_their_failures(
    login_client: Callable[[Staff], Client], manager: Staff, web_clock: Clock,
    customers: Callable[[int], list[Customer]],
) -> None:
    people = customers(6)
    now = web_clock.now()
    _ended(people[0], "dead", TEMPLATE, now - timedelta(hours=3))
    _ended(people[1], "dead", TEMPLATE, now - timedelta(hours=1))
    _ended(people[2], "dead", TEMPLATE, now - timedelta(hours=2))
    _ended(people[3], "dead", 'HTTP 400: {"id": "msg-41"}', now - timedelta(minutes=30))
    _ended(people[4], "uncertain", "", now - timedelta(hours=5))
    # Not a dead letter: never listed.
    _ended(people[5], "sent", "", now)

    html = login_client(manager).get("/dead-letters/").content.decode()
    heads = [part.split("</a>")[0] for part in html.split('<strong class="group-count">')[1:]]
    assert [h.split("</strong>")[0] for h in heads] == ["1 ×", "1 ×", "3 ×"]
    # The uncertain ones first (each waits for a decision), then the newest failure.
    assert "Not known whether it was sent" in heads[0]
    assert "HTTP 400: {&quot;id&quot;: &quot;msg-&lt;n&gt;&quot;}" in heads[1]
    assert TEMPLATE in heads[2]
    assert html.count("newest ") == 3


def test_the_rows_behind_a_group_come_page_by_page(
    login_client: Callable[[Staff], Client], manager: Staff, web_clock: Clock,
    customers: Callable[[int], list[Customer]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from touchflow.web.views import dead_letters as view

    monkeypatch.setattr(view, "PAGE_SIZE", 2)
    people = customers(4)
    now = web_clock.now()
    touches = [_ended(p, "dead", TEMPLATE, now - timedelta(minutes=i))
               for i, p in enumerate(people)]
    client = login_client(manager)
    url = f"/dead-letters/group/{group_key('dead', TEMPLATE)}/"
    first = client.get(url).content.decode()
    second = client.get(url + "?page=2").content.decode()
    assert "4 messages failed" in first
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    shown = [[t.pk for t in touches if f'id="touch-{t.pk}"' in page] for page in (first, second)]
    assert shown == [[touches[0].pk, touches[1].pk], [touches[2].pk, touches[3].pk]]
    assert client.get("/dead-letters/group/0000000000000000/").status_code == 404


def test_an_uncertain_send_may_be_sent_again_and_the_timeline_says_so(
    login_client: Callable[[Staff], Client], manager: Staff, web_clock: Clock,
    customers: Callable[[int], list[Customer]], sink: tuple[Sink, str],
    dispatch: Callable[[], None],
) -> None:
    (person,) = customers(1)
    touch = _ended(person, "uncertain", "", web_clock.now())
    client = login_client(manager)
    html = client.get(f"/dead-letters/group/{UNCERTAIN}/").content.decode()
    assert "1 message: not known whether it was sent" in html
    assert "Sent again, it may arrive twice." in html
    assert f'id="touch-{touch.pk}"' in html

    web_clock.advance(minutes=10)
    response = client.post(f"/dead-letters/{touch.pk}/retry/")
    # The group is empty now: back to the list.
    assert response["Location"] == "/dead-letters/"
    touch.refresh_from_db()
    assert (touch.state, touch.due_at, touch.in_flight_at, touch.finished_at) == (
        "queued", web_clock.now(), None, None)
    row = TimelineEvent.objects.get(customer=person, data__outcome="requeued")
    assert (row.staff, row.data["was"]) == (manager, "uncertain")
    page = client.get(f"/customers/{person.pk}/").content.decode()
    assert "Message queued again (the first one may have arrived)" in page

    dispatch()
    touch.refresh_from_db()
    assert touch.state == "sent"
    assert [m["to"] for m in sink[0].received] == ["+48501230000"]


def test_another_stores_manager_sees_no_uncertain_send(
    login_client: Callable[[Staff], Client], make_staff: Callable[..., Staff],
    make_store: Callable[[], Store], web_clock: Clock,
    customers: Callable[[int], list[Customer]],
) -> None:
    (person,) = customers(1)
    touch = _ended(person, "uncertain", "", web_clock.now())
    client = login_client(make_staff(Role.MANAGER, [make_store()]))
    assert "dead-letter-group" not in client.get("/dead-letters/").content.decode()
    assert client.get(f"/dead-letters/group/{UNCERTAIN}/").status_code == 404
    assert client.post(f"/dead-letters/{touch.pk}/retry/").status_code == 404
    touch.refresh_from_db()
    assert touch.state == "uncertain"
