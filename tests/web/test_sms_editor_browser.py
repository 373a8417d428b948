"""The chain page's template editor counts SMS segments live as the manager types."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from tests.web.test_chain_segments import CHAIN
from tests.web.test_counter_browser import _sign_in
from touchflow.flows.actions import load_flow_text
from touchflow.stores.models import Staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_typing_a_longer_text_updates_the_segment_count(
    page: Page, live_server: Any, manager: Staff, fast_passwords: None
) -> None:
    load_flow_text(CHAIN, "flows/sizes.yaml")
    base = live_server.url
    _sign_in(page, base, "maria")
    page.goto(f"{base}/chains/sizes/")
    russian = page.locator(".template").filter(has_text="Спасибо, что зашли!")
    russian.locator("summary").first.click()
    size = russian.locator(".sms-size")
    assert "1 segment" in size.inner_text()
    russian.locator(".sms-editor summary").click()
    russian.locator(".sms-editor textarea").fill("Спасибо! " * 12)  # 108 + footer: UCS-2
    page.wait_for_function(
        "el => el.innerText.includes('3 segments')", arg=size.element_handle()
    )
    assert "UCS-2" in size.inner_text()
