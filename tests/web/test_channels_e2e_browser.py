"""End to end, as a store lives it: a visit logged on the counter screen in Chromium,
the customer scans the QR code (the token comes back through the Telegram webhook),
the warming chain's first message reaches the local Telegram server at the right
local time, the customer's reply lands on the timeline and is answered from the
browser, and STOP ends the chain on every channel (issue 13)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.db.models import Min
from playwright.sync_api import Page

from tests.delivery.conftest import EXAMPLES
from tests.messaging.conftest import deliver
from tests.messaging.fakes.base import running
from tests.messaging.test_core import MiniTelegram
from tests.web.test_counter_browser import _sign_in
from touchflow.customers.models import ConsentEvent, ContactPoint
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch
from touchflow.flows.actions import load_flow_dir
from touchflow.funnel.chains import set_status
from touchflow.messaging.models import ChannelAccount
from touchflow.messaging.outbound import from_settings
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SECRET = "e2e-secret"


@pytest.fixture
def bot(store: Store) -> Iterator[tuple[MiniTelegram, ChannelAccount]]:
    fake = MiniTelegram()
    with running(fake) as url:
        account = ChannelAccount(store=store, provider="telegram", handle="warsaw_shop_bot",
                                 base_url=url)
        account.credentials = {"token": "42:e2e", "secret_token": SECRET}
        account.save()
        yield fake, account


def _update(base: str, account: ChannelAccount, update_id: int, text: str,
            secret: str = SECRET) -> httpx.Response:
    """What Telegram POSTs when chat 7001 writes ``text``."""
    body = {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": int(time.time()), "text": text,
            "from": {"id": 7001, "is_bot": False, "first_name": "Anna", "language_code": "pl"},
            "chat": {"id": 7001, "type": "private", "first_name": "Anna"},
        },
    }
    return httpx.post(f"{base}{account.webhook_path()}", json=body,
                      headers={"X-Telegram-Bot-Api-Secret-Token": secret})


def test_from_the_counter_to_telegram_and_back(
    page: Page, live_server: Any, salesperson: Staff, store: Store, fast_passwords: None,
    bot: tuple[MiniTelegram, ChannelAccount],
) -> None:
    fake, account = bot
    for result in load_flow_dir(EXAMPLES)[0]:
        set_status(result.flow, "active")
    base = live_server.url

    # 1. The counter: the QR code opens the store's bot with a single-use token.
    _sign_in(page, base, "sam")
    assert page.locator(".qr-card svg").count() == 1
    assert "Telegram" in page.inner_text(".qr-card")
    token = page.input_value("input[name=optin_token]")
    page.locator("label:has(#outcome-not-bought)").click()
    page.locator("label:has(#reason-just_looking)").click()
    page.fill("#contact", "501 234 567")
    page.wait_for_selector("#contact-ok")
    page.fill("#name", "Anna Nowak")
    page.locator("button[value=taken]").click()
    page.wait_for_selector(".message-success")
    visit = Visit.objects.get()
    assert visit.visit_class == "type3"

    # 2. The customer scans and presses Start: the webhook links the chat.
    forged = _update(base, account, 1, f"/start {token}", secret="wrong")
    assert forged.status_code == 403
    assert not ContactPoint.objects.filter(kind="telegram").exists()
    assert _update(base, account, 1, f"/start {token}").status_code == 200
    chat = ContactPoint.objects.get(kind="telegram")
    assert (chat.value, chat.customer_id, chat.contact_consent) == ("7001", visit.customer_id, True)
    assert ConsentEvent.objects.filter(contact_point=chat, source="qr", granted=True).count() == 2
    deliver()  # the worker's chore sends the welcome the webhook queued
    assert fake.texts()[-1][0] == "7001" and "STOP" in fake.texts()[-1][1]
    # The same update again (Telegram retries) and the used token from someone else.
    assert _update(base, account, 1, f"/start {token}").status_code == 200
    assert ConsentEvent.objects.filter(contact_point=chat).count() == 2
    welcomes = len(fake.texts())

    # 3. The worker, on a driven clock: nothing before the first step is due, then the
    #    message goes to Telegram, inside the step's window on the customer's clock.
    first = Touch.objects.get(step__key="thank-you")
    local_due = first.due_at.astimezone(ZoneInfo("Europe/Warsaw"))
    assert first.due_at >= visit.occurred_at + timedelta(hours=3)
    assert 10 <= local_due.hour < 20
    at: dict[str, datetime] = {"now": first.due_at - timedelta(minutes=1)}
    dispatcher = Dispatcher(from_settings("sms=null:", accounts=True), now=lambda: at["now"])
    try:
        assert dispatcher.drain().claimed == 0
        at["now"] = first.due_at
        assert dict(dispatcher.drain().outcomes) == {"sent": 1}
        first.refresh_from_db()
        assert (first.state, first.channel) == ("sent", "telegram")
        to, text = fake.texts()[welcomes]
        assert to == "7001" and "Warsaw Centre" in text and "Anna" in text
        stop_button = fake.sent("/sendMessage")[welcomes].json()["reply_markup"]
        assert stop_button["inline_keyboard"][-1][0]["callback_data"] == "stop"

        # 4. Anna replies; the salesperson reads it on her timeline and answers there.
        assert _update(base, account, 2, "Czy macie go w kolorze niebieskim?").status_code == 200
        page.goto(f"{base}/customers/{visit.customer_id}/")
        assert "Czy macie go w kolorze niebieskim?" in page.inner_text(".timeline")
        page.fill("textarea[name=text]", "Tak, mamy dwa niebieskie.")
        page.locator(".reply-form button[type=submit]").click()
        page.wait_for_selector("text=Tak, mamy dwa niebieskie.")
        assert fake.texts()[-1] == ("7001", "Tak, mamy dwa niebieskie.")

        # 5. STOP: consent withdrawn on Telegram at once, one confirmation, nothing after.
        assert _update(base, account, 3, "STOP").status_code == 200
        chat.refresh_from_db()
        assert chat.contact_consent is False
        deliver()
        assert fake.texts()[-1] == ("7001", (
            "Gotowe: nie będziemy już tu do Ciebie pisać, Warsaw Centre zakończył wysyłanie "
            "Ci wiadomości i nie dostaniesz od nas ofert żadnym kanałem. Aby znów otrzymywać "
            "nasze wiadomości, zeskanuj kod przy kasie w Warsaw Centre lub zapytaj nasz "
            "personel."))
        sent_before = len(fake.texts())
        for _step in range(10):  # the rest of the chain, each touch when it falls due
            due = Touch.objects.filter(state="queued").aggregate(due=Min("due_at"))["due"]
            if due is None:
                break
            at["now"] = max(at["now"], due)
            dispatcher.drain()
        assert len(fake.texts()) == sent_before
        # The chain ended: no SMS takes over from Telegram.
        assert not Touch.objects.exclude(pk=first.pk).filter(state="sent").exists()
        stops = TimelineEvent.objects.filter(kind="message_in", customer_id=visit.customer_id)
        assert [row.data.get("stop") for row in stops.order_by("at", "id")] == [None, "text"]
    finally:
        dispatcher.close()
