"""Staff answer from the customer's timeline, on the customer's own channel."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tests.messaging.fakes.base import Answer
from tests.messaging.test_core import MiniTelegram, chat_of, telegram  # noqa: F401
from touchflow.funnel.purchases import record_purchase
from touchflow.integrations.actor import Actor
from touchflow.messaging import accounts, inbound
from touchflow.messaging.models import ChannelAccount
from touchflow.messaging.providers.base import Text
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

pytestmark = pytest.mark.django_db


def test_a_reply_goes_out_on_the_customers_chat_and_onto_the_timeline(
    client: Client, salesperson: Staff, type3_visit: Callable[..., Visit],
    telegram: tuple[MiniTelegram, ChannelAccount],  # noqa: F811
) -> None:
    fake, account = telegram
    visit = type3_visit()
    chat_of(visit)
    inbound.apply(accounts.config(account), [Text("u1", "7001", "Is the blue one in stock?")])
    client.force_login(salesperson)
    page = client.get(f"/customers/{visit.customer_id}/").content.decode()
    assert "Is the blue one in stock?" in page and 'name="channel"' in page

    answer = client.post(f"/customers/{visit.customer_id}/reply",
                         {"channel": "telegram", "text": "Yes, two left."})
    assert answer.status_code == 302
    assert fake.texts() == [("7001", "Yes, two left.")]
    row = TimelineEvent.objects.get(kind="message_out")
    assert (row.staff_id, row.data["channel"], row.data["text"]) == (
        salesperson.pk, "telegram", "Yes, two left."
    )
    assert "Yes, two left." in client.get(f"/customers/{visit.customer_id}/").content.decode()
    # The 20% rule: she had not bought, so this was effort on a prospect; once she has,
    # a reply is effort on a buyer.
    assert row.data["bought"] is False
    record_purchase(store=visit.store, actor=Actor(source="api"), customer=visit.customer,
                    amount="10.00")
    client.post(f"/customers/{visit.customer_id}/reply",
                {"channel": "telegram", "text": "It is ready for you."})
    assert [r.data["bought"] for r in TimelineEvent.objects.filter(
        kind="message_out").order_by("id")] == [False, True]


def test_a_refused_or_empty_reply_says_why_and_keeps_the_draft(
    client: Client, salesperson: Staff, type3_visit: Callable[..., Visit],
    telegram: tuple[MiniTelegram, ChannelAccount],  # noqa: F811
) -> None:
    fake, _account = telegram
    visit = type3_visit()
    chat_of(visit)
    client.force_login(salesperson)
    empty = client.post(f"/customers/{visit.customer_id}/reply", {"channel": "telegram",
                                                                  "text": "  "})
    assert empty.status_code == 400 and "Write the reply first." in empty.content.decode()
    fake.fail_next(Answer(403, {"ok": False, "error_code": 403,
                                "description": "Forbidden: bot was blocked by the user"}))
    refused = client.post(f"/customers/{visit.customer_id}/reply",
                          {"channel": "telegram", "text": "Hello?"})
    body = refused.content.decode()
    assert refused.status_code == 400
    assert "bot was blocked by the user" in body and "Hello?" in body
    assert not TimelineEvent.objects.filter(kind="message_out").exists()
    other = client.post(f"/customers/{visit.customer_id}/reply", {"channel": "viber",
                                                                  "text": "Hi"})
    assert other.status_code == 400 and "cannot be answered on viber" in other.content.decode()


def test_staff_of_another_store_cannot_answer(
    client: Client, make_staff: Callable[..., Staff], make_store: Callable[..., Store],
    type3_visit: Callable[..., Visit], telegram: tuple[MiniTelegram, ChannelAccount],  # noqa: F811
) -> None:
    visit = type3_visit()
    chat_of(visit)
    stranger = make_staff(stores=[make_store()])
    client.force_login(stranger)
    answer = client.post(f"/customers/{visit.customer_id}/reply",
                         {"channel": "telegram", "text": "Hi"})
    assert answer.status_code == 404
    assert telegram[0].texts() == []


def test_a_reply_with_a_nul_byte_is_refused_before_it_is_sent(
    client: Client, salesperson: Staff, type3_visit: Callable[..., Visit],
    telegram: tuple[MiniTelegram, ChannelAccount],  # noqa: F811
) -> None:
    fake, _account = telegram
    visit = type3_visit()
    chat_of(visit)
    client.force_login(salesperson)
    answer = client.post(f"/customers/{visit.customer_id}/reply",
                         {"channel": "telegram", "text": "Yes\x00, two left."})
    assert answer.status_code == 400
    assert "This text contains control characters" in answer.content.decode()
    assert fake.texts() == []
    assert not TimelineEvent.objects.filter(kind="message_out").exists()


def test_a_pushy_reply_is_held_with_kinder_wording_and_may_be_sent_anyway(
    client: Client, salesperson: Staff, type3_visit: Callable[..., Visit],
    telegram: tuple[MiniTelegram, ChannelAccount],  # noqa: F811
) -> None:
    """Issue 12: the tone check reads a reply before it goes; the staff member edits it
    or sends it anyway, and the timeline notes what was found."""
    fake, _account = telegram
    visit = type3_visit()
    chat_of(visit)
    client.force_login(salesperson)
    pushy = "LAST CHANCE!!! You must decide today, or it's gone."
    held = client.post(f"/customers/{visit.customer_id}/reply",
                       {"channel": "telegram", "text": pushy})
    assert held.status_code == 200 and fake.texts() == []
    flags = held.context["tone_flags"]
    assert "shouting" in {f.category for f in flags}
    page = held.content.decode()
    assert "Not sent yet" in page and 'name="send_anyway"' in page
    assert pushy.replace("'", "&#x27;") in page  # the draft is kept

    client.post(f"/customers/{visit.customer_id}/reply",
                {"channel": "telegram", "text": "Thank you for asking. It's here whenever "
                 "you'd like to see it."})
    client.post(f"/customers/{visit.customer_id}/reply",
                {"channel": "telegram", "text": pushy, "send_anyway": "1"})
    assert [text for _chat, text in fake.texts()] == [
        "Thank you for asking. It's here whenever you'd like to see it.", pushy]
    rows = list(TimelineEvent.objects.filter(kind="message_out").order_by("id"))
    assert "tone_flags" not in rows[0].data
    assert rows[1].data["tone_flags"] == sorted({f.category for f in flags})
    page = client.get(f"/customers/{visit.customer_id}/").content.decode()
    assert page.count("sent despite the tone check") == 1
