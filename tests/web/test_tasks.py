"""The call tasks inbox: who sees which tasks, paging and filters, logging a call's result
and the minutes it took, and "call back later"."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from tests.web.conftest import Clock
from touchflow.core.errors import InvalidInput
from touchflow.customers.models import ConsentEvent, ContactPoint, Customer
from touchflow.delivery.models import CallTask
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.web.views import tasks as tasks_view


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
    assert '<span class="count" aria-label="1 open task">1</span>' in html  # in the navigation

    colleague = make_staff(Role.SALESPERSON, [store])
    html = login_client(colleague).get("/tasks/").content.decode()
    assert "No calls to make right now." in html
    assert '<span class="count" aria-label=' not in html
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
                           {"result": "reached", "note": "  After 18:00, please. "})
    assert response.status_code == 302
    assert response["Location"] == "/tasks/"
    task.refresh_from_db()
    assert (task.state, task.result, task.note, task.done_by, task.done_at) == (
        "done", "reached", "After 18:00, please.", salesperson, web_clock.now())
    row = TimelineEvent.objects.filter(customer=anna, data__outcome="call_logged").get()
    assert (row.kind, row.staff, row.at) == ("touch", salesperson, web_clock.now())
    assert row.data["result"] == "reached"
    assert ConsentEvent.objects.count() == consents_before  # no consent change

    html = client.get("/tasks/").content.decode()
    assert "Call with Anna Nowak logged." in html
    assert "No calls to make right now." in html
    # A second submit of the same form finds no open task.
    assert client.post(f"/tasks/{task.pk}/done/", {"result": "reached"}).status_code == 404
    task.refresh_from_db()
    assert task.result == "reached"

    page = login_client(manager).get(f"/customers/{anna.pk}/").content.decode()
    assert "<strong>Call task created</strong>" in page
    assert "<strong>Call logged</strong>" in page
    assert "Talked to the customer · Follow-up &lt;b&gt;after&lt;/b&gt; a visit › ring · " \
        "After 18:00, please." in page


def test_a_call_whose_customer_asked_to_be_called_back_stays_open_a_day_later(
    login_client: Callable[[Staff], Client], salesperson: Staff, manager: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    """"Asked to call back later" is logged as a call (its minutes count as effort), and
    the task is not closed: it falls due again a day later, as "call back later" would
    move it — nobody loses the call the customer asked for."""
    anna = looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    client = login_client(salesperson)
    response = client.post(f"/tasks/{task.pk}/done/",
                           {"result": "call_back", "minutes": "3", "note": " After 18:00. "})
    assert response.status_code == 302
    task.refresh_from_db()
    tomorrow = web_clock.now() + timedelta(days=1)
    assert (task.state, task.result, task.due_at, task.note, task.done_at) == (
        "open", "", tomorrow, "After 18:00.", None)
    logged = TimelineEvent.objects.get(customer=anna, data__outcome="call_logged")
    assert (logged.data["result"], logged.data["minutes"], logged.staff) == (
        "call_back", 3, salesperson)
    moved = TimelineEvent.objects.get(customer=anna, data__outcome="call_later")
    assert moved.data["due_at"] == tomorrow.isoformat()
    assert _shown(client.get("/tasks/").content.decode()) == []
    assert _shown(client.get("/tasks/", {"when": "later"}).content.decode()) == [task.pk]
    web_clock.advance(days=1)
    assert _shown(client.get("/tasks/").content.decode()) == [task.pk]
    page = login_client(manager).get(f"/customers/{anna.pk}/").content.decode()
    assert "Asked to call back later · 3 minutes · Follow-up &lt;b&gt;after&lt;/b&gt; a visit" \
        " › ring · After 18:00." in page
    assert "<strong>Call moved to later</strong>" in page


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


# -- paging and filters (issue 11) ---------------------------------------------------------

def _three_tasks(looker: Callable[..., Customer], web_clock: Clock,
                 dispatch: Callable[[], None]) -> list[CallTask]:
    for n, name in enumerate(("Anna Nowak", "Bogdan Lis", "Celina Wrona")):
        looker(name=name, phone=f"+4850123456{n}", email=f"c{n}@example.pl")
    _calls_due(web_clock, dispatch)
    return list(CallTask.objects.order_by("due_at", "id"))


def _field_error_after(html: str, element_id: str) -> str:
    """The text of the first field error that follows the element with ``element_id``."""
    tail = html[html.index(f'id="{element_id}"'):]
    start = tail.index('class="field-error"')
    return tail[tail.index(">", start) + 1:tail.index("</p>", start)]


def _shown(html: str) -> list[int]:
    """The task ids on the page, in order."""
    return [int(pk) for pk in re.findall(r'id="task-(\d+)"', html)]


def test_the_inbox_is_paged_in_due_order_and_its_pages_keep_the_filters(
    login_client: Callable[[Staff], Client], salesperson: Staff, manager: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks_view, "PAGE_SIZE", 2)
    first, second, third = _three_tasks(looker, web_clock, dispatch)
    # The first task falls due last: the inbox sorts by due time, not by id.
    CallTask.objects.filter(pk=first.pk).update(due_at=web_clock.now() - timedelta(minutes=1))
    CallTask.objects.filter(pk=second.pk).update(due_at=web_clock.now() - timedelta(minutes=3))
    CallTask.objects.filter(pk=third.pk).update(due_at=web_clock.now() - timedelta(minutes=2))
    client = login_client(manager)

    html = client.get("/tasks/", {"seller": salesperson.pk}).content.decode()
    assert _shown(html) == [second.pk, third.pk]
    assert "3 calls" in html and "Page 1 of 2" in html
    assert f'href="?seller={salesperson.pk}&amp;page=2"' in html
    html = client.get("/tasks/", {"seller": salesperson.pk, "page": "2"}).content.decode()
    assert _shown(html) == [first.pk]
    # The forms on page 2 come back to page 2 with the same filter.
    assert f'action="/tasks/{first.pk}/done/?seller={salesperson.pk}&amp;page=2"' in html
    response = client.post(f"/tasks/{first.pk}/done/?seller={salesperson.pk}&page=2",
                           {"result": "reached"})
    assert response["Location"] == f"/tasks/?seller={salesperson.pk}&page=2"
    # A page past the end shows the last one.
    html = client.get(response["Location"]).content.decode()
    assert _shown(html) == [second.pk, third.pk]
    assert "2 calls" in html and "Page 1 of 2" not in html


def test_a_manager_filters_by_seller_or_the_tasks_nobody_holds(
    login_client: Callable[[Staff], Client], salesperson: Staff, manager: Staff, store: Store,
    make_staff: Callable[..., Staff], make_store: Callable[..., Store],
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    sams, colleagues, nobodys = _three_tasks(looker, web_clock, dispatch)
    colleague = make_staff(Role.SALESPERSON, [store], first_name="Celina")
    CallTask.objects.filter(pk=colleagues.pk).update(assignee=colleague)
    CallTask.objects.filter(pk=nobodys.pk).update(assignee=None)
    client = login_client(manager)

    html = client.get("/tasks/").content.decode()
    assert _shown(html) == [sams.pk, colleagues.pk, nobodys.pk]
    assert f'<option value="{colleague.pk}">Celina</option>' in html
    assert _shown(client.get("/tasks/", {"seller": colleague.pk}).content.decode()) == [
        colleagues.pk]
    html = client.get("/tasks/", {"seller": "none"}).content.decode()
    assert _shown(html) == [nobodys.pk]
    assert '<option value="none" selected>' in html
    assert "1 call<" in html

    # The colleague sees their own task only, whatever the URL asks for.
    html = login_client(colleague).get("/tasks/", {"seller": salesperson.pk}).content.decode()
    assert _shown(html) == [colleagues.pk]
    assert 'name="seller"' not in html
    html = login_client(salesperson).get("/tasks/", {"seller": "none"}).content.decode()
    assert _shown(html) == [sams.pk]


@pytest.mark.parametrize(("query", "field"), [
    ({"seller": "abc"}, "seller"),
    ({"seller": "9" * 40}, "seller"),
    ({"seller": "-1"}, "seller"),
    ({"store": "x\x00"}, "store"),
    ({"when": "soon"}, "when"),
    ({"page": "many"}, None),
])
def test_a_filter_that_is_not_one_to_choose_is_named_and_everything_shown(
    login_client: Callable[[Staff], Client], manager: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
    query: dict[str, str], field: str | None,
) -> None:
    looker()
    _calls_due(web_clock, dispatch)
    response = login_client(manager).get("/tasks/", query)
    assert response.status_code == 200
    html = response.content.decode()
    assert _shown(html) == [CallTask.objects.get().pk]
    if field is None:
        assert 'class="message message-error"' not in html
    else:
        assert f"{field}: not one you can choose; showing all." in html


def test_another_stores_seller_or_store_is_refused_and_shows_nothing_of_it(
    login_client: Callable[[Staff], Client], manager: Staff,
    make_staff: Callable[..., Staff], make_store: Callable[..., Store],
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    looker()
    _calls_due(web_clock, dispatch)
    london = make_store(name="Londinium")
    stranger = make_staff(Role.SALESPERSON, [london], first_name="Lorna")
    client = login_client(manager)
    html = client.get("/tasks/", {"seller": stranger.pk}).content.decode()
    assert "seller: not one you can choose; showing all." in html
    html += client.get("/tasks/", {"store": london.pk}).content.decode()
    assert "store: not one you can choose; showing all." in html
    assert "Lorna" not in html and "Londinium" not in html


def test_a_manager_of_two_stores_filters_by_store(
    login_client: Callable[[Staff], Client], manager: Staff, store: Store,
    make_store: Callable[..., Store], looker: Callable[..., Customer], web_clock: Clock,
    dispatch: Callable[[], None],
) -> None:
    warsaw, moved = _three_tasks(looker, web_clock, dispatch)[:2]
    krakow = make_store(name="Krakow")
    manager.stores.add(krakow)
    CallTask.objects.filter(pk=moved.pk).update(store=krakow)
    client = login_client(manager)
    html = client.get("/tasks/", {"store": krakow.pk}).content.decode()
    assert _shown(html) == [moved.pk]
    assert f'<option value="{krakow.pk}" selected>Krakow</option>' in html
    assert warsaw.pk not in _shown(client.get("/tasks/", {"store": krakow.pk}).content.decode())


# -- call back later -----------------------------------------------------------------------

def test_call_back_later_moves_the_task_out_of_due_now_until_its_time(
    login_client: Callable[[Staff], Client], salesperson: Staff, manager: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    anna = looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    client = login_client(salesperson)

    response = client.post(f"/tasks/{task.pk}/later/?when=now",
                           {"later": "2h", "note": "  In a meeting. "})
    assert response.status_code == 302
    assert response["Location"] == "/tasks/?when=now"
    task.refresh_from_db()
    later = web_clock.now() + timedelta(hours=2)
    assert (task.state, task.due_at, task.note, task.done_at) == (
        "open", later, "In a meeting.", None)
    row = TimelineEvent.objects.get(customer=anna, data__outcome="call_later")
    assert (row.kind, row.staff, row.at, row.store_id) == (
        "touch", salesperson, web_clock.now(), task.store_id)
    assert (row.data["channel"], row.data["due_at"], row.data["note"], row.data["flow"],
            row.data["step"]) == ("call", later.isoformat(), "In a meeting.", "follow-up",
                                  "ring")

    # 14:00 UTC + 2 h = 18:00 in Warsaw, said on the store's clock.
    html = client.get(response["Location"]).content.decode()
    assert "Call with Anna Nowak moved to 2 Jun, 18:00." in html
    assert "No calls to make right now." in html and _shown(html) == []
    assert 'id="tab-later">Later <span class="count">1</span>' in html
    html = client.get("/tasks/", {"when": "later"}).content.decode()
    assert _shown(html) == [task.pk]
    assert "Note: In a meeting." in html
    assert _shown(client.get("/tasks/", {"when": "all"}).content.decode()) == [task.pk]

    web_clock.advance(hours=1, minutes=59)
    assert _shown(client.get("/tasks/").content.decode()) == []
    web_clock.advance(minutes=1)
    assert _shown(client.get("/tasks/").content.decode()) == [task.pk]
    page = login_client(manager).get(f"/customers/{anna.pk}/").content.decode()
    assert "In a meeting." in page


def test_call_back_tomorrow_or_at_a_time_on_the_stores_clock(
    login_client: Callable[[Staff], Client], salesperson: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    looker()
    _calls_due(web_clock, dispatch)  # now: 2 June, 14:00 UTC = 16:00 in Warsaw
    task = CallTask.objects.get()
    client = login_client(salesperson)
    client.post(f"/tasks/{task.pk}/later/", {"later": "tomorrow"})
    task.refresh_from_db()
    assert task.due_at == datetime(2026, 6, 3, 14, 0, tzinfo=UTC)
    assert task.note == ""
    # A time typed into the date-time field is the Warsaw wall clock (CEST, UTC+2).
    client.post(f"/tasks/{task.pk}/later/", {"later": "at", "when": "2026-06-05T18:30"})
    task.refresh_from_db()
    assert task.due_at == datetime(2026, 6, 5, 16, 30, tzinfo=UTC)
    assert TimelineEvent.objects.filter(data__outcome="call_later").count() == 2


def test_the_later_form_offers_times_on_the_stores_clock(
    login_client: Callable[[Staff], Client], salesperson: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    html = login_client(salesperson).get("/tasks/").content.decode()
    assert (f'<input type="datetime-local" id="when-{task.pk}" name="when" '
            'min="2026-06-02T16:00" max="2026-08-01T16:00">') in html
    assert f'action="/tasks/{task.pk}/later/"' in html
    assert 'name="later" value="2h"' in html and 'name="later" value="tomorrow"' in html


@pytest.mark.parametrize(("data", "field", "said"), [
    ({"later": "at", "when": "2026-06-02T15:59"}, "when", "Choose a time later than now."),
    ({"later": "at", "when": "2026-06-02T16:00"}, "when", "Choose a time later than now."),
    ({"later": "at", "when": "2026-08-01T16:01"}, "when", "At most 60 days ahead, please."),
    ({"later": "at", "when": ""}, "when", "Choose a date and time to call back."),
    ({"later": "at", "when": "tomorrow"}, "when", "This is not a date and time."),
    ({"later": "at", "when": "0001-01-01T00:30"}, "when", "This is not a date and time."),
    ({"later": "at", "when": "2026-06-0\x005T18:30"}, "when", "This is not a date and time."),
    ({"later": "soon"}, "when", "Choose when to call back."),
    ({}, "when", "Choose when to call back."),
    ({"later": "2h", "note": "a\x00b"}, "later-note",
     "This text contains control characters that cannot be saved"),
    ({"later": "2h", "note": "x" * 2001}, "later-note", "At most 2000 characters, please."),
])
def test_a_later_time_that_is_not_allowed_is_refused_beside_its_field(
    login_client: Callable[[Staff], Client], salesperson: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
    data: dict[str, str], field: str, said: str,
) -> None:
    looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    due = task.due_at
    response = login_client(salesperson).post(f"/tasks/{task.pk}/later/", data)
    assert response.status_code == 422
    html = response.content.decode()
    assert _field_error_after(html, f"{field}-{task.pk}").startswith(said)
    assert '<details class="extras later" open>' in html
    task.refresh_from_db()
    assert (task.state, task.due_at, task.note) == ("open", due, "")
    assert not TimelineEvent.objects.filter(data__outcome="call_later").exists()


def test_call_back_later_is_404_for_a_task_outside_the_inbox(
    login_client: Callable[[Staff], Client], salesperson: Staff, store: Store,
    make_staff: Callable[..., Staff], make_store: Callable[..., Store],
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    due = task.due_at
    for outsider in (make_staff(Role.MANAGER, [make_store()]),
                     make_staff(Role.SALESPERSON, [store])):
        response = login_client(outsider).post(f"/tasks/{task.pk}/later/", {"later": "2h"})
        assert response.status_code == 404
    # Done: no longer in anyone's inbox.
    login_client(salesperson).post(f"/tasks/{task.pk}/done/", {"result": "reached"})
    response = login_client(salesperson).post(f"/tasks/{task.pk}/later/", {"later": "2h"})
    assert response.status_code == 404
    assert login_client(salesperson).get(f"/tasks/{task.pk}/later/").status_code == 405
    task.refresh_from_db()
    assert (task.state, task.due_at) == ("done", due)
    assert not TimelineEvent.objects.filter(data__outcome="call_later").exists()


# -- minutes spent -------------------------------------------------------------------------

def test_the_minutes_a_call_took_are_kept_on_the_task_and_the_timeline(
    login_client: Callable[[Staff], Client], salesperson: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    anna = looker(name="Anna Nowak", phone="+48501234567", email="anna@example.pl")
    bogdan = looker(name="Bogdan Lis", phone="+48501234568", email="bogdan@example.pl")
    _calls_due(web_clock, dispatch)
    annas, bogdans = CallTask.objects.get(customer=anna), CallTask.objects.get(customer=bogdan)
    client = login_client(salesperson)
    assert client.post(f"/tasks/{annas.pk}/done/",
                       {"result": "reached", "minutes": " 12 "}).status_code == 302
    assert client.post(f"/tasks/{bogdans.pk}/done/",
                       {"result": "no_answer", "minutes": ""}).status_code == 302
    annas.refresh_from_db()
    bogdans.refresh_from_db()
    assert (annas.state, annas.minutes, bogdans.state, bogdans.minutes) == (
        "done", 12, "done", None)
    rows = {r.customer_id: r.data for r in TimelineEvent.objects.filter(
        data__outcome="call_logged")}
    assert rows[anna.pk]["minutes"] == 12
    assert "minutes" not in rows[bogdan.pk]


@pytest.mark.parametrize(("minutes", "said"), [
    ("0", "Minutes: a whole number from 1 to 600."),
    ("601", "Minutes: a whole number from 1 to 600."),
    ("9" * 40, "Type the minutes as a whole number."),
    ("-3", "Type the minutes as a whole number."),
    ("1.5", "Type the minutes as a whole number."),
    ("ten", "Type the minutes as a whole number."),
    ("١٢", "Type the minutes as a whole number."),  # Arabic-Indic digits
    ("1\x00", "Type the minutes as a whole number."),
])
def test_minutes_that_are_not_a_whole_number_up_to_600_are_refused_beside_the_field(
    login_client: Callable[[Staff], Client], salesperson: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
    minutes: str, said: str,
) -> None:
    looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    response = login_client(salesperson).post(f"/tasks/{task.pk}/done/",
                                              {"result": "reached", "minutes": minutes})
    assert response.status_code == 422
    html = response.content.decode()
    assert _field_error_after(html, f"minutes-{task.pk}") == said
    assert f'id="minutes-{task.pk}" name="minutes"' in html
    task.refresh_from_db()
    assert (task.state, task.minutes, task.result) == ("open", None, "")
    assert not TimelineEvent.objects.filter(data__outcome="call_logged").exists()


# -- the pure rule behind "tomorrow" ---------------------------------------------------------

def test_tomorrow_at_the_same_time_keeps_the_wall_clock_across_a_clock_change() -> None:
    warsaw = zoneinfo.ZoneInfo("Europe/Warsaw")
    # Saturday 28 March 2026, 11:00 CET; the clocks go forward that night.
    now = datetime(2026, 3, 28, 10, 0, 30, tzinfo=UTC)
    assert tasks_view.later_time("tomorrow", "", now, warsaw) == datetime(
        2026, 3, 29, 9, 0, tzinfo=UTC)
    assert tasks_view.later_time("2h", "", now, warsaw) == now + timedelta(hours=2)
    assert tasks_view.later_time("at", "2026-03-29T02:30", now, warsaw) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC)  # in the gap: moved on by it, to 03:30 CEST
    with pytest.raises(InvalidInput) as refused:
        tasks_view.later_time("at", "29.03.2026 10:00", now, warsaw)
    assert refused.value.field == "when"


def test_a_refused_time_for_a_task_not_on_the_page_is_said_at_the_top(
    login_client: Callable[[Staff], Client], salesperson: Staff,
    looker: Callable[..., Customer], web_clock: Clock, dispatch: Callable[[], None],
) -> None:
    looker()
    _calls_due(web_clock, dispatch)
    task = CallTask.objects.get()
    response = login_client(salesperson).post(f"/tasks/{task.pk}/later/?when=later",
                                              {"later": "at", "when": "2020-01-01T10:00"})
    assert response.status_code == 422
    html = response.content.decode()
    assert _shown(html) == []
    assert '<p class="message message-error" role="alert">Choose a time later than now.</p>' \
        in html
