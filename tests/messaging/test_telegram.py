"""Telegram against a local Bot API: sending, its errors, connection reuse, and the
webhook (secret token, /start with the counter's QR token, replies, STOP, blocking)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.messaging.conftest import deliver, post_hook
from tests.messaging.fakes import telegram as tg
from tests.messaging.fakes.base import Answer, running
from tests.messaging.fakes.telegram import FakeTelegram
from tests.servers import free_port
from touchflow.core import clock as core_clock
from touchflow.customers.actions import ConsentGrant, check_contact, create_optin_token
from touchflow.customers.models import ConsentEvent, ContactPoint, Customer
from touchflow.customers.visibility import names_of
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging import accounts, providers
from touchflow.messaging.models import ChannelAccount, InboundEvent
from touchflow.messaging.providers.telegram import TelegramProvider
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import EventKind, TimelineEvent

SECRET = "s3cr3t-webhook-token"
CHAT = 5550001
HEADER = "X-Telegram-Bot-Api-Secret-Token"
WELCOME = (
    "Thank you! You will get messages from Warsaw Centre here. Write STOP at any time to stop them."
)
SORRY = "Sorry, this code has expired or was already used. Ask at the counter for a new one."
STOPPED = (
    "Done: we will not write to you here any more, Warsaw Centre has ended its messages to "
    "you, and you will get no offers from us on any channel. To hear from us again, scan "
    "the code at the counter of Warsaw Centre or ask our staff."
)


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    # English, so the bot's answers are compared as written.
    return make_store(name="Warsaw Centre", slug="warsaw", language="en")


@pytest.fixture
def fake() -> FakeTelegram:
    fake = FakeTelegram()
    fake.chats.add(CHAT)
    return fake


@pytest.fixture
def base_url(fake: FakeTelegram) -> Iterator[str]:
    with running(fake) as url:
        yield url


@pytest.fixture
def account(
    make_account: Callable[..., ChannelAccount], fake: FakeTelegram, base_url: str
) -> ChannelAccount:
    return make_account(
        "telegram", base_url, {"token": fake.token, "secret_token": SECRET}, handle="touchflow_bot"
    )


def provider(account: ChannelAccount, **options: Any) -> TelegramProvider:
    built = providers.build(accounts.config(account), **options)
    assert isinstance(built, TelegramProvider)
    return built


def message(
    text: str = "Hello Anna",
    address: str = str(CHAT),
    language: str = "en",
    quick_replies: tuple[str, ...] = (),
) -> OutgoingMessage:
    return OutgoingMessage(
        touch_id=1,
        idempotency_key="touch-1",
        channel="telegram",
        address=address,
        text=text,
        language=language,
        quick_replies=quick_replies,
    )


def hook(
    client: Client, account: ChannelAccount, body: bytes | str, secret: str | None = SECRET
) -> Any:
    headers = {} if secret is None else {HEADER: secret}
    return post_hook(client, account, body, **headers)


# -- sending ------------------------------------------------------------------------------


def test_send_message_carries_quick_replies_and_the_stop_button(
    account: ChannelAccount, fake: FakeTelegram
) -> None:
    result = provider(account).send_one(
        message("Как вам диван?", language="ru", quick_replies=("Нравится", "Позвоните мне"))
    )
    assert result == SendResult.sent("101")
    [request] = fake.sent("/sendMessage")
    assert request.path == f"/bot{fake.token}/sendMessage"
    assert request.json() == {
        "chat_id": str(CHAT),
        "text": "Как вам диван?",
        "reply_markup": {
            "inline_keyboard": [
                [{"text": "Нравится", "callback_data": "Нравится"}],
                [{"text": "Позвоните мне", "callback_data": "Позвоните мне"}],
                [{"text": "Отписаться", "callback_data": "stop"}],
            ]
        },
    }


def test_send_text_is_plain_unless_asked_for_the_stop_button(
    account: ChannelAccount, fake: FakeTelegram
) -> None:
    live = provider(account)
    assert live.send_text(str(CHAT), "We are open until 20:00").ok
    assert live.send_text(str(CHAT), "Anything else?", unsubscribe_button=True).ok
    assert fake.messages() == [
        {"chat_id": str(CHAT), "text": "We are open until 20:00"},
        {
            "chat_id": str(CHAT),
            "text": "Anything else?",
            "reply_markup": {
                "inline_keyboard": [[{"text": "Stop messages", "callback_data": "stop"}]]
            },
        },
    ]


def test_callback_data_is_cut_to_64_bytes_not_64_letters(
    account: ChannelAccount, fake: FakeTelegram
) -> None:
    label = "Перезвоните мне, пожалуйста, после шести вечера"  # 47 letters, 87 bytes
    assert provider(account).send_one(message(quick_replies=(label,))).ok
    button = fake.messages()[0]["reply_markup"]["inline_keyboard"][0][0]
    assert button == {"text": label, "callback_data": "Перезвоните мне, пожалуйста, после "}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (tg.chat_not_found(), SendResult.failed("Telegram 400: Bad Request: chat not found")),
        (
            tg.blocked_by_user(),
            SendResult.failed("Telegram 403: Forbidden: bot was blocked by the user"),
        ),
        (
            tg.too_many_requests(17),
            SendResult.retry("Telegram 429: Too Many Requests: retry after 17", 17.0),
        ),
        (tg.server_error(), SendResult.retry("Telegram 502: Bad Gateway")),
        (
            Answer(503, "<html>Service Unavailable</html>"),
            SendResult.retry("Telegram 503: <html>Service Unavailable</html>"),
        ),
    ],
    ids=["chat-not-found", "blocked", "rate-limited", "bad-gateway", "html-error-page"],
)
def test_errors_map_to_final_or_retry(
    account: ChannelAccount, fake: FakeTelegram, answer: Answer, expected: SendResult
) -> None:
    fake.fail_next(answer)
    assert provider(account).send_one(message()) == expected


def test_unknown_chat_and_blocked_chat_from_the_api_itself(
    account: ChannelAccount, fake: FakeTelegram
) -> None:
    fake.blocked.add(CHAT)
    live = provider(account)
    assert live.send_one(message(address="999")).error == (
        "Telegram 400: Bad Request: chat not found"
    )
    blocked = live.send_one(message())
    assert (blocked.ok, blocked.transient) == (False, False)


def test_timeout_and_refused_connection_are_retried(
    make_account: Callable[..., ChannelAccount], account: ChannelAccount, fake: FakeTelegram
) -> None:
    fake.fail_next(Answer(200, {"ok": True, "result": {"message_id": 1}}, delay=2.0))
    slow = TelegramProvider(accounts.config(account), timeout=0.2).send_one(message())
    assert (slow.ok, slow.transient, slow.error.startswith("ReadTimeout")) == (False, True, True)
    account.base_url = f"http://127.0.0.1:{free_port()}"
    account.save()
    refused = provider(account).send_one(message())
    assert (refused.ok, refused.transient, refused.error.startswith("ConnectError")) == (
        False,
        True,
        True,
    )


@pytest.mark.parametrize(("reuse", "connections"), [(True, 1), (False, 20)])
def test_connection_reuse(
    account: ChannelAccount, fake: FakeTelegram, reuse: bool, connections: int
) -> None:
    live = provider(account, reuse=reuse)
    results = [live.send_one(message(f"Message {n}")) for n in range(20)]
    live.close()
    assert [r.provider_id for r in results] == [str(101 + n) for n in range(20)]
    assert fake.connections == connections


def test_set_webhook_sends_the_url_and_the_secret(
    account: ChannelAccount, fake: FakeTelegram, settings: Any
) -> None:
    settings.TOUCHFLOW_PUBLIC_URL = "https://touchflow.example"
    assert provider(account).set_webhook() == SendResult.sent("")
    assert fake.webhook == {
        "url": f"https://touchflow.example/hooks/telegram/{account.webhook_key}/",
        "secret_token": SECRET,
        "allowed_updates": ["message", "callback_query", "my_chat_member"],
    }


# -- the webhook: who may post ---------------------------------------------------------------


@pytest.mark.parametrize(("secret", "status"), [(None, 401), ("wrong", 403), ("", 403)])
def test_missing_or_wrong_secret_changes_nothing(
    client: Client, account: ChannelAccount, fake: FakeTelegram, secret: str | None, status: int
) -> None:
    point = linked(client, account, fake, "")
    response = hook(client, account, tg.message_update(2, CHAT, "STOP"), secret=secret)
    assert response.status_code == status
    point.refresh_from_db()
    assert (point.contact_consent, point.marketing_consent) == (True, True)
    assert InboundEvent.objects.filter(event_id="2").exists() is False
    assert not TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN).exists()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"message": {"text": "hi"}}',
        b'{"update_id": "7", "message": {}}',
        b'{"update_id": 7, "message": {"text": "hi"}}',
        b'{"update_id": 7, "message": {"chat": {"id": 1}, "text": "hi", "date": 1e300}}',
        b'{"update_id": 7, "message": {"chat": {"id": 1}, "text": "hi",'
        b' "date": 99999999999999999999}}',
        b'{"update_id": 7, "callback_query": {"id": "1", "data": "stop"}}',
        b'{"update_id": 7, "my_chat_member": {"chat": {"id": 1}}}',
        b'{"update_id": 7, "message": "hello"}',
    ],
)
def test_malformed_updates_are_400_never_500(
    client: Client, account: ChannelAccount, body: bytes
) -> None:
    response = hook(client, account, body)
    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert not InboundEvent.objects.exists()


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "chat", "date", "text", "from", "data", "status",
                         "new_chat_member", "message", "first_name"]), inner, max_size=4),
    max_leaves=8,
)


@settings(derandomize=True, database=None, deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["message", "callback_query", "my_chat_member"]), value=_json,
       update_id=st.one_of(st.integers(), st.text(max_size=3)))
def test_any_update_shape_is_read_or_refused_never_a_500(
    client: Client, account: ChannelAccount, kind: str, value: Any, update_id: Any
) -> None:
    """The Update is parsed into typed shapes at the edge: whatever the JSON under a
    kind we read, the webhook answers 200 (read) or 400 (refused, naming the field)."""
    body = json.dumps({"update_id": update_id, kind: value}).encode()
    response = hook(client, account, body)
    assert response.status_code in (200, 400), response.content


def test_updates_we_do_not_act_on_are_taken_in(client: Client, account: ChannelAccount) -> None:
    sticker = json.dumps(
        {
            "update_id": 9,
            "message": {
                "message_id": 1,
                "chat": {"id": CHAT, "type": "private"},
                "date": tg.DATE,
                "sticker": {"file_id": "x"},
            },
        }
    )
    assert hook(client, account, sticker).status_code == 200
    edited = json.dumps({"update_id": 10, "edited_message": {"message_id": 1}})
    assert hook(client, account, edited).json() == {"ok": True, "applied": 0, "duplicates": 0}


# -- /start with the counter's QR token -----------------------------------------------------


def visit_with_token(store: Store, staff: Staff, token: str) -> Customer:
    visit, _created = log_visit(
        store=store,
        actor=Actor(source="counter", staff=staff),
        bought=False,
        reason="just_looking",
        contact_capture="taken",
        contacts=[check_contact("phone", "501 234 567", region="PL")],
        name="Anna Nowak",
        consent=ConsentGrant(contact=True),
        optin_token=token,
    )
    assert visit.customer is not None
    return visit.customer


def linked(client: Client, account: ChannelAccount, fake: FakeTelegram, token: str) -> ContactPoint:
    """A chat linked through a QR token (a fresh one when ``token`` is empty)."""
    if not token:
        token = create_optin_token(account.store, None, channel="telegram").token
    assert hook(client, account, tg.message_update(1, CHAT, f"/start {token}")).status_code == 200
    return ContactPoint.objects.get(kind="telegram", value=str(CHAT))


def test_start_with_a_token_links_the_chat_to_the_visit_customer(
    client: Client, account: ChannelAccount, fake: FakeTelegram, store: Store, salesperson: Staff
) -> None:
    token = create_optin_token(store, salesperson, channel="telegram")
    customer = visit_with_token(store, salesperson, token.token)
    response = hook(client, account, tg.message_update(1, CHAT, f"/start {token.token}"))
    assert response.json() == {"ok": True, "applied": 1, "duplicates": 0}
    point = ContactPoint.objects.get(kind="telegram")
    assert (point.customer_id, point.network, point.value) == (customer.pk, "", str(CHAT))
    assert (point.contact_consent, point.marketing_consent) == (True, True)
    assert sorted(
        ConsentEvent.objects.filter(contact_point=point).values_list("purpose", "granted", "source")
    ) == [("contact", True, "qr"), ("marketing", True, "qr")]
    assert fake.messages() == []  # the webhook answered without waiting for Telegram
    assert deliver() == 1
    assert fake.messages() == [{"chat_id": str(CHAT), "text": WELCOME}]
    token.refresh_from_db()
    assert token.redeemed_at is not None


def test_a_chat_that_scans_first_becomes_a_customer_its_store_sees_by_name(
    client: Client, account: ChannelAccount, fake: FakeTelegram, store: Store
) -> None:
    point = linked(client, account, fake, "")
    customer = point.customer
    assert (customer.name, customer.home_store_id) == ("Anna Nowak", store.pk)
    assert names_of([customer], frozenset({store.pk})) == {customer.pk: "Anna Nowak"}
    assert list(TimelineEvent.objects.filter(customer=customer).values_list("kind", flat=True)
                .order_by("id")[:2]) == [EventKind.CUSTOMER_CREATED, EventKind.CONTACT_ADDED]


@pytest.mark.parametrize("form", ["/start {}", "/start@touchflow_bot {}", "  /start\t{} "])
def test_start_in_its_other_forms(
    client: Client, account: ChannelAccount, fake: FakeTelegram, form: str
) -> None:
    token = create_optin_token(account.store, None, channel="telegram").token
    hook(client, account, tg.message_update(1, CHAT, form.format(token)))
    assert ContactPoint.objects.get(kind="telegram").value == str(CHAT)


def test_a_command_that_merely_starts_like_start_is_a_reply(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    linked(client, account, fake, "")
    hook(client, account, tg.message_update(2, CHAT, "/started"))
    assert TimelineEvent.objects.get(kind=EventKind.MESSAGE_IN).data["text"] == "/started"


def test_start_twice_in_the_same_chat_is_answered_without_a_second_consent(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    token = create_optin_token(account.store, None, channel="telegram").token
    point = linked(client, account, fake, token)
    hook(client, account, tg.message_update(2, CHAT, f"/start {token}"))
    assert ConsentEvent.objects.filter(contact_point=point).count() == 2
    deliver()
    assert fake.texts(CHAT) == [WELCOME, WELCOME]


def test_expired_token_links_nothing_and_says_so(
    client: Client, account: ChannelAccount, fake: FakeTelegram, store: Store
) -> None:
    old = create_optin_token(
        store, None, channel="telegram", at=core_clock.now() - timedelta(hours=73)
    )
    hook(client, account, tg.message_update(1, CHAT, f"/start {old.token}"))
    assert not ContactPoint.objects.filter(kind="telegram").exists()
    deliver()
    assert fake.texts(CHAT) == [SORRY]


def test_a_used_token_does_not_link_a_second_chat(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    token = create_optin_token(account.store, None, channel="telegram").token
    first = linked(client, account, fake, token)
    fake.chats.add(777)
    hook(client, account, tg.message_update(2, 777, f"/start {token}"))
    assert list(ContactPoint.objects.filter(kind="telegram")) == [first]
    deliver()
    assert fake.texts(777) == [SORRY]


def test_a_token_for_another_channel_is_not_redeemed(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    token = create_optin_token(account.store, None, channel="viber").token
    hook(client, account, tg.message_update(1, CHAT, f"/start {token}"))
    assert not ContactPoint.objects.filter(kind="telegram").exists()
    deliver()
    assert fake.texts(CHAT) == [SORRY]


# -- replies, STOP, blocking ---------------------------------------------------------------


def test_a_reply_lands_on_the_customer_timeline(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    point = linked(client, account, fake, "")
    response = hook(client, account, tg.message_update(2, CHAT, "Is the blue sofa in stock?"))
    assert response.json() == {"ok": True, "applied": 1, "duplicates": 0}
    event = TimelineEvent.objects.get(kind=EventKind.MESSAGE_IN)
    assert (event.customer_id, event.store_id, event.at, event.data) == (
        point.customer_id,
        account.store_id,
        datetime.fromtimestamp(tg.DATE, UTC),
        {"channel": "telegram", "text": "Is the blue sofa in stock?", "from": str(CHAT)},
    )
    point.refresh_from_db()
    assert point.last_inbound_at == datetime.fromtimestamp(tg.DATE, UTC)
    deliver()
    assert fake.texts(CHAT) == [WELCOME]  # nothing said back to a reply


def test_the_same_update_twice_is_applied_once(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    linked(client, account, fake, "")
    body = tg.message_update(2, CHAT, "Thanks!")
    assert hook(client, account, body).json()["applied"] == 1
    assert hook(client, account, body).json() == {"ok": True, "applied": 0, "duplicates": 1}
    assert TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN).count() == 1


@pytest.mark.parametrize("word", ["STOP", "СТОП", "wypisz", " Stop! "])
def test_stop_words_withdraw_consent_and_confirm(
    client: Client, account: ChannelAccount, fake: FakeTelegram, word: str
) -> None:
    point = linked(client, account, fake, "")
    hook(client, account, tg.message_update(2, CHAT, word))
    point.refresh_from_db()
    assert (point.contact_consent, point.marketing_consent) == (False, False)
    assert sorted(
        ConsentEvent.objects.filter(contact_point=point, granted=False).values_list(
            "purpose", "source"
        )
    ) == [("contact", "customer"), ("marketing", "customer")]
    deliver()
    assert fake.texts(CHAT) == [WELCOME, STOPPED]
    # The STOP is on the timeline as what it is, not as a reply to answer.
    [row] = TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN)
    assert (row.store_id, row.data) == (
        account.store_id, {"channel": "telegram", "text": word, "stop": "text", "chains": 0})


def test_a_sentence_with_stop_in_it_is_a_reply(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    point = linked(client, account, fake, "")
    hook(client, account, tg.message_update(2, CHAT, "Don't stop the delivery please"))
    point.refresh_from_db()
    assert point.contact_consent is True
    assert TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN).count() == 1


def test_the_stop_button_withdraws_consent_and_answers_the_callback(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    point = linked(client, account, fake, "")
    response = hook(client, account, tg.callback_update(2, CHAT, "stop", query_id="q-77"))
    assert response.status_code == 200
    point.refresh_from_db()
    assert (point.contact_consent, point.marketing_consent) == (False, False)
    assert [r.json() for r in fake.sent("/answerCallbackQuery")] == [{"callback_query_id": "q-77"}]
    deliver()
    assert fake.texts(CHAT) == [WELCOME, STOPPED]


def test_a_quick_reply_button_is_a_reply(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    linked(client, account, fake, "")
    hook(client, account, tg.callback_update(2, CHAT, "Call me"))
    event = TimelineEvent.objects.get(kind=EventKind.MESSAGE_IN)
    assert event.data == {"channel": "telegram", "text": "Call me", "from": str(CHAT)}


def test_blocking_the_bot_withdraws_consent_silently(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    point = linked(client, account, fake, "")
    hook(client, account, tg.my_chat_member_update(2, CHAT, "kicked"))
    point.refresh_from_db()
    assert (point.contact_consent, point.marketing_consent) == (False, False)
    deliver()
    assert fake.texts(CHAT) == [WELCOME]


def test_unblocking_changes_nothing(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    point = linked(client, account, fake, "")
    hook(client, account, tg.my_chat_member_update(2, CHAT, "member"))
    point.refresh_from_db()
    assert point.contact_consent is True


def test_stop_from_an_unknown_chat_is_answered_politely(
    client: Client, account: ChannelAccount, fake: FakeTelegram
) -> None:
    hook(client, account, tg.message_update(2, CHAT, "STOP"))
    deliver()
    assert fake.texts(CHAT) == ["You will not get messages from us."]
    assert not ContactPoint.objects.exists()


# -- check-ins (issue 10) -----------------------------------------------------------------


def test_a_check_in_on_telegram_shows_its_answers_as_buttons_and_a_tap_answers_it(
    client: Client, account: ChannelAccount, fake: FakeTelegram, store: Store,
    salesperson: Staff, flows: Any, clock: Any,
) -> None:
    from touchflow.aftercare.models import CheckInAnswer
    from touchflow.delivery.dispatcher import Dispatcher
    from touchflow.messaging.outbound import AccountChannel

    log_visit(store=store, actor=Actor(source="counter", staff=salesperson), bought=True,
              contact_capture="taken", name="Юлия", language="ru",
              consent=ConsentGrant(contact=True),
              contacts=[check_contact("telegram", str(CHAT), region=None)])
    clock.advance(days=4)
    dispatcher = Dispatcher({"telegram": AccountChannel("telegram")}, now=clock.now)
    dispatcher.drain()
    dispatcher.close()
    asked = next(m for m in fake.messages() if "покупк" in m["text"])
    labels = [row[0]["text"] for row in asked["reply_markup"]["inline_keyboard"]]
    assert labels == ["Да, всё хорошо", "Нет, есть проблема", "Отписаться"]
    assert "/r/" not in asked["text"]  # buttons, not a link
    clock.advance(hours=1)
    no = asked["reply_markup"]["inline_keyboard"][1][0]["callback_data"]
    assert hook(client, account, tg.callback_update(9, CHAT, no)).status_code == 200
    answer = CheckInAnswer.objects.get()
    assert (answer.value, answer.mood, answer.via) == (0, "unhappy", "telegram")
