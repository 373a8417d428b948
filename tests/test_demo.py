"""The demo looks alive whenever it is loaded: messages fall due within minutes when
the stores' customers are awake, call tasks wait, nothing expires at start-up."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import time_machine

from touchflow import demo
from touchflow.core.localtime import next_allowed
from touchflow.customers.models import ContactPoint, Customer
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import CallTask, Touch, TouchState
from touchflow.messaging.outbound import from_settings
from touchflow.stores.models import Store

QUIET = (time(21, 0), time(9, 0))  # the stores' default quiet hours
THANK_YOU_WINDOW = (time(10, 0), time(20, 0))  # the warming chain's first step


def _first_allowed(now: datetime) -> datetime:
    """The first minute a thank-you may go out in any demo store."""
    return min(next_allowed(now, s.time_zone, QUIET, THANK_YOU_WINDOW) for s in demo.STORES)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 6, 2, 12, 0, tzinfo=UTC),  # a summer Tuesday noon
        datetime(2026, 1, 11, 16, 20, tzinfo=UTC),  # a winter Sunday afternoon
        datetime(2026, 1, 13, 19, 40, tzinfo=UTC),  # Warsaw closed, London still open
        datetime(2026, 1, 14, 3, 0, tzinfo=UTC),  # night everywhere
        datetime(2026, 3, 29, 8, 30, tzinfo=UTC),  # the morning clocks go forward
    ],
    ids=["summer-noon", "sunday-afternoon", "evening", "night", "dst-morning"],
)
def test_demo_has_messages_due_soon_and_tasks_waiting(
    db: None, now: datetime, tmp_path: Path
) -> None:
    with time_machine.travel(now, tick=False):
        demo.load(seed=5, visitors_per_store=30)
    queued = Touch.objects.filter(state=TouchState.QUEUED).exclude(step__kind="call")
    # Nothing is left past due to expire when the worker starts.
    assert not queued.filter(due_at__lt=now).exists()
    assert Touch.objects.filter(state=TouchState.EXPIRED).count() <= 2
    # While a store's customers are awake, thank-yous fall due within minutes; at
    # night, at the first minute one may go.
    first = queued.order_by("due_at").values_list("due_at", flat=True)[0]
    opens = _first_allowed(now)
    assert opens <= first <= max(opens, now) + timedelta(minutes=5)
    assert queued.filter(due_at__lte=max(opens, now) + timedelta(minutes=30)).count() >= 3
    assert CallTask.objects.filter(state="open").count() >= 3

    # The worker started then writes them to the outbox.
    outbox = f"sms=outbox:{tmp_path};email=outbox:{tmp_path}"
    at = max(opens, now) + timedelta(minutes=10)
    dispatcher = Dispatcher(from_settings(outbox, accounts=False), now=lambda: at)
    try:
        dispatcher.drain()
    finally:
        dispatcher.close()
    lines = sum(len(p.read_text().splitlines()) for p in tmp_path.glob("*.jsonl"))
    assert lines >= 3


def test_demo_names_agree_in_gender_and_e_mails_transliterate(db: None) -> None:
    with time_machine.travel(datetime(2026, 6, 2, 12, 0, tzinfo=UTC), tick=False):
        demo.load(seed=5, visitors_per_store=60)
    for names in (demo.POLISH, demo.RUSSIAN, demo.ENGLISH):
        women = {woman for _man, woman in names.surnames}
        men = {man for man, _woman in names.surnames}
        for first in names.women:
            for customer in Customer.objects.filter(name__startswith=f"{first} "):
                assert customer.name.split(" ", 1)[1] in women, customer.name
        for first in names.men:
            for customer in Customer.objects.filter(name__startswith=f"{first} "):
                assert customer.name.split(" ", 1)[1] in men, customer.name
    emails = ContactPoint.objects.filter(kind="email").select_related("customer")
    assert emails.count() > 20
    for point in emails:
        local = point.value.split("@")[0].rsplit(".", 1)[0]
        name = point.customer.name
        assert local == (".".join(demo.transliterate(p) for p in name.split()) or "customer")
        assert local.isascii()
    assert Customer.objects.filter(name="").exists()  # a counter visit without a name
    assert Store.objects.count() == 2


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("Łukasz Żak", "lukasz.zak.7@example.com"),
        ("Małgorzata Dąbrowska", "malgorzata.dabrowska.7@example.com"),
        ("Юлия Иванова", "yuliya.ivanova.7@example.com"),
        ("Алексей Щукин", "aleksey.shchukin.7@example.com"),
        ("", "customer.7@example.com"),
    ],
)
def test_e_mail_addresses_keep_every_letter(name: str, address: str) -> None:
    assert demo.email_for(name, 7) == address
