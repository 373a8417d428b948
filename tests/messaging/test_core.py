"""The provider-independent half of channels: credentials at rest, the webhook
endpoint, STOP against touches a worker already holds, receipts, idempotency."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import Client

from tests.delivery.conftest import Clock
from tests.messaging.conftest import deliver
from tests.messaging.fakes.base import Answer, FakeProvider, running
from tests.servers import Sink
from touchflow.core.errors import InvalidInput
from touchflow.customers.models import ConsentEvent, ContactPoint
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch
from touchflow.flows.models import Flow
from touchflow.messaging import accounts, crypto, inbound
from touchflow.messaging.models import ChannelAccount
from touchflow.messaging.providers.base import Receipt, Text
from touchflow.messaging.stopwords import stop_request
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

pytestmark = pytest.mark.django_db

STOPPED_PL = (
    "Gotowe: nie będziemy już tu do Ciebie pisać, Warsaw Centre zakończył wysyłanie Ci "
    "wiadomości i nie dostaniesz od nas ofert żadnym kanałem. Aby znów otrzymywać nasze "
    "wiadomości, zeskanuj kod przy kasie w Warsaw Centre lub zapytaj nasz personel."
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class MiniTelegram(FakeProvider):
    """Just enough Bot API for the core's tests (tests/messaging/fakes/telegram.py is
    the full one)."""

    def __init__(self) -> None:
        super().__init__()
        ids = itertools.count(100)
        self.routes[("POST", "/bot")] = lambda r: Answer(
            200, {"ok": True, "result": {"message_id": next(ids), "chat": r.json()["chat_id"]}}
        )

    def texts(self) -> list[tuple[str, str]]:
        return [(str(r.json()["chat_id"]), r.json()["text"]) for r in self.sent("/sendMessage")]


@pytest.fixture
def telegram(
    make_account: Callable[..., ChannelAccount],
) -> Iterator[tuple[MiniTelegram, ChannelAccount]]:
    fake = MiniTelegram()
    with running(fake) as url:
        account = make_account("telegram", url, {"token": "123:abc", "secret_token": "s3"},
                               handle="shop_bot")
        yield fake, account


def chat_of(visit: Visit, chat: str = "7001") -> ContactPoint:
    """The visit's customer opened the bot: a telegram chat with consent."""
    return ContactPoint.objects.create(
        customer_id=visit.customer_id, kind="telegram", value=chat, contact_consent=True,
        marketing_consent=True, created_at=visit.occurred_at,
    )


def stop_while_held(text: str, cfg_of: ChannelAccount) -> type[Dispatcher]:
    """A dispatcher into whose hands the STOP arrives: after it claimed the batch, right
    before the touches are judged and let go."""

    class Interrupted(Dispatcher):
        def _admit(self, group):  # type: ignore[no-untyped-def]
            if group:
                cfg = accounts.config(cfg_of)
                inbound.apply(cfg, [Text("stop-1", "7001", text)])
            return super()._admit(group)

    return Interrupted


# -- credentials --------------------------------------------------------------------


def test_credentials_are_sealed_at_rest_and_open_only_with_the_key(
    make_account: Callable[..., ChannelAccount], settings: object
) -> None:
    account = make_account("telegram", credentials={"token": "123:very-secret-token"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT sealed_credentials FROM messaging_channelaccount WHERE id = %s",
                       [account.pk])
        raw = cursor.fetchone()[0]
    assert "very-secret" not in raw and raw
    stored = ChannelAccount.objects.get(pk=account.pk)
    assert stored.credentials == {"token": "123:very-secret-token"}

    old_key = crypto.new_key()
    settings.TOUCHFLOW_CREDENTIALS_KEY = old_key  # type: ignore[attr-defined]
    account.credentials = {"token": "rotated"}
    account.save()
    new_key = crypto.new_key()
    settings.TOUCHFLOW_CREDENTIALS_KEY = f"{new_key},{old_key}"  # type: ignore[attr-defined]
    assert ChannelAccount.objects.get(pk=account.pk).credentials == {"token": "rotated"}
    settings.TOUCHFLOW_CREDENTIALS_KEY = new_key  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as refused:
        ChannelAccount.objects.get(pk=account.pk).credentials  # noqa: B018
    assert refused.value.field == "credentials"


def test_a_webhook_for_no_account_is_404_and_a_get_without_handshake_405(
    client: Client, telegram: tuple[MiniTelegram, ChannelAccount]
) -> None:
    assert client.post("/hooks/telegram/nope/", data="{}", content_type="application/json"
                       ).status_code == 404
    assert client.get(telegram[1].webhook_path()).status_code == 405


# -- STOP ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stops", "everywhere"),
    [
        ("STOP", True, False), ("stop!", True, False), ("СТОП", True, False),
        ("Отписаться", True, False), ("wypisz", True, False), ("Wypisz mnie.", True, False),
        ("stop all", True, True), ("СТОП всё", True, True), ("wypisz wszystko", True, True),
        ("please don't stop the deliveries", False, False), ("stopka", False, False),
        ("", False, False),
    ],
)
def test_stop_words_in_every_language(text: str, stops: bool, everywhere: bool) -> None:
    assert stop_request(text) == (stops, everywhere)


def test_stop_on_one_channel_ends_the_chain_for_a_touch_a_worker_already_holds(
    type3_visit: Callable[..., Visit], flows: dict[str, Flow], clock: Clock,
    sink: tuple[Sink, str], telegram: tuple[MiniTelegram, ChannelAccount],
) -> None:
    fake, account = telegram
    visit = type3_visit()
    chat_of(visit)
    clock.move_to(utc(2026, 6, 2, 15, 0))
    dispatcher_class = stop_while_held("STOP", account)
    from touchflow.messaging.outbound import from_settings

    dispatcher = dispatcher_class(from_settings(f"sms={sink[1]}", accounts=True), now=clock.now)
    dispatcher.run_round()
    # Nothing reached Telegram: the confirmation waits for the worker's chore.
    assert fake.texts() == []
    touch = Touch.objects.get(step__key="thank-you")
    assert (touch.state, touch.reason) == ("cancelled", "opt_out")
    # No SMS takes over from Telegram (before issue 13 it did, minutes later).
    clock.move_to(utc(2026, 6, 30, 12, 0))
    dispatcher.drain()
    assert sink[0].received == []
    deliver()
    assert fake.texts() == [("7001", STOPPED_PL)]
    dispatcher.close()


def test_stop_everywhere_cancels_a_held_touch_and_nothing_is_sent_after(
    type3_visit: Callable[..., Visit], flows: dict[str, Flow], clock: Clock,
    sink: tuple[Sink, str], telegram: tuple[MiniTelegram, ChannelAccount],
) -> None:
    fake, account = telegram
    visit = type3_visit()
    chat_of(visit)
    clock.move_to(utc(2026, 6, 2, 15, 0))
    from touchflow.messaging.outbound import from_settings

    dispatcher = stop_while_held("СТОП всё", account)(
        from_settings(f"sms={sink[1]}", accounts=True), now=clock.now
    )
    dispatcher.run_round()
    deliver()
    assert [t for _c, t in fake.texts()] == [
        "Gotowe: nie będziemy już do Ciebie pisać żadnym kanałem. Aby znów otrzymywać nasze "
        "wiadomości, zeskanuj kod przy kasie w Warsaw Centre lub zapytaj nasz personel."
    ]
    touch = Touch.objects.get(step__key="thank-you")
    assert (touch.state, touch.reason) == ("cancelled", "opt_out")
    assert not ContactPoint.objects.filter(customer_id=visit.customer_id,
                                           contact_consent=True).exists()
    clock.move_to(utc(2026, 6, 30, 12, 0))
    assert dispatcher.drain().outcomes.get("sent", 0) == 0
    assert sink[0].received == []
    assert len(fake.texts()) == 1
    withdrawn = ConsentEvent.objects.filter(customer_id=visit.customer_id, granted=False)
    assert {e.source for e in withdrawn} == {"customer"}
    dispatcher.close()


# -- replies, receipts, duplicates ---------------------------------------------------


def test_a_reply_lands_on_the_timeline_once_however_often_the_webhook_comes(
    type3_visit: Callable[..., Visit], telegram: tuple[MiniTelegram, ChannelAccount],
    clock: Clock,
) -> None:
    visit = type3_visit()
    point = chat_of(visit)
    cfg = accounts.config(telegram[1])
    first = inbound.apply(cfg, [Text("u-9", "7001", "Do you have it in blue?")])
    again = inbound.apply(cfg, [Text("u-9", "7001", "Do you have it in blue?")])
    assert (first.applied, first.duplicates, again.applied, again.duplicates) == (1, 0, 0, 1)
    rows = TimelineEvent.objects.filter(kind="message_in", customer_id=visit.customer_id)
    assert [(r.data["channel"], r.data["text"]) for r in rows] == [
        ("telegram", "Do you have it in blue?")
    ]
    point.refresh_from_db()
    assert point.last_inbound_at == clock.now()


def test_a_permanent_failure_receipt_sends_the_step_again_on_the_next_channel(
    type3_visit: Callable[..., Visit], flows: dict[str, Flow], clock: Clock,
    sink: tuple[Sink, str], telegram: tuple[MiniTelegram, ChannelAccount],
) -> None:
    fake, account = telegram
    visit = type3_visit()
    chat_of(visit)
    clock.move_to(utc(2026, 6, 2, 15, 0))
    from touchflow.messaging.outbound import from_settings

    dispatcher = Dispatcher(from_settings(f"sms={sink[1]}", accounts=True), now=clock.now)
    dispatcher.run_round()
    touch = Touch.objects.get(step__key="thank-you")
    assert (touch.state, touch.channel, touch.provider_message_id) == ("sent", "telegram", "100")
    cfg = accounts.config(account)
    assert inbound.apply(cfg, [Receipt("r1", "100", "delivered")]).outcomes == ["delivered"]
    assert inbound.apply(cfg, [Receipt("r0", "100", "failed", "late")]).outcomes == [
        "stale_receipt"
    ]
    touch.refresh_from_db()
    assert touch.receipt == "delivered"
    # A second message that fails for good falls back to SMS.
    Touch.objects.filter(pk=touch.pk).update(receipt="", provider_message_id="100")
    outcome = inbound.apply(cfg, [Receipt("r2", "100", "failed", "blocked", permanent=True)])
    assert outcome.outcomes == ["fallback"]
    touch.refresh_from_db()
    assert (touch.state, touch.failed_channels, touch.reason) == ("queued", "telegram", "fallback")
    dispatcher.run_round()
    touch.refresh_from_db()
    assert (touch.state, touch.channel) == ("sent", "sms")
    assert len(sink[0].received) == 1
    dispatcher.close()


def test_an_unknown_sender_gets_no_timeline_and_a_stop_from_one_is_answered_politely(
    telegram: tuple[MiniTelegram, ChannelAccount],
) -> None:
    fake, account = telegram
    cfg = accounts.config(account)
    assert inbound.apply(cfg, [Text("a", "555", "hello")]).outcomes == ["unknown_sender"]
    assert inbound.apply(cfg, [Text("b", "555", "STOP")]).outcomes == ["unknown_sender"]
    assert TimelineEvent.objects.count() == 0
    assert fake.texts() == []
    deliver()
    assert fake.texts() == [("555", "Nie będziesz dostawać od nas wiadomości.")]




# -- the counter's QR link per messenger ----------------------------------------------


def test_the_qr_opens_the_first_messenger_the_store_has_a_bot_for(
    make_account: Callable[..., ChannelAccount], make_store: Callable[..., Store],
    salesperson: Staff,
) -> None:
    from touchflow.customers.actions import create_optin_token
    from touchflow.messaging.optin_links import link, qr_channel

    plain = make_store(telegram_bot="")
    assert qr_channel(plain) is None
    viber_store = make_store(telegram_bot="")
    make_account("viber", handle="shopchat", for_store=viber_store)
    assert qr_channel(viber_store) == "viber"
    token = create_optin_token(viber_store, salesperson, channel="viber")
    assert link(token) == f"viber://pa?chatURI=shopchat&context={token.token}"
    wa_store = make_store(telegram_bot="")
    make_account("whatsapp", handle="+48 500 100 200", for_store=wa_store)
    token = create_optin_token(wa_store, salesperson, channel="whatsapp")
    assert link(token) == f"https://wa.me/48500100200?text=START%20{token.token}"
    bot_store = make_store(telegram_bot="")
    make_account("telegram", handle="@shop_bot", for_store=bot_store)
    make_account("viber", handle="shopchat", for_store=bot_store)
    token = create_optin_token(bot_store, salesperson)
    assert (qr_channel(bot_store), link(token)) == (
        "telegram", f"https://t.me/shop_bot?start={token.token}"
    )


def test_a_stores_bot_is_not_given_a_username_it_cannot_write_to(
    type3_visit: Callable[..., Visit], flows: dict[str, Flow], clock: Clock,
    sink: tuple[Sink, str], telegram: tuple[MiniTelegram, ChannelAccount],
) -> None:
    """A typed @username is no address for the store's own Telegram bot (only a chat
    that opened it is): the step falls back to SMS instead of failing at Telegram."""
    fake, _account = telegram
    visit = type3_visit()
    ContactPoint.objects.create(customer_id=visit.customer_id, kind="telegram",
                                value="@anna_nowak", contact_consent=True,
                                created_at=visit.occurred_at)
    clock.move_to(utc(2026, 6, 2, 15, 0))
    from touchflow.messaging.outbound import from_settings

    dispatcher = Dispatcher(from_settings(f"sms={sink[1]};telegram=null:", accounts=True),
                            now=clock.now)
    dispatcher.run_round()
    dispatcher.close()
    touch = Touch.objects.get(step__key="thank-you")
    assert (touch.state, touch.channel) == ("sent", "sms")
    assert fake.texts() == []
