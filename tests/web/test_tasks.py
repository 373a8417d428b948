"""The call tasks inbox: who sees which tasks, and logging a call's result."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from tests.web.conftest import Clock
from touchflow.customers.models import ConsentEvent, ContactPoint, Customer
from touchflow.delivery.models import CallTask
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline.models import TimelineEvent


def _calls_due(web_clock: Clock, dispatch: Callable[[], None]) -> None:
    """First message after 1 h, then the call step 1 h later becomes a task."""
    web_clock.advance(hours=1)
    dispatch()
    web_clock.advance(hours=1)
    dispatch()


def test_salesperson_sees_only_their_own_open_tasks(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store,
    make_staff: Callable[..., Staff], looker: Callable[..., Customer], web_clock: Clock,
    dispatch: Callable[[], None],
) -> None:
    anna = looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    assert (task.assignee, task.customer, task.phone) == (salesperson, anna, "+48501234567")

    html = login_client(salesperson).get("/tasks/").content.decode()
    assert f'id="task-{task.pk}"' in html
    assert f'href="/customers/{anna.pk}/"' in html
    assert 'href="tel:+48501234567"' in html
    assert "Call Anna Nowak and ask how it went." in html
    assert "Talked to the customer" in html and "Does not want calls" in html
    assert '<span class="count"' in html  # the navigation shows the open task

    colleague = make_staff(Role.SALESPERSON, [store])
    html = login_client(colleague).get("/tasks/").content.decode()
    assert "No calls to make right now." in html
    assert '<span class="count"' not in html
    response = login_client(colleague).post(f"/tasks/{task.pk}/done/", {"result": "reached"})
    assert response.status_code == 404
    task.refresh_from_db()
    assert task.state == "open"


def test_manager_sees_their_stores_tasks_including_unassigned(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store,
    make_staff: Callable[..., Staff], make_store: Callable[..., Store],
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    looker()
    _calls_due(web_clock, dispatch)
    assigned = CallTask.objects.get()
    # The salesperson has left; a task nobody holds still shows up for the manager.
    salesperson.delete()
    assigned.refresh_from_db()
    assert assigned.assignee is None

    manager = make_staff(Role.MANAGER, [store])
    html = login_client(manager).get("/tasks/").content.decode()
    assert f'id="task-{assigned.pk}"' in html
    assert "not assigned" in html

    other_manager = make_staff(Role.MANAGER, [make_store()])
    html = login_client(other_manager).get("/tasks/").content.decode()
    assert f'id="task-{assigned.pk}"' not in html


def test_logging_a_call_closes_the_task_and_writes_the_timeline(
    login_client: Callable[[Staff], Client], salesperson: Staff, manager: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    anna = looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    consents_before = ConsentEvent.objects.count()
    client = login_client(salesperson)

    response = client.post(f"/tasks/{task.pk}/done/",
                           {"result": "call_back", "note": "  After 18:00, please. "})
    assert response.status_code == 302
    assert response["Location"] == "/tasks/"
    task.refresh_from_db()
    assert (task.state, task.result, task.note, task.done_by, task.done_at) == (
        "done", "call_back", "After 18:00, please.", salesperson, web_clock.now())
    row = TimelineEvent.objects.filter(customer=anna, data__outcome="call_logged").get()
    assert (row.kind, row.staff, row.at) == ("touch", salesperson, web_clock.now())
    assert row.data["result"] == "call_back"
    assert ConsentEvent.objects.count() == consents_before  # no consent change

    html = client.get("/tasks/").content.decode()
    assert "Call with Anna Nowak logged." in html
    assert "No calls to make right now." in html
    # A second submit of the same form finds no open task.
    assert client.post(f"/tasks/{task.pk}/done/", {"result": "reached"}).status_code == 404
    task.refresh_from_db()
    assert task.result == "call_back"

    page = login_client(manager).get(f"/customers/{anna.pk}/").content.decode()
    assert "<strong>Call task created</strong>" in page
    assert "<strong>Call logged</strong>" in page
    assert "Asked to call back later · Follow-up &lt;b&gt;after&lt;/b&gt; a visit › ring · " \
        "After 18:00, please." in page


def test_a_result_must_be_chosen(
    login_client: Callable[[Staff], Client], salesperson: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    client = login_client(salesperson)
    response = client.post(f"/tasks/{task.pk}/done/", {"result": "maybe"}, follow=True)
    assert "Choose how the call went." in response.content.decode()
    task.refresh_from_db()
    assert (task.state, task.result, task.done_at) == ("open", "", None)


def test_does_not_want_calls_withdraws_consent_on_the_phone_only(
    login_client: Callable[[Staff], Client], salesperson: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    anna = looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    login_client(salesperson).post(f"/tasks/{task.pk}/done/", {"result": "declined"})

    phone = ContactPoint.objects.get(customer=anna, kind="phone")
    email = ContactPoint.objects.get(customer=anna, kind="email")
    assert (phone.contact_consent, phone.marketing_consent) == (False, True)
    assert (email.contact_consent, email.marketing_consent) == (True, True)
    event = ConsentEvent.objects.filter(contact_point=phone).latest("id")
    assert (event.purpose, event.granted, event.source, event.staff) == (
        "contact", False, "admin", salesperson)
