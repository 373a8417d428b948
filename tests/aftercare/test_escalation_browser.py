"""A manager resolves an unhappy customer's escalation in a real Chromium at phone size:
the overdue count in the navigation, the page, the choice and the note."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.aftercare.conftest import send_check_in
from tests.delivery.conftest import Clock
from tests.web.browser import PHONE
from tests.web.test_counter_browser import _sign_in
from touchflow.aftercare import actions
from touchflow.aftercare.models import Escalation
from touchflow.stores.models import Staff
from touchflow.visits.models import Visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_resolves_an_overdue_escalation_on_a_phone(
    page: Page, live_server: Any, sale: Callable[..., Visit],
    make_dispatcher: Callable[..., Any], clock: Clock, manager: Staff,
) -> None:
    sale()
    touch = send_check_in(make_dispatcher, clock)
    actions.answer_reply(touch.customer_id, touch.store_id, "sms", "Nie działa!",
                         clock.advance(minutes=10))
    escalation = Escalation.objects.get()
    clock.move_to(escalation.due_at)
    clock.advance(hours=1)  # past its deadline
    _sign_in(page, live_server.url, manager.username)
    overdue = page.locator("nav.nav a[href='/escalations/'] .count")
    assert overdue.inner_text() == "1"
    overdue.click()
    card = page.locator(f"#escalation-{escalation.pk}")
    assert "overdue since" in card.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    card.locator("label:has(input[value='fixed'])").click()
    card.locator("textarea").fill("Technician replaced the motor.")
    card.locator(f"#resolve-{escalation.pk}").click()
    page.wait_for_selector(".messages .message")
    done = Escalation.objects.get()
    assert (done.resolution, done.note, done.resolved_by_id) == (
        "fixed", "Technician replaced the motor.", manager.pk)
    assert page.locator("nav.nav a[href='/escalations/'] .count").count() == 0
    page.click("#tab-resolved")
    resolved = page.locator(f"#escalation-{escalation.pk}").inner_text()
    assert "Technician replaced the motor." in resolved
