"""The call tasks inbox looks up its tasks' customers once a page, not once a task
(bench/RESULTS.md: 134 queries a page), and still shows each task's customer only as
the task's store knows them (decision 0008)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.web.conftest import Clock
from touchflow.core import clock
from touchflow.customers import visibility
from touchflow.customers.actions import ContactInput
from touchflow.customers.models import Customer
from touchflow.delivery.models import CallTask
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Staff, Store
from touchflow.web.views import tasks as tasks_view


def _tasks_due(looker: Callable[..., Customer], web_clock: Clock,
               dispatch: Callable[[], None], names: range) -> None:
    for n in names:
        looker(name=f"Person {n:02d}", phone=f"+485012345{n:02d}", email=f"p{n}@example.pl")
    web_clock.advance(hours=1)
    dispatch()
    web_clock.advance(hours=1)
    dispatch()


def test_a_pages_queries_do_not_grow_with_its_tasks(
    login_client: Callable[[Staff], Client], manager: Staff, looker: Callable[..., Customer],
    web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    client = login_client(manager)
    _tasks_due(looker, web_clock, dispatch, range(3))
    assert CallTask.objects.count() == 3
    with CaptureQueriesContext(connection) as three:
        html = client.get("/tasks/", {"when": "all"}).content.decode()
    assert html.count('class="card task"') == 3

    _tasks_due(looker, web_clock, dispatch, range(3, 20))
    assert CallTask.objects.count() == 20
    with CaptureQueriesContext(connection) as twenty:
        html = client.get("/tasks/", {"when": "all"}).content.decode()
    assert html.count('class="card task"') == 20
    assert 'href="tel:+48501234519"' in html and "Person 19" in html
    assert len(twenty) == len(three)


def test_each_task_shows_the_name_and_phone_its_own_store_recorded(
    store: Store, make_store: Callable[..., Store], make_staff: Callable[..., Staff],
) -> None:
    """One customer met by two stores, each giving its own name and phone; a task of
    each store shows that store's, as names_of and visible_points say for that store."""
    krakow = make_store(name="Kraków", slug="krakow")
    seller = make_staff(Role.SALESPERSON, [store])
    ola = make_staff(Role.SALESPERSON, [krakow])
    visit, _ = log_visit(store=store, actor=Actor(source="counter", staff=seller),
                         bought=False, reason="just_looking", contact_capture="taken",
                         name="Anna Warszawska", contacts=[
                             ContactInput("phone", "+48501000001"),
                             ContactInput("email", "anna@example.pl")])
    anna = visit.customer
    assert anna is not None
    log_visit(store=krakow, actor=Actor(source="counter", staff=ola), bought=False,
              reason="just_looking", contact_capture="taken", name="Anna Krakowska",
              contacts=[ContactInput("email", "anna@example.pl"),
                        ContactInput("phone", "+48501000002")])
    anna = Customer.objects.get(pk=anna.pk)
    due = clock.now()
    tasks = [CallTask(customer=anna, store=s, phone=phone, due_at=due)
             for s in (store, krakow) for phone in ("+48501000001", "+48501000002")]

    tasks_view._as_seen(tasks)

    shown = [(t.store.slug, t.phone, t.shown_name, t.shown_phone)  # type: ignore[attr-defined]
             for t in tasks]
    assert shown == [
        (store.slug, "+48501000001", "Anna Warszawska", "+48501000001"),
        # A new point is its customer's home store's too (``link_contacts``), so
        # Warsaw sees Kraków's phone; Kraków never took Warsaw's.
        (store.slug, "+48501000002", "Anna Warszawska", "+48501000002"),
        ("krakow", "+48501000001", "Anna Krakowska", ""),
        ("krakow", "+48501000002", "Anna Krakowska", "+48501000002"),
    ]
    # The same as the one-task-at-a-time lookups said.
    for task in tasks:
        one = frozenset({task.store_id})
        phones = {p.value for p in visibility.visible_points(anna, one)}
        assert task.shown_name == visibility.names_of([anna], one)[anna.pk]  # type: ignore[attr-defined]
        assert task.shown_phone == (task.phone if task.phone in phones else "")  # type: ignore[attr-defined]


def test_a_customer_a_store_never_named_shows_no_name(
    store: Store, make_store: Callable[..., Store], make_staff: Callable[..., Staff],
) -> None:
    """A store whose link carries no name (and is not the home store) shows none; a
    store with no link to the customer at all shows neither name nor phone."""
    krakow = make_store(name="Kraków", slug="krakow")
    london = make_store(name="London", slug="london", country="GB",
                        time_zone="Europe/London")
    seller = make_staff(Role.SALESPERSON, [store])
    ola = make_staff(Role.SALESPERSON, [krakow])
    visit, _ = log_visit(store=store, actor=Actor(source="counter", staff=seller),
                         bought=False, reason="just_looking", contact_capture="taken",
                         name="Anna", contacts=[ContactInput("phone", "+48501000001")])
    anna = visit.customer
    assert anna is not None
    log_visit(store=krakow, actor=Actor(source="counter", staff=ola), bought=False,
              reason="just_looking", contact_capture="taken", customer=anna)
    tasks = [CallTask(customer=anna, store=s, phone="+48501000001", due_at=clock.now())
             for s in (krakow, london)]
    tasks_view._as_seen(tasks)
    assert [(t.shown_name, t.shown_phone) for t in tasks] == [  # type: ignore[attr-defined]
        (visibility.names_of([anna], frozenset({krakow.pk}))[anna.pk], ""), ("", "")]
    assert tasks[0].shown_name == ""  # type: ignore[attr-defined]
