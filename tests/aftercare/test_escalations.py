"""Unhappy → a person (issue 10): an escalation due within the store's opening hours,
the manager told on their own channel, offers held until it is resolved, chains that
exit on "unhappy" ended; resolving it releases the offers and lands on the timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from tests.aftercare.conftest import send_check_in
from tests.delivery.conftest import Clock
from touchflow.aftercare import actions, escalations
from touchflow.aftercare.models import Escalation
from touchflow.core.errors import InvalidInput
from touchflow.customers.models import Customer
from touchflow.delivery.models import Touch, TouchState
from touchflow.flows.actions import load_flow_text
from touchflow.flows.models import Enrollment
from touchflow.funnel.chains import set_status
from touchflow.messaging import accounts, alerts
from touchflow.messaging.models import ChannelAccount, Notice
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

WARSAW = "Europe/Warsaw"


def _at(text: str) -> datetime:
    """A Warsaw wall-clock time as an instant."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(WARSAW)).astimezone(UTC)


# -- the deadline, in opening hours ---------------------------------------------------


@pytest.mark.parametrize(("hours", "holidays", "opened", "due"), [
    # Friday 16:00 + 4 working hours, closed at the weekend: Monday 11:00.
    ("mon-fri 09:00-18:00", "", "2026-06-05 16:00", "2026-06-08 11:00"),
    # ...with Saturday mornings open: Saturday 12:00.
    ("mon-fri 09:00-18:00; sat 10:00-14:00", "", "2026-06-05 16:00", "2026-06-06 12:00"),
    # Monday a holiday too: Tuesday 11:00.
    ("mon-fri 09:00-18:00", "2026-06-08", "2026-06-05 16:00", "2026-06-09 11:00"),
    # Opened at night: counted from the morning.
    ("mon-fri 09:00-18:00", "", "2026-06-02 22:30", "2026-06-03 13:00"),
    # A lunch break does not count.
    ("mon-fri 09:00-13:00,14:00-18:00", "", "2026-06-02 11:00", "2026-06-02 16:00"),
])
def test_the_deadline_counts_opening_hours_only(
    make_store: Callable[..., Store], hours: str, holidays: str, opened: str, due: str,
) -> None:
    store = make_store(opening_hours=hours, holidays=holidays, response_hours=4)
    assert escalations.due(store, _at(opened)) == _at(due)


def test_a_bad_holiday_or_hours_is_refused_naming_it(make_store: Callable[..., Store]) -> None:
    store = make_store()
    store.holidays, store.opening_hours = "2026-12-25, 26.12.2026", "mon-fry 09:00-18:00"
    with pytest.raises(ValidationError) as caught:
        store.full_clean()
    assert "26.12.2026" in str(caught.value.message_dict["holidays"])
    assert "fry" in str(caught.value.message_dict["opening_hours"])


def test_a_store_never_open_counts_plain_hours(make_store: Callable[..., Store]) -> None:
    store = make_store(opening_hours="", response_hours=4)
    assert escalations.due(store, _at("2026-06-05 16:00")) == _at("2026-06-05 20:00")


# -- opening one ---------------------------------------------------------------------


@pytest.fixture
def unhappy(answered: Callable[..., Touch], manager: Staff) -> Callable[..., Escalation]:
    """A sale, its check-in sent, the customer's unhappy reply, the store's manager."""

    def make(reply: str = "Нет") -> Escalation:
        return Escalation.objects.get(touch=answered(reply))

    return make


def test_an_unhappy_answer_reaches_the_stores_manager_tied_to_the_sale(
    unhappy: Callable[..., Escalation], manager: Staff, salesperson: Staff,
) -> None:
    escalation = unhappy("Нет")
    assert (escalation.reason, escalation.assignee_id) == ("no", manager.pk)
    assert escalation.seller_id == salesperson.pk and escalation.purchase_id is not None
    assert escalation.due_at > escalation.opened_at
    assert Customer.objects.get(pk=escalation.customer_id).commercial_held
    row = TimelineEvent.objects.get(kind=EventKind.ESCALATION_OPENED)
    assert (row.data["escalation"], row.staff_id) == (escalation.pk, salesperson.pk)


def test_a_complaint_in_a_reply_is_escalated_and_stays_a_reply(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    manager: Staff,
) -> None:
    sale()
    touch = send_check_in(make_dispatcher, clock)
    text = "Диван привезли поцарапанный, кто приедет?"
    assert actions.answer_reply(touch.customer_id, touch.store_id, "sms", text,
                                clock.advance(hours=1)) is None  # no answer: a reply
    escalation = Escalation.objects.get()
    assert (escalation.reason, escalation.text, escalation.answer_id) == ("complaint", text, None)


def test_a_happy_answer_or_a_second_unhappy_one_opens_nothing_new(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    manager: Staff,
) -> None:
    sale()
    touch = send_check_in(make_dispatcher, clock)
    actions.answer_reply(touch.customer_id, touch.store_id, "sms", "Да", clock.advance(hours=1))
    assert not Escalation.objects.exists()
    actions.answer_reply(touch.customer_id, touch.store_id, "sms", "нет", clock.advance(hours=1))
    actions.answer_reply(touch.customer_id, touch.store_id, "sms", "не работает!",
                         clock.advance(hours=1))
    assert Escalation.objects.count() == 1


def test_the_manager_is_told_on_telegram_or_else_by_e_mail(
    unhappy: Callable[..., Escalation], manager: Staff, store: Store, clock: Clock,
) -> None:
    manager.email, manager.telegram_chat = "maria@example.pl", "555111"
    manager.save()
    for provider, handle in (("telegram", "shop_bot"), ("mailgun", "shop@example.pl")):
        account = ChannelAccount(store=store, provider=provider, handle=handle)
        account.credentials = {"token": "1:x"} if provider == "telegram" else {
            "api_key": "k", "domain": "example.pl", "webhook_signing_key": "s"}
        account.save()
    accounts.forget()
    escalation = unhappy()
    assert alerts.queue_due(clock.now()) == 1
    notice = Notice.objects.get(kind="escalation")
    assert (notice.channel, notice.address, notice.customer_id) == ("telegram", "555111", None)
    assert "Please reach them by" in notice.text  # in the manager's language
    assert alerts.queue_due(clock.now()) == 0  # told once
    assert Escalation.objects.get(pk=escalation.pk).alerted_at is not None


def test_without_store_accounts_the_alert_goes_by_the_deployments_e_mail(
    unhappy: Callable[..., Escalation], manager: Staff, clock: Clock, settings: Any,
    smtp: tuple[Any, str],
) -> None:
    settings.TOUCHFLOW_CHANNELS = f"email={smtp[1]}"
    manager.email = "maria@example.pl"
    manager.save()
    escalation = unhappy()
    assert alerts.route(escalation) == ("email", "maria@example.pl")
    alerts.tick(clock.now())
    (mail,) = [m for m in smtp[0].messages if m["To"] == "maria@example.pl"]
    assert "Please reach them by" in mail.get_body(("plain",)).get_content()
    assert Notice.objects.get(kind="escalation").state == "sent"


def test_with_no_way_to_reach_the_manager_the_page_shows_it(
    unhappy: Callable[..., Escalation], manager: Staff, clock: Clock, settings: Any,
) -> None:
    settings.TOUCHFLOW_CHANNELS = "sms=null:"
    manager.email = "maria@example.pl"
    manager.save()
    escalation = unhappy()
    assert alerts.route(escalation) is None  # the page and the counts only
    assert alerts.queue_due(clock.now()) == 0
    assert not Notice.objects.filter(kind="escalation").exists()


# -- what it holds and ends ----------------------------------------------------------

OFFER_CHAIN = """\
slug: offers
name: Offers after a purchase
audience:
  trigger: purchase
exit_on: [unhappy]
steps:
  - key: offer
    kind: offer
    after: 5d
    channels: [sms]
    expires: 10d
    message:
      en: {text: "10% off your next visit"}
      pl: {text: "10% zniżki"}
"""
KEEP_CHAIN = OFFER_CHAIN.replace("slug: offers", "slug: offers-kept").replace(
    "exit_on: [unhappy]", "exit_on: [opt_out]").replace("Offers after", "Kept offers after")


def test_offers_are_held_until_resolved_then_go(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    manager: Staff, flows: Any,
) -> None:
    set_status(load_flow_text(KEEP_CHAIN, "offers-kept.yaml").flow, "active")
    sale(marketing=True)
    touch = send_check_in(make_dispatcher, clock)
    actions.answer_reply(touch.customer_id, touch.store_id, "sms", "nie",
                         clock.advance(minutes=5))
    escalation = Escalation.objects.get()
    clock.advance(days=2)  # the offer falls due while the complaint is open
    make_dispatcher().drain()
    offer = Touch.objects.get(step__key="offer")
    assert (offer.state, offer.reason) == (TouchState.QUEUED, "held")
    escalations.resolve(escalation, manager, "fixed", "Sent a technician.", clock.now())
    assert not Customer.objects.get(pk=offer.customer_id).commercial_held
    clock.advance(hours=2)
    make_dispatcher().drain()
    assert Touch.objects.get(step__key="offer").state == TouchState.SENT


def test_chains_that_exit_on_unhappy_end(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    manager: Staff, flows: Any,
) -> None:
    set_status(load_flow_text(OFFER_CHAIN, "offers.yaml").flow, "active")
    sale()
    touch = send_check_in(make_dispatcher, clock)
    actions.answer_reply(touch.customer_id, touch.store_id, "sms", "nie", clock.advance(hours=1))
    ended = Enrollment.objects.get(flow__slug="offers")
    assert (ended.state, ended.end_reason) == ("exited", "unhappy")
    assert Touch.objects.get(step__key="offer").state == TouchState.CANCELLED
    assert Enrollment.objects.get(flow__slug="loyalty").state == "active"


# -- resolving -----------------------------------------------------------------------


def test_resolving_needs_a_resolution_and_happens_once(
    unhappy: Callable[..., Escalation], manager: Staff, clock: Clock,
) -> None:
    escalation = unhappy()
    with pytest.raises(InvalidInput) as bad:
        escalations.resolve(escalation, manager, "shrugged", "", clock.now())
    assert bad.value.field == "resolution"
    with pytest.raises(InvalidInput) as long:
        escalations.resolve(escalation, manager, "called", "x" * 5000, clock.now())
    assert long.value.field == "note"
    done = escalations.resolve(escalation, manager, "called", "All fine now.", clock.now())
    assert (done.resolution, done.resolved_by_id, done.note) == ("called", manager.pk,
                                                                 "All fine now.")
    with pytest.raises(InvalidInput):
        escalations.resolve(escalation, manager, "called", "", clock.now())
    row = TimelineEvent.objects.get(kind=EventKind.ESCALATION_RESOLVED)
    assert row.data["resolution"] == "called" and row.staff_id == manager.pk


def test_overdue_ones_are_listed_and_counted(
    unhappy: Callable[..., Escalation], manager: Staff, clock: Clock, store: Store,
) -> None:
    escalation = unhappy()
    stores = [store.pk]
    assert list(escalations.listed(stores, "overdue", clock.now())) == []
    clock.move_to(escalation.due_at)
    clock.advance(minutes=1)
    assert list(escalations.listed(stores, "overdue", clock.now())) == [escalation]
    assert escalations.listed([], "open", clock.now()).count() == 0  # another store's view


# -- the manager's page ----------------------------------------------------------------


def test_the_managers_page_filters_pages_and_resolves(
    unhappy: Callable[..., Escalation], manager: Staff,
) -> None:
    escalation = unhappy()
    web = Client()
    web.force_login(manager)
    page = web.get("/escalations/")
    assert page.status_code == 200 and f'id="escalation-{escalation.pk}"' in page.content.decode()
    assert f'id="escalation-{escalation.pk}"' not in web.get(
        "/escalations/?state=resolved").content.decode()
    assert web.get("/escalations/?state=nonsense").status_code == 200  # read as open
    response = web.post(f"/escalations/{escalation.pk}/resolve/",
                        {"resolution": "refunded", "note": "Refunded 120 zł.", "state": "open"})
    assert response.status_code == 302
    assert Escalation.objects.get().resolution == "refunded"
    assert f'id="escalation-{escalation.pk}"' in web.get(
        "/escalations/?state=resolved").content.decode()


def test_a_salesperson_may_not_see_the_page(salesperson: Staff) -> None:
    web = Client()
    web.force_login(salesperson)
    assert web.get("/escalations/").status_code == 403


def test_the_customers_timeline_tells_the_whole_story(
    unhappy: Callable[..., Escalation], manager: Staff, clock: Clock,
) -> None:
    escalation = unhappy("не работает")
    escalations.resolve(escalation, manager, "fixed", "Replaced the part.", clock.now())
    web = Client()
    web.force_login(manager)
    page = web.get(f"/customers/{escalation.customer_id}/").content.decode()
    for words in ("Answered the check-in", "Handed to a manager", "Complaint resolved",
                  "Replaced the part."):
        assert words in page


def test_a_merge_carries_the_hold_with_the_open_escalation(
    unhappy: Callable[..., Escalation], store: Store, manager: Staff, clock: Clock,
) -> None:
    from touchflow.funnel.customers import merge_customers
    from touchflow.integrations.actor import Actor

    escalation = unhappy()
    held = Customer.objects.get(pk=escalation.customer_id)
    survivor = Customer.objects.create(home_store=store, created_at=clock.now(), name="Anna")
    merge_customers(survivor, held, Actor(source="counter"), clock.now())
    survivor.refresh_from_db()
    assert survivor.commercial_held
    assert Escalation.objects.get().customer_id == survivor.pk
    escalations.resolve(escalation, manager, "called", "", clock.now())
    survivor.refresh_from_db()
    assert not survivor.commercial_held  # its last open escalation resolved
