"""Check-ins that can be answered (issue 10): the engine sends the answers as buttons
or a signed one-tap page, and every way an answer comes back lands once, on the
timeline, tied to the touch, the purchase and the seller."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from tests.aftercare.conftest import send_check_in as _send_check_in
from tests.delivery.conftest import Clock
from tests.servers import SmtpInbox
from touchflow.aftercare import actions
from touchflow.aftercare.models import CheckInAnswer
from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import ConsentGrant, check_contact
from touchflow.delivery.models import Touch, TouchState
from touchflow.delivery.render import rating_url
from touchflow.flows import answers
from touchflow.flows.answers import ANSWER_WINDOW
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

RATING_LINK = re.compile(r"https?://[^\s]+/r/(\d+\.[A-Za-z0-9_-]{22})")


def test_sms_check_in_lists_the_answers_and_links_its_rating_page(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    sink: tuple[Any, str],
) -> None:
    sale(language="en")
    touch = _send_check_in(make_dispatcher, clock)
    body = next(b for b in sink[0].received if b["idempotency_key"] == touch.idempotency_key)
    assert body["quick_replies"] == []  # SMS has no buttons: it says what to reply
    assert "Reply YES or NO." in body["text"]
    found = RATING_LINK.search(body["text"])
    assert found and found[1].startswith(f"{touch.pk}.")
    assert rating_url(touch.pk).endswith(found[1])


def test_messenger_check_in_shows_the_answers_as_buttons_and_no_link(
    store: Store, salesperson: Staff, make_dispatcher: Callable[..., Any], clock: Clock,
    sink: tuple[Any, str], flows: Any,
) -> None:
    log_visit(
        store=store, actor=Actor(source="counter", staff=salesperson), bought=True,
        contact_capture="taken", name="Anna Nowak", consent=ConsentGrant(contact=True),
        contacts=[check_contact("telegram", "123456789", region=None)], language="ru",
    )
    clock.advance(days=4)
    make_dispatcher(f"telegram={sink[1]}").drain()
    touch = Touch.objects.get(step__key="is-everything-ok")
    body = next(b for b in sink[0].received if b["idempotency_key"] == touch.idempotency_key)
    assert body["quick_replies"] == ["Да, всё хорошо", "Нет, есть проблема"]
    assert "/r/" not in body["text"]


def test_email_check_in_links_the_rating_page_in_the_customers_language(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    smtp: tuple[SmtpInbox, str],
) -> None:
    sale(phone=None, email="anna@example.pl", language="ru")
    touch = _send_check_in(make_dispatcher, clock)
    mail = next(m for m in smtp[0].messages if "покупк" in m.get("Subject", ""))
    text = mail.get_body(("plain",)).get_content()
    assert f"Ответить в одно касание: {rating_url(touch.pk)}" in text


def test_a_reply_answers_the_open_check_in_once_and_a_second_changes_it(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    salesperson: Staff,
) -> None:
    visit = sale()
    touch = _send_check_in(make_dispatcher, clock)
    now = clock.advance(hours=2)
    first = actions.answer_reply(touch.customer_id, touch.store_id, "sms", "Да", now)
    assert first is not None and not first.changed
    second = actions.answer_reply(touch.customer_id, touch.store_id, "sms", "не работает",
                                  clock.advance(minutes=5))
    assert second is not None and second.changed
    answer = CheckInAnswer.objects.get()
    assert (answer.value, answer.mood, answer.text) == (answers.NO, "unhappy", "не работает")
    # Tied to what the check-in asked about and to who sold it.
    assert answer.touch_id == touch.pk and answer.staff_id == salesperson.pk
    assert answer.purchase_id == Purchase.objects.get(visit=visit).pk
    rows = TimelineEvent.objects.filter(kind=EventKind.CHECK_IN_ANSWER).order_by("id")
    assert [(r.data["answer"], r.data["changed"]) for r in rows] == [(1, False), (0, True)]
    assert {r.staff_id for r in rows} == {salesperson.pk}
    assert all(r.purchase_id == answer.purchase_id is not None for r in rows)


def test_free_text_is_no_answer_and_nothing_is_open_after_the_window(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
) -> None:
    sale()
    touch = _send_check_in(make_dispatcher, clock)
    now = clock.advance(hours=1)
    text = "The sofa came with a scratch, who do I call?"
    assert actions.answer_reply(touch.customer_id, touch.store_id, "sms", text, now) is None
    late = clock.advance(seconds=ANSWER_WINDOW.total_seconds())
    assert actions.answer_reply(touch.customer_id, touch.store_id, "sms", "yes", late) is None
    assert not CheckInAnswer.objects.exists()


def test_another_store_cannot_collect_the_answer(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    make_store: Callable[..., Store],
) -> None:
    sale()
    touch = _send_check_in(make_dispatcher, clock)
    other = make_store(name="London", slug="london")
    assert actions.answer_reply(touch.customer_id, other.pk, "sms", "yes",
                                clock.advance(hours=1)) is None


def test_the_page_refuses_a_value_the_question_does_not_offer(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
) -> None:
    sale()
    touch = _send_check_in(make_dispatcher, clock)
    with pytest.raises(InvalidInput) as caught:
        actions.answer_on_page(touch, 5, clock.advance(hours=1))  # yes/no asks 1 or 0
    assert caught.value.field == "value"
    assert not CheckInAnswer.objects.exists()


# -- the rating page ----------------------------------------------------------------


def _token(touch: Touch) -> str:
    return rating_url(touch.pk).rsplit("/", 1)[1]


def test_rating_page_answers_and_a_second_tap_changes_the_answer(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    client: Client,
) -> None:
    sale(language="pl")
    touch = _send_check_in(make_dispatcher, clock)
    clock.advance(hours=3)
    page = client.get(f"/r/{_token(touch)}")
    assert page.status_code == 200
    assert "Tak, wszystko OK" in page.content.decode()
    assert page["Cache-Control"] == "no-store" and page["Referrer-Policy"] == "no-referrer"
    assert client.post(f"/r/{_token(touch)}", {"value": "0"}).status_code == 200
    again = client.post(f"/r/{_token(touch)}", {"value": "1"})
    assert again.status_code == 200
    assert CheckInAnswer.objects.get().value == answers.YES
    assert CheckInAnswer.objects.count() == 1
    assert TimelineEvent.objects.filter(kind=EventKind.CHECK_IN_ANSWER).count() == 2


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature changed
    lambda t: str(int(t.split(".")[0]) + 1) + "." + t.split(".")[1],  # another touch
    lambda t: t.split(".")[0],  # no signature at all
])
def test_a_tampered_link_is_refused_politely_and_changes_nothing(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    client: Client, mangle: Callable[[str], str],
) -> None:
    sale()
    touch = _send_check_in(make_dispatcher, clock)
    answer = client.post(f"/r/{mangle(_token(touch))}", {"value": "1"})
    assert answer.status_code == 400
    assert "This link does not work" in answer.content.decode()
    assert not CheckInAnswer.objects.exists()


def test_an_expired_link_says_so(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    client: Client,
) -> None:
    sale()
    touch = _send_check_in(make_dispatcher, clock)
    clock.advance(days=ANSWER_WINDOW.days, minutes=1)
    answer = client.post(f"/r/{_token(touch)}", {"value": "1"})
    assert answer.status_code == 410
    assert not CheckInAnswer.objects.exists()


def test_a_check_in_never_sent_cannot_be_answered(
    sale: Callable[..., Visit], clock: Clock, client: Client, flows: Any,
) -> None:
    sale()
    touch = Touch.objects.get(step__key="is-everything-ok")
    assert touch.state == TouchState.QUEUED
    answer = client.post(f"/r/{_token(touch)}", {"value": "1"})
    assert answer.status_code == 404
    assert not CheckInAnswer.objects.exists()


def test_junk_value_names_the_field(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    client: Client,
) -> None:
    sale()
    touch = _send_check_in(make_dispatcher, clock)
    for junk in ("", "yes", "7", "1; DROP TABLE"):
        page = client.post(f"/r/{_token(touch)}", {"value": junk})
        assert page.status_code == 400
    assert not CheckInAnswer.objects.exists()


def test_the_answer_window_is_counted_from_sending(
    sale: Callable[..., Visit], make_dispatcher: Callable[..., Any], clock: Clock,
    client: Client,
) -> None:
    sale()
    touch = _send_check_in(make_dispatcher, clock)
    clock.advance(seconds=(ANSWER_WINDOW - timedelta(minutes=1)).total_seconds())
    assert client.post(f"/r/{_token(touch)}", {"value": "1"}).status_code == 200
