"""The one-tap rating page in a real Chromium at phone size, in each language: the
question fits the screen, the answers are big enough to tap, a second tap changes the
answer and no Content-Security-Policy rule is broken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.aftercare.conftest import send_check_in
from tests.delivery.conftest import Clock
from tests.web.browser import PHONE
from touchflow.aftercare.models import CheckInAnswer
from touchflow.delivery.render import rating_url
from touchflow.flows import answers
from touchflow.visits.models import Visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("language", "question", "no_label", "thanks"), [
    ("en", "Is everything all right with your purchase?", "No, there is a problem",
     "Thank you for your answer!"),
    ("ru", "Всё ли в порядке с покупкой?", "Нет, есть проблема", "Спасибо за ответ!"),
    ("pl", "Czy wszystko w porządku z zakupem?", "Nie, jest problem",
     "Dziękujemy za odpowiedź!"),
])
def test_the_rating_page_on_a_phone(
    page: Page, live_server: Any, sale: Callable[..., Visit],
    make_dispatcher: Callable[..., Any], clock: Clock, language: str, question: str,
    no_label: str, thanks: str,
) -> None:
    sale(language=language)
    touch = send_check_in(make_dispatcher, clock)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    token = rating_url(touch.pk).rsplit("/", 1)[1]
    page.goto(f"{live_server.url}/r/{token}")
    assert page.locator("h1").inner_text() == question
    assert page.evaluate("document.documentElement.lang") == language
    # Nothing sideways to scroll; each answer a thumb's size (WCAG's 44 px target).
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    no = page.locator(f"#rating-{answers.NO}")
    assert no.inner_text() == no_label
    box = no.bounding_box()
    assert box is not None and box["height"] >= 44 and box["x"] >= 0
    no.click()
    assert page.locator("#rating-done").inner_text() == thanks
    assert CheckInAnswer.objects.get().value == answers.NO
    # Tapped the wrong one: choose again, the answer changes and stays one.
    page.locator(f"#rating-{answers.YES}").click()
    page.wait_for_selector("#rating-done")
    assert page.locator(f"#rating-{answers.YES}").get_attribute("aria-pressed") == "true"
    assert list(CheckInAnswer.objects.values_list("value", flat=True)) == [answers.YES]
    assert violations == []
