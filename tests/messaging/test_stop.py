"""Issue 13: a STOP holds. Whatever way it comes (a word in Telegram, the unsubscribe
link), it ends the customer's chains at the store that received it, withdraws marketing
consent on every channel and the contact on its own channel; nothing follows by SMS or
e-mail. Its confirmation is a queued notice the worker sends, retried when the provider
refuses, recorded however it ends; the webhook never waits for it. Staff can still
answer what the customer writes later.

The rule for other stores: their chains go on (one person is one customer of several
stores, and a STOP written to one shop's bot is not a word to the next one), but none
of their offers can reach the customer any more, since marketing consent is gone on
every contact point.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.test import Client
from typer.testing import CliRunner

from tests.delivery.conftest import Clock
from tests.messaging.conftest import deliver, post_hook
from tests.messaging.fakes import telegram as tg
from tests.messaging.fakes.base import Answer, running
from tests.messaging.fakes.telegram import FakeTelegram
from tests.servers import Sink, SmtpInbox
from touchflow.cli import build_app
from touchflow.core import clock as core_clock
from touchflow.core.errors import InvalidInput
from touchflow.customers.models import ContactPoint, Customer
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.enrollments import enroll
from touchflow.delivery.models import Touch
from touchflow.delivery.render import unsubscribe_token
from touchflow.delivery.retry import RetryPolicy
from touchflow.flows.models import Enrollment, Flow
from touchflow.messaging import accounts, notices
from touchflow.messaging.models import ChannelAccount, Notice
from touchflow.messaging.outbound import from_settings
from touchflow.messaging.replies import reply, routes
from touchflow.privacy.actor import Requester
from touchflow.privacy.erase import erase_customer
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

pytestmark = pytest.mark.django_db

SECRET = "stop-secret-token"
CHAT = 5550002
STOPPED_EN = (
    "Done: we will not write to you here any more, Warsaw Centre has ended its messages to "
    "you, and you will get no offers from us on any channel. To hear from us again, scan "
    "the code at the counter of Warsaw Centre or ask our staff."
)
STOPPED_RU = (
    "Готово: мы больше не будем писать вам здесь, Warsaw Centre завершил рассылки для вас, "
    "и предложений от нас не будет ни по одному каналу. Чтобы снова получать наши "
    "сообщения, отсканируйте код у кассы Warsaw Centre или спросите наших сотрудников."
)


@pytest.fixture
def fake() -> FakeTelegram:
    fake = FakeTelegram()
    fake.chats.add(CHAT)
    return fake


@pytest.fixture
def account(make_account: Callable[..., ChannelAccount], fake: FakeTelegram,
            store: Store) -> Iterator[ChannelAccount]:
    with running(fake) as url:
        yield make_account("telegram", url, {"token": fake.token, "secret_token": SECRET},
                           handle="warsaw_bot")


@pytest.fixture
def krakow(make_store: Callable[..., Store]) -> Store:
    return make_store(name="Kraków", slug="krakow")


@pytest.fixture
def anna(type3_visit: Callable[..., Visit], flows: dict[str, Flow], krakow: Store,
         clock: Clock) -> Customer:
    """A customer of two stores: in Warsaw's warming chain (her visit there), in
    Kraków's loyalty chain, with offers allowed on her phone and e-mail and a Telegram
    chat with Warsaw's bot, and speaking English."""
    visit = type3_visit(email="anna@example.pl", marketing=True)
    customer = Customer.objects.get(pk=visit.customer_id)
    Customer.objects.filter(pk=customer.pk).update(language="en")
    ContactPoint.objects.create(customer=customer, kind="telegram", value=str(CHAT),
                                contact_consent=True, marketing_consent=True,
                                created_at=clock.now())
    assert enroll(flows["loyalty"], customer, store=krakow, at=clock.now()) is not None
    return customer


@pytest.fixture
def dispatcher(sink: tuple[Sink, str], smtp: tuple[SmtpInbox, str],
               clock: Clock) -> Iterator[Dispatcher]:
    made = Dispatcher(from_settings(f"sms={sink[1]};email={smtp[1]}", accounts=True),
                      now=clock.now)
    yield made
    made.close()


def hook(client: Client, account: ChannelAccount, body: bytes) -> Any:
    return post_hook(client, account, body, **{"X-Telegram-Bot-Api-Secret-Token": SECRET})


def stop_in_telegram(client: Client, account: ChannelAccount, update: int = 1) -> None:
    response = hook(client, account, tg.message_update(update, CHAT, "STOP"))
    assert response.json() == {"ok": True, "applied": 1, "duplicates": 0}


def stop_by_link(client: Client, account: ChannelAccount, update: int = 1) -> None:
    customer_id = ContactPoint.objects.get(kind="telegram").customer_id
    token = unsubscribe_token(customer_id, "email", account.store_id)
    assert Client(enforce_csrf_checks=True).post(f"/u/{token}").status_code == 200


def run_worker(dispatcher: Dispatcher, clock: Clock, days: int) -> None:
    """The worker every other day (steps expire after 3) for ``days``: its chore (the
    notices), then its rounds."""
    for _day in range(0, days, 2):
        deliver()
        dispatcher.drain()
        clock.advance(days=2)


def points(customer: Customer) -> dict[str, tuple[bool | None, bool | None]]:
    return {p.kind: (p.contact_consent, p.marketing_consent)
            for p in ContactPoint.objects.filter(customer=customer)}


# -- what a STOP means ------------------------------------------------------------------


@pytest.mark.parametrize("stop", [stop_in_telegram, stop_by_link], ids=["telegram", "link"])
def test_a_stop_ends_the_stores_chains_and_no_offer_follows_on_any_channel(
    client: Client, account: ChannelAccount, anna: Customer, store: Store, krakow: Store,
    dispatcher: Dispatcher, sink: tuple[Sink, str], clock: Clock,
    stop: Callable[[Client, ChannelAccount], None],
) -> None:
    stop(client, account)
    channel = "telegram" if stop is stop_in_telegram else "email"
    expected = {kind: (True, False) for kind in ("phone", "email", "telegram")}
    expected[channel] = (False, False)
    assert points(anna) == expected
    warsaw, = Enrollment.objects.filter(customer=anna, store=store)
    assert (warsaw.state, warsaw.end_reason) == ("exited", "opt_out")
    assert Enrollment.objects.get(customer=anna, store=krakow).state == "active"

    run_worker(dispatcher, clock, days=140)  # past the last step of both chains
    # Nothing more from Warsaw, on any channel: the SMS fallback of before is gone.
    assert set(Touch.objects.filter(store=store).values_list("state", "reason")) == {
        ("cancelled", "opt_out")}
    assert sink[0].received == []
    # Kraków's chain went on, but its offer found no one who may receive offers.
    assert Enrollment.objects.get(customer=anna, store=krakow).state != "exited"
    assert not Touch.objects.filter(customer=anna, commercial=True, state="sent").exists()
    offer = Touch.objects.get(store=krakow, step__key="anniversary-offer")
    # (By link, the e-mail itself may not be written to any more: it is its first channel.)
    reason = "no_marketing_consent" if stop is stop_in_telegram else "no_consent"
    assert (offer.state, offer.reason) == ("skipped", reason)
    # The STOP is on the timeline, with the chains it ended.
    row = TimelineEvent.objects.get(customer=anna, kind=EventKind.MESSAGE_IN)
    assert (row.store_id, row.data["stop"], row.data["chains"]) == (
        store.pk, "text" if stop is stop_in_telegram else "link", 1)


def test_kraków_service_messages_still_reach_contacts_with_consent(
    client: Client, account: ChannelAccount, anna: Customer, krakow: Store,
    dispatcher: Dispatcher, smtp: tuple[SmtpInbox, str], clock: Clock,
) -> None:
    stop_in_telegram(client, account)
    run_worker(dispatcher, clock, days=50)
    sent = Touch.objects.filter(customer=anna, state="sent")
    assert sorted(sent.values_list("store_id", "step__key", "channel")) == [
        (krakow.pk, "care-tips", "email"), (krakow.pk, "referral", "email")]
    assert len(smtp[0].messages) == 2


def test_stop_in_telegram_is_confirmed_in_the_customers_language_by_the_worker(
    client: Client, account: ChannelAccount, anna: Customer, fake: FakeTelegram,
) -> None:
    Customer.objects.filter(pk=anna.pk).update(language="ru")
    stop_in_telegram(client, account)
    assert fake.requests == []  # the webhook answered; nothing was sent yet
    notice = Notice.objects.get()
    assert (notice.kind, notice.state, notice.attempts, notice.language, notice.address) == (
        "stop", "queued", 0, "ru", str(CHAT))
    assert deliver() == 1
    assert fake.texts(CHAT) == [STOPPED_RU]
    # The same STOP again (Telegram retries its webhook): nothing new is queued.
    hook(Client(), account, tg.message_update(1, CHAT, "STOP"))
    assert deliver() == 0
    assert Notice.objects.count() == 1


def test_staff_see_the_stop_on_the_timeline(
    client: Client, account: ChannelAccount, anna: Customer, manager: Staff,
) -> None:
    stop_in_telegram(client, account)
    deliver()
    client.force_login(manager)
    page = client.get(f"/customers/{anna.pk}/").content.decode()
    assert "Customer asked to stop (Telegram)" in page
    assert "STOP · chains ended: 1; no offers on any channel" in page
    assert STOPPED_EN in page  # the confirmation, as sent


def test_erasing_the_customer_erases_their_notices(
    client: Client, account: ChannelAccount, anna: Customer,
) -> None:
    stop_in_telegram(client, account)
    erase_customer(anna.pk, Requester.cli())
    assert not Notice.objects.exists()


def test_the_webhook_does_not_wait_for_a_stalled_provider(
    client: Client, account: ChannelAccount, anna: Customer, fake: FakeTelegram,
) -> None:
    # Telegram would hold the next request for a minute; the webhook must not make one.
    fake.fail_next(Answer(200, {"ok": True, "result": {"message_id": 1}}, delay=60.0))
    stop_in_telegram(client, account)
    assert fake.requests == []
    assert Notice.objects.get().state == "queued"


# -- a refused confirmation is retried and recorded ---------------------------------------


def test_a_confirmation_refused_with_500_then_429_is_retried_and_ends_sent(
    client: Client, account: ChannelAccount, anna: Customer, fake: FakeTelegram,
    clock: Clock,
) -> None:
    fake.fail_next(tg.server_error(), tg.too_many_requests(17))
    stop_in_telegram(client, account)
    assert deliver() == 1
    notice = Notice.objects.get()
    assert (notice.state, notice.attempts, notice.last_error) == (
        "queued", 1, "Telegram 502: Bad Gateway")
    assert deliver() == 0  # backing off: not due again yet
    clock.advance(hours=1)
    assert deliver() == 1
    notice.refresh_from_db()
    assert (notice.state, notice.attempts, notice.last_error) == (
        "queued", 2, "Telegram 429: Too Many Requests: retry after 17")
    clock.advance(hours=1)
    assert deliver() == 1
    notice.refresh_from_db()
    assert (notice.state, notice.attempts, notice.last_error) == ("sent", 3, "")
    assert fake.texts(CHAT) == [STOPPED_EN] * 3  # two refused, the third taken
    row = TimelineEvent.objects.get(customer=anna, kind=EventKind.MESSAGE_OUT)
    assert (row.store_id, row.staff_id, row.data["text"], row.data["notice"]) == (
        account.store_id, None, STOPPED_EN, notice.pk)


def test_a_confirmation_that_never_goes_ends_dead_on_the_timeline(
    client: Client, account: ChannelAccount, anna: Customer, fake: FakeTelegram,
    clock: Clock,
) -> None:
    fake.fail_next(tg.server_error(), tg.server_error())
    stop_in_telegram(client, account)
    patience = RetryPolicy(max_attempts=2, base=timedelta(seconds=10))
    assert notices.deliver_due(clock.now(), retry=patience) == 1
    clock.advance(hours=1)
    assert notices.deliver_due(clock.now(), retry=patience) == 1
    notice = Notice.objects.get()
    assert (notice.state, notice.attempts, notice.last_error) == (
        "dead", 2, "Telegram 502: Bad Gateway")
    row = TimelineEvent.objects.get(customer=anna, kind=EventKind.TOUCH,
                                    data__notice=notice.pk)
    assert (row.data["outcome"], row.data["error"]) == ("dead", "Telegram 502: Bad Gateway")
    clock.advance(days=1)
    assert notices.deliver_due(clock.now(), retry=patience) == 0


def test_a_final_refusal_is_dead_at_once(
    client: Client, account: ChannelAccount, anna: Customer, fake: FakeTelegram,
) -> None:
    fake.fail_next(tg.blocked_by_user())
    stop_in_telegram(client, account)
    assert deliver() == 1
    notice = Notice.objects.get()
    assert (notice.state, notice.attempts) == ("dead", 1)
    assert notice.last_error == "Telegram 403: Forbidden: bot was blocked by the user"


def test_a_worker_that_dies_holding_a_notice_leaves_it_to_the_next_after_the_lease(
    client: Client, account: ChannelAccount, anna: Customer, fake: FakeTelegram,
    clock: Clock,
) -> None:
    stop_in_telegram(client, account)
    [held] = notices._claim(clock.now(), 10)  # claimed, then the worker died
    assert deliver() == 0  # another worker does not take what one holds
    clock.advance(seconds=notices.LEASE.total_seconds() + 1)
    assert deliver() == 1
    held.refresh_from_db()
    assert (held.state, held.attempts) == ("sent", 2)
    assert fake.texts(CHAT) == [STOPPED_EN]


def test_worker_once_delivers_due_notices(
    client: Client, account: ChannelAccount, anna: Customer, fake: FakeTelegram,
    sink: tuple[Sink, str], settings: Any,
) -> None:
    stop_in_telegram(client, account)
    settings.TOUCHFLOW_CHANNELS = f"sms={sink[1]}"
    result = CliRunner().invoke(build_app(), ["worker", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert fake.texts(CHAT) == [STOPPED_EN]
    assert Notice.objects.get().state == "sent"


# -- staff may still answer -------------------------------------------------------------


def test_staff_can_answer_what_the_customer_writes_after_a_stop(
    client: Client, account: ChannelAccount, anna: Customer, fake: FakeTelegram,
    salesperson: Staff, dispatcher: Dispatcher, clock: Clock,
) -> None:
    stop_in_telegram(client, account)
    deliver()
    # Nobody writes to a chat that said STOP of their own accord…
    assert "telegram" not in [r.channel for r in routes(anna, salesperson)]
    with pytest.raises(InvalidInput) as refused:
        reply(anna, salesperson, "telegram", "Are you sure?")
    assert refused.value.field == "channel"
    # …but a question they ask afterwards gets its answer.
    later = tg.DATE + 600
    hook(client, account, tg.message_update(2, CHAT, "When do you open on Sunday?", later))
    assert "telegram" in [r.channel for r in routes(anna, salesperson)]
    reply(anna, salesperson, "telegram", "From 10 to 16.")
    assert fake.texts(CHAT) == [STOPPED_EN, "From 10 to 16."]
    # Answering gives no consent back: the chains stay ended, nothing else goes there.
    assert points(anna)["telegram"] == (False, False)
    run_worker(dispatcher, clock, days=30)
    assert fake.texts(CHAT) == [STOPPED_EN, "From 10 to 16."]


def test_the_confirmation_page_of_the_link_names_the_store_of_the_message(
    anna: Customer, krakow: Store,
) -> None:
    token = unsubscribe_token(anna.pk, "email", krakow.pk)
    page = Client(enforce_csrf_checks=True).post(f"/u/{token}").content.decode()
    assert "Kraków has ended its messages to you" in page
    assert Enrollment.objects.get(customer=anna, store=krakow).state == "exited"
    assert Enrollment.objects.exclude(store=krakow).get(customer=anna).state == "active"



# -- several workers ----------------------------------------------------------------------


@pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time",
)
def test_a_worker_skips_the_notice_another_is_claiming_and_does_not_wait(
    transactional_db: None, make_account: Callable[..., ChannelAccount],
) -> None:
    account = make_account("telegram", "http://127.0.0.1:9", {"token": "1:a"})
    cfg = accounts.config(account)
    now = core_clock.now()
    first, second = (notices.queue(cfg, notices.Reply("stop", chat, "Done.", "en"), now)
                     for chat in ("101", "102"))
    assert first is not None and second is not None
    claimed: list[int] = []

    def other_worker() -> None:
        try:
            claimed.extend(n.pk for n in notices._claim(now, 10))
        finally:
            connections.close_all()

    with transaction.atomic():  # this worker is in the middle of claiming the first
        Notice.objects.select_for_update().get(pk=first.pk)
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join(timeout=20)
        assert not thread.is_alive(), "the other worker waited for our lock"
    assert claimed == [second.pk]


def test_the_workers_chore_sends_notices_at_most_once_a_second(
    client: Client, account: ChannelAccount, anna: Customer, fake: FakeTelegram,
) -> None:
    chore = notices.Chore(every=3600.0)
    assert chore() == 0  # nothing due yet; the hour starts now
    stop_in_telegram(client, account)
    assert chore() == 0  # within the hour: not even asked
    assert notices.Chore(every=0.0)() == 1
    assert fake.texts(CHAT) == [STOPPED_EN]
