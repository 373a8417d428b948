"""The counter screen in a real Chromium: the common visits in three taps plus typing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from touchflow.customers.models import ContactPoint, Customer, OptInToken
from touchflow.stores.models import Staff
from touchflow.visits.models import Visit

pytestmark = [
    pytest.mark.browser,
    # The live server reads what the test writes, so the test commits (and the database
    # is emptied afterwards, as for every transactional test).
    pytest.mark.django_db(transaction=True),
]


class Taps:
    """Counts the taps a salesperson makes (typing is counted apart, as the brief says)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.count = 0

    def tap(self, selector: str) -> None:
        self.page.locator(selector).click()
        self.count += 1


def _saved(page: Page) -> None:
    """Waits for the page a save leads to, stylesheet and all: the success message is in
    the document before the stylesheet that hides the unanswered steps has been applied,
    and the steps are shown or hidden by CSS alone."""
    page.wait_for_selector(".message-success")
    page.wait_for_load_state("load")


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "counter-pass-1")
    page.click("button[type=submit]")
    # A salesperson lands at the counter, a manager on the dashboard.
    page.wait_for_url(re.compile(re.escape(base) + r"/(dashboard/)?$"))


def test_common_visits_take_three_taps(
    page: Page, live_server: Any, salesperson: Staff, fast_passwords: None,
    make_staff: Callable[..., Staff],
) -> None:
    base = live_server.url
    _sign_in(page, base, "sam")
    page.screenshot(path="/tmp/counter-start.png")

    # Bought → type the phone → Save.
    taps = Taps(page)
    taps.tap("label:has(#outcome-bought)")
    assert page.locator("#contact").is_visible()
    assert not page.locator(".step-reason").is_visible()
    page.fill("#contact", "501 234 567")
    page.wait_for_selector("#contact-ok")  # validated as typed, over htmx
    assert "+48501234567" in page.inner_text("#contact-check")
    token = page.input_value("input[name=optin_token]")
    taps.tap("button[value=taken]")
    _saved(page)
    assert taps.count <= 3
    assert "Type 1" in page.inner_text(".message-success")

    visit = Visit.objects.get()
    assert (visit.bought, visit.contact_capture, visit.visit_class) == (True, "taken", "type1")
    assert visit.staff == salesperson
    assert ContactPoint.objects.get().value == "+48501234567"
    assert visit.customer == Customer.objects.get()
    assert OptInToken.objects.get(token=token).visit == visit
    # A fresh, empty form with a new QR token.
    assert page.input_value("#contact") == ""
    assert page.input_value("input[name=optin_token]") != token
    assert not page.locator("#contact").is_visible()

    # Didn't buy → Just looking → Refused.
    taps = Taps(page)
    taps.tap("label:has(#outcome-not-bought)")
    assert not page.locator("#contact").is_visible()
    taps.tap("label:has(#reason-just_looking)")
    assert page.locator("#contact").is_visible()
    page.screenshot(path="/tmp/counter-reason-picked.png")
    taps.tap("button[value=refused]")
    _saved(page)
    assert taps.count == 3
    assert "Type 4" in page.inner_text(".message-success")

    second = Visit.objects.exclude(pk=visit.pk).get()
    assert (second.bought, second.contact_capture, second.visit_class) == (False, "refused",
                                                                           "type4")
    assert second.reason is not None and second.reason.code == "just_looking"
    assert second.customer is None
    assert Customer.objects.count() == 1


def test_bad_phone_is_flagged_while_typing_and_on_save(
    page: Page, live_server: Any, salesperson: Staff, fast_passwords: None,
) -> None:
    base = live_server.url
    _sign_in(page, base, "sam")
    page.click("label:has(#outcome-bought)")
    page.fill("#contact", "12")
    page.wait_for_selector("#contact-error")
    assert "not a valid phone number" in page.inner_text("#contact-error")
    page.screenshot(path="/tmp/counter-phone.png", full_page=True)
    page.click("button[value=taken]")
    page.wait_for_selector("#contact-error")
    assert page.input_value("#contact") == "12"
    assert Visit.objects.count() == 0

