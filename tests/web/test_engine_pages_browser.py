"""The chain, task, dead-letter and unsubscribe pages in a real Chromium at phone size:
nothing wider than the screen, and the call can be logged with taps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db.models import Min
from playwright.sync_api import Page

from tests.conftest import FIXED_NOW
from tests.servers import Sink
from tests.web.browser import PHONE
from tests.web.conftest import FOLLOW_UP
from tests.web.test_counter_browser import _sign_in
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import Customer
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import CallTask, Touch
from touchflow.delivery.render import unsubscribe_token
from touchflow.flows.actions import load_flow_text
from touchflow.funnel.chains import set_status
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging.outbound import from_settings
from touchflow.stores.models import Role, Staff, Store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _visit(store: Store, staff: Staff, name: str, phone: str) -> Customer:
    visit, _ = log_visit(store=store, actor=Actor(source="counter", staff=staff), bought=False,
                         reason="just_looking", contact_capture="taken", name=name,
                         contacts=[ContactInput("phone", phone)], language="en",
                         consent=ConsentGrant(contact=True, marketing=True))
    assert visit.customer is not None
    return visit.customer


def _work_through(sink: Sink, url: str, hours: float) -> None:
    """Run the worker at each next due time within ``hours`` (the test's clock stays
    where it is). Each visit has its own due time, so rounds are counted by time."""
    at: dict[str, datetime] = {"now": FIXED_NOW}  # the visits were logged on this clock
    until = at["now"] + timedelta(hours=hours)
    dispatcher = Dispatcher(from_settings(f"sms={url};email=null:"), now=lambda: at["now"])
    try:
        while True:
            due = Touch.objects.filter(state="queued").aggregate(due=Min("due_at"))["due"]
            if due is None or due > until:
                break
            at["now"] = max(at["now"], due)
            dispatcher.drain()
    finally:
        dispatcher.close()


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]


def test_engine_pages_fit_a_phone_and_a_call_is_logged_in_taps(
    page: Page, live_server: Any, salesperson: Staff, store: Store, make_staff: Any,
    sink: tuple[Sink, str],
) -> None:
    set_status(load_flow_text(FOLLOW_UP, "flows/follow-up.yaml").flow, "active")
    anna = _visit(store, salesperson, "Anna Nowak", "+48501234567")
    _visit(store, salesperson, "Aleksandra Konstantynopolitańczykowska-Wielkopolska",
           "+48601234567")
    sink[0].script = [(200, {}), (400, {})]  # Anna's SMS goes, the second is refused
    _work_through(sink[0], sink[1], hours=3)  # the first message, then the call
    assert CallTask.objects.filter(customer=anna).exists()
    make_staff(Role.MANAGER, [store], username="maria")
    base = live_server.url

    _sign_in(page, base, "sam")
    # The worker ran on a clock ahead of this one: the calls are due "later" from here.
    page.goto(f"{base}/tasks/?when=all")
    _fits(page)
    page.screenshot(path="/tmp/tasks.png", full_page=True)
    done = page.locator(".task").first.locator("form[action*='/done/']")
    done.locator("label:has(input[value=reached])").click()
    done.locator("textarea").fill("Happy with the guide.")
    done.locator("input[name=minutes]").fill("4")
    done.locator("button[type=submit]").click()
    page.wait_for_selector(".message-success")
    assert (CallTask.objects.get(customer=anna).result, CallTask.objects.get(customer=anna)
            .minutes) == ("reached", 4)
    # "Call back later" in two taps: open it, pick tomorrow; the filter stays.
    other = page.locator(".task").first
    other.locator("summary").click()
    _fits(page)
    page.screenshot(path="/tmp/tasks-later.png", full_page=True)
    other.locator("button[value=tomorrow]").click()
    page.wait_for_selector(".message-success")
    assert page.url.endswith("/tasks/?when=all")
    moved = CallTask.objects.exclude(customer=anna).get()
    assert (moved.state, moved.due_at > FIXED_NOW + timedelta(hours=20)) == ("open", True)

    page.context.clear_cookies()
    _sign_in(page, base, "maria")
    for path, name in (("/chains/", "chains"), ("/chains/follow-up/", "chain"),
                       ("/dead-letters/", "dead-letters"), (f"/customers/{anna.pk}/", "timeline")):
        page.goto(f"{base}{path}")
        _fits(page)
        page.screenshot(path=f"/tmp/{name}.png", full_page=True)
    page.goto(f"{base}/dead-letters/")
    assert page.locator(".dead-letter-group").count() == 1
    page.locator(".dead-letter-group a").click()
    page.wait_for_selector(".dead-letter")
    _fits(page)
    page.screenshot(path="/tmp/dead-letter-group.png", full_page=True)
    assert page.locator(".dead-letter").count() == 1

    page.context.clear_cookies()
    page.goto(f"{base}/u/{unsubscribe_token(anna.pk, 'sms')}")
    _fits(page)
    page.screenshot(path="/tmp/unsubscribe.png", full_page=True)
    page.click("#unsubscribe-confirm")
    page.wait_for_selector("#unsubscribe-done")
    page.screenshot(path="/tmp/unsubscribe-done.png", full_page=True)
    assert anna.contacts.get().contact_consent is False
