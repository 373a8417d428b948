"""SMSAPI.pl against a local server speaking its sms.do API, and SMSAPI's callbacks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from tests.delivery.conftest import Clock
from tests.messaging.conftest import deliver
from tests.messaging.fakes.base import Answer, running
from tests.messaging.fakes.smsapi import (
    BAD_TOKEN,
    INTERNAL,
    NO_POINTS,
    FakeSmsapi,
    mo,
    report,
)
from touchflow.customers.models import ContactPoint
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.null import NullChannel
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch
from touchflow.messaging import accounts
from touchflow.messaging.models import ChannelAccount, InboundEvent
from touchflow.messaging.outbound import AccountChannel
from touchflow.messaging.providers.smsapi import SmsapiProvider
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

TOKEN = "smsapi-oauth-token-1"
CUSTOMER = "+48501234567"


@pytest.fixture
def fake() -> Iterator[tuple[FakeSmsapi, str]]:
    server = FakeSmsapi(TOKEN)
    with running(server) as url:
        yield server, url


@pytest.fixture
def make_smsapi(
    make_account: Callable[..., ChannelAccount], fake: tuple[FakeSmsapi, str]
) -> Callable[..., ChannelAccount]:
    def make(**credentials: Any) -> ChannelAccount:
        return make_account(
            "smsapi",
            base_url=fake[1],
            handle="Sklep",
            credentials={"token": TOKEN, "from": "Sklep", **credentials},
        )

    return make


@pytest.fixture
def account(make_smsapi: Callable[..., ChannelAccount]) -> ChannelAccount:
    return make_smsapi()


def provider(account: ChannelAccount, **options: Any) -> SmsapiProvider:
    return SmsapiProvider(accounts.config(account), **options)


def message(
    address: str = CUSTOMER, text: str = "Dzień dobry!", key: str = "k-1", **fields: Any
) -> OutgoingMessage:
    return OutgoingMessage(
        touch_id=1,
        idempotency_key=key,
        channel="sms",
        address=address,
        text=text,
        language="pl",
        **fields,
    )


def post(client: Client, account: ChannelAccount, params: dict[str, str]) -> Any:
    return client.post(
        account.webhook_path(),
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
    )


def get(client: Client, account: ChannelAccount, params: dict[str, str]) -> Any:
    return client.get(account.webhook_path(), params)


def phone_point() -> ContactPoint:
    return ContactPoint.objects.get(kind="phone", value=CUSTOMER)


# -- sending -------------------------------------------------------------------------


def test_send_posts_the_documented_form_with_idx_and_a_bearer_token(
    account: ChannelAccount, fake: tuple[FakeSmsapi, str]
) -> None:
    assert provider(account).send_one(message()) == SendResult.sent("k-1")
    [request] = fake[0].requests
    assert (request.method, request.path) == ("POST", "/sms.do")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.form() == {
        "to": "48501234567",
        "message": "Dzień dobry!",
        "from": "Sklep",
        "format": "json",
        "encoding": "utf-8",
        "idx": "k-1",
        "check_idx": "1",
        "notify_url": f"http://127.0.0.1:8000/hooks/smsapi/{account.webhook_key}/",
    }


def test_a_retry_of_a_message_smsapi_already_took_is_not_sent_twice(
    account: ChannelAccount, fake: tuple[FakeSmsapi, str]
) -> None:
    live = provider(account)
    assert live.send_one(message()) == SendResult.sent("k-1")
    assert live.send_one(message()) == SendResult.sent("k-1")  # error 53: already sent
    assert fake[0].sent_count == 1


def test_free_text_has_no_idx_and_keeps_smsapis_message_id(
    account: ChannelAccount, fake: tuple[FakeSmsapi, str]
) -> None:
    live = provider(account)
    assert live.send_text(CUSTOMER, "Gotowe.") == SendResult.sent("6" + "0" * 22 + "1")
    assert live.send_one(message(text="Wszystko OK?", quick_replies=("Tak", "Nie"))).ok
    first, second = (r.form() for r in fake[0].requests)
    assert "idx" not in first and "check_idx" not in first
    assert second["message"] == "Wszystko OK?\nTak / Nie"


def test_invalid_and_blacklisted_numbers_and_a_bad_token_fail_for_good(
    account: ChannelAccount, fake: tuple[FakeSmsapi, str]
) -> None:
    live = provider(account)
    assert live.send_one(message(address="+4800")) == SendResult.failed(
        "SMSAPI 13: No correct phone numbers"
    )
    fake[0].blacklist.add("48501234567")
    assert live.send_one(message(key="k-2")) == SendResult.failed(
        "SMSAPI 57: Recipient's number is on blacklist"
    )
    fake[0].fail_next(BAD_TOKEN)
    assert live.send_one(message(key="k-3")) == SendResult.failed(
        "SMSAPI 101: Authorization failed"
    )


def test_internal_errors_no_points_rate_limits_5xx_and_timeouts_retry(
    account: ChannelAccount, fake: tuple[FakeSmsapi, str]
) -> None:
    live = provider(account, timeout=0.2)
    fake[0].fail_next(
        INTERNAL,
        NO_POINTS,
        Answer(429, "", headers={"Retry-After": "30"}),
        Answer(503, "<html>down</html>"),
        Answer(200, "", delay=1.0),
    )
    results = [live.send_one(message()) for _ in range(5)]
    assert [(r.ok, r.transient) for r in results] == [(False, True)] * 5
    assert results[0].error == "SMSAPI 201: System internal error"
    assert results[1].error == "SMSAPI 103: Insufficient credits on account"
    assert (results[2].error, results[2].retry_after) == ("SMSAPI HTTP 429: ", 30.0)
    assert results[3].error == "SMSAPI HTTP 503: <html>down</html>"
    assert results[4].error.startswith("ReadTimeout")


def test_an_error_that_is_not_a_number_is_never_taken_for_already_sent(
    account: ChannelAccount, fake: tuple[FakeSmsapi, str]
) -> None:
    fake[0].fail_next(
        Answer(200, {"error": "53", "message": "Not unique idx parameter"}),
        Answer(200, {"error": 53, "message": ["?"]}),
    )
    live = provider(account)
    assert live.send_one(message()) == SendResult.failed(
        'SMSAPI HTTP 200: {"error": "53", "message": "Not unique idx parameter"}'
    )
    assert live.send_one(message()) == SendResult.sent("k-1")  # the code alone decides
    assert fake[0].sent_count == 0


def test_a_listed_message_is_sent_whatever_its_entry_says(
    account: ChannelAccount, fake: tuple[FakeSmsapi, str]
) -> None:
    fake[0].fail_next(
        Answer(200, {"count": "one", "list": [{"id": 61, "points": "n/a", "status": 1}]}),
        Answer(200, {"count": 1, "list": ["?"]}),
        Answer(200, {"count": 1, "list": ["?"]}),
        Answer(200, {"count": 0, "list": []}),
    )
    live = provider(account)
    assert live.send_text(CUSTOMER, "Gotowe.") == SendResult.sent("61")  # a number: its digits
    assert live.send_one(message()) == SendResult.sent("k-1")
    assert live.send_text(CUSTOMER, "Gotowe.") == SendResult.sent("")  # taken, id unknown
    assert live.send_one(message()) == SendResult.failed(
        'SMSAPI HTTP 200: {"count": 0, "list": []}'
    )


def test_many_sends_share_one_connection_with_reuse(
    account: ChannelAccount, fake: tuple[FakeSmsapi, str]
) -> None:
    live = provider(account)
    assert all(r.ok for r in live.send([message(key=f"k-{n}") for n in range(5)]))
    live.close()
    assert fake[0].connections == 1
    fresh = provider(account, reuse=False)
    assert all(r.ok for r in fresh.send([message(key=f"j-{n}") for n in range(3)]))
    assert fake[0].connections == 4


def test_the_engine_sends_a_touch_with_its_idempotency_key_as_idx(
    sent_touch: Touch, fake: tuple[FakeSmsapi, str]
) -> None:
    assert (sent_touch.state, sent_touch.channel) == ("sent", "sms")
    assert sent_touch.provider_message_id == sent_touch.idempotency_key
    form = fake[0].requests[0].form()
    assert (form["to"], form["idx"]) == ("48501234567", sent_touch.idempotency_key)
    assert form["message"].startswith("Dzień dobry, Anna! Dziękujemy za dzisiejszą wizytę")


# -- delivery reports ----------------------------------------------------------------


def test_delivered_report_by_get_updates_the_touch_once_and_answers_ok(
    client: Client, account: ChannelAccount, sent_touch: Touch
) -> None:
    params = report("6" + "0" * 22 + "1", "404", idx=sent_touch.idempotency_key)
    first, again = get(client, account, params), get(client, account, params)
    assert (first.status_code, first.content, again.content) == (200, b"OK", b"OK")
    sent_touch.refresh_from_db()
    assert sent_touch.receipt == "delivered"
    assert InboundEvent.objects.count() == 1
    assert (
        TimelineEvent.objects.filter(kind=EventKind.TOUCH, data__outcome="delivered").count() == 1
    )


def test_undelivered_report_by_post_sends_the_step_on_its_next_channel(
    client: Client,
    account: ChannelAccount,
    sent_touch: Touch,
    clock: Clock,
) -> None:
    response = post(
        client, account, report("6" + "0" * 22 + "1", "405", idx=sent_touch.idempotency_key)
    )
    assert (response.status_code, response.content) == (200, b"OK")
    sent_touch.refresh_from_db()
    assert (sent_touch.state, sent_touch.failed_channels) == ("queued", "sms")
    assert sent_touch.last_error == "SMSAPI 405 UNDELIVERED"
    email = NullChannel("email")
    dispatcher = Dispatcher({"sms": AccountChannel("sms"), "email": email}, now=clock.now)
    dispatcher.drain()
    dispatcher.close()
    sent_touch.refresh_from_db()
    assert (sent_touch.state, sent_touch.channel, email.sent) == ("sent", "email", 1)


def test_expired_is_recorded_and_bulk_reports_are_read_one_by_one(
    client: Client, account: ChannelAccount, sent_touch: Touch
) -> None:
    key = sent_touch.idempotency_key
    params = report("61,62,63", "402,403,404", idx=f"{key},other-1,other-2")
    assert get(client, account, params).status_code == 200
    sent_touch.refresh_from_db()
    assert (sent_touch.state, sent_touch.receipt, sent_touch.last_error) == (
        "sent",
        "failed",
        "SMSAPI 402 EXPIRED",
    )
    assert sorted(InboundEvent.objects.values_list("event_id", flat=True)) == ["61:402", "63:404"]


# -- received messages ---------------------------------------------------------------


def test_a_reply_lands_on_the_timeline(
    client: Client, account: ChannelAccount, sent_touch: Touch, fake: tuple[FakeSmsapi, str]
) -> None:
    response = post(client, account, mo("7001", "48501234567", "Dziękuję, wrócę!"))
    assert (response.status_code, response.content) == (200, b"OK")
    event = TimelineEvent.objects.get(kind=EventKind.MESSAGE_IN)
    # Credited to the message it answers: the chain's touch sent just before.
    assert event.data == {"channel": "sms", "text": "Dziękuję, wrócę!", "from": CUSTOMER,
                          "flow": "warming", "step": "thank-you"}
    assert event.at == datetime.fromtimestamp(1780412500, UTC)
    post(client, account, mo("7001", "48501234567", "Dziękuję, wrócę!"))
    assert TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN).count() == 1
    assert len(fake[0].requests) == 1


@pytest.mark.parametrize("word", ["STOP", "СТОП", "wypisz"])
def test_stop_words_withdraw_consent_and_we_confirm(
    client: Client,
    account: ChannelAccount,
    sent_touch: Touch,
    fake: tuple[FakeSmsapi, str],
    word: str,
) -> None:
    post(client, account, mo("7002", "48501234567", word))
    assert phone_point().contact_consent is False
    assert len(fake[0].requests) == 1  # queued: the webhook waits for no provider
    deliver()
    assert len(fake[0].requests) == 2
    confirmation = fake[0].requests[-1].form()
    assert confirmation["to"] == "48501234567"
    assert "idx" not in confirmation


# -- who may call, and bad bodies ------------------------------------------------------


def test_callers_outside_the_allow_list_change_nothing(
    client: Client,
    make_smsapi: Callable[..., ChannelAccount],
    type3_visit: Callable[..., Visit],
) -> None:
    type3_visit()
    account = make_smsapi(allowed_ips=["10.1.2.0/24", "not an address"])
    assert post(client, account, mo("7003", "48501234567", "STOP")).status_code == 403
    assert get(client, account, report("61", "404", idx="x")).status_code == 403
    assert phone_point().contact_consent is True
    assert InboundEvent.objects.count() == 0
    wrong_key = client.post(
        "/hooks/smsapi/not-the-key/",
        data="sms_from=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert wrong_key.status_code == 404


def test_an_allowed_caller_gets_through(
    client: Client,
    make_smsapi: Callable[..., ChannelAccount],
    type3_visit: Callable[..., Visit],
) -> None:
    type3_visit()
    account = make_smsapi(allowed_ips=["127.0.0.0/8"])
    assert post(client, account, mo("7004", "48501234567", "STOP")).status_code == 200
    assert phone_point().contact_consent is False


def test_unreadable_callbacks_are_400_never_500(client: Client, account: ChannelAccount) -> None:
    assert post(client, account, {"foo": "bar"}).status_code == 400
    assert post(client, account, {"sms_text": "hi"}).status_code == 400
    assert get(client, account, report("61,62", "404,404")).status_code == 200  # no idx
    assert get(client, account, {"MsgId": "61,62", "status": "404"}).status_code == 400
    assert (
        post(client, account, mo("7005", "48501234567", "hi") | {"sms_date": "9" * 30}).status_code
        == 200
    )
    response = client.post(account.webhook_path(), data=b"\xff\xfe{", content_type="text/plain")
    assert response.status_code == 400
    assert client.get(account.webhook_path()).status_code == 405


def test_a_reply_without_its_msgid_is_400_and_fields_go_by_smsapis_names_only(
    client: Client, account: ChannelAccount, type3_visit: Callable[..., Visit]
) -> None:
    type3_visit()
    for params in (
        mo("", "48501234567", "STOP"),
        {"sms_from": "48501234567", "sms_text": "STOP", "msg_id": "7006"},
    ):
        response = post(client, account, params)
        assert (response.status_code, response.json()["error"]) == (
            400,
            "sms_from and MsgId are required",
        )
    assert phone_point().contact_consent is True
    assert InboundEvent.objects.count() == 0
