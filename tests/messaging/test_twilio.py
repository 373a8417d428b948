"""Twilio SMS against a local server speaking Twilio's API, and Twilio's signed webhooks."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from tests.delivery.conftest import Clock
from tests.messaging.conftest import deliver, post_hook
from tests.messaging.fakes.base import Answer, running
from tests.messaging.fakes.twilio import (
    INVALID_NUMBER,
    SERVER_ERROR,
    TOO_MANY,
    UNSUBSCRIBED,
    FakeTwilio,
    incoming,
    signed,
    status,
)
from touchflow.customers.models import ContactPoint
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.null import NullChannel
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch
from touchflow.messaging import accounts
from touchflow.messaging.models import ChannelAccount, InboundEvent
from touchflow.messaging.outbound import AccountChannel
from touchflow.messaging.providers.twilio import TwilioProvider
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

SID = "AC" + "0" * 32
TOKEN = "twilio-auth-token-1"
SENDER = "+48221234567"
CUSTOMER = "+48501234567"


@pytest.fixture
def fake() -> Iterator[tuple[FakeTwilio, str]]:
    server = FakeTwilio(SID, TOKEN)
    with running(server) as url:
        yield server, url


@pytest.fixture
def make_twilio(
    make_account: Callable[..., ChannelAccount], fake: tuple[FakeTwilio, str]
) -> Callable[..., ChannelAccount]:
    def make(**credentials: Any) -> ChannelAccount:
        return make_account(
            "twilio",
            base_url=fake[1],
            handle=SENDER,
            credentials={"account_sid": SID, "auth_token": TOKEN, "from": SENDER, **credentials},
        )

    return make


@pytest.fixture
def account(make_twilio: Callable[..., ChannelAccount]) -> ChannelAccount:
    return make_twilio()


def provider(account: ChannelAccount, **options: Any) -> TwilioProvider:
    return TwilioProvider(accounts.config(account), **options)


def message(address: str = CUSTOMER, text: str = "Dzień dobry!", **fields: Any) -> OutgoingMessage:
    return OutgoingMessage(
        touch_id=1,
        idempotency_key="k-1",
        channel="sms",
        address=address,
        text=text,
        language="pl",
        **fields,
    )


def hook(
    client: Client,
    account: ChannelAccount,
    params: dict[str, str],
    token: str = TOKEN,
    query: str = "",
) -> Any:
    url = accounts.config(account).webhook_url + (f"?{query}" if query else "")
    body, headers = signed(url, params, token)
    path = account.webhook_path() + (f"?{query}" if query else "")
    return client.post(
        path, data=body, content_type="application/x-www-form-urlencoded", headers=headers
    )


def phone_point() -> ContactPoint:
    return ContactPoint.objects.get(kind="phone", value=CUSTOMER)


# -- sending -------------------------------------------------------------------------


def test_send_posts_the_documented_form_with_basic_auth_and_status_callback(
    account: ChannelAccount, fake: tuple[FakeTwilio, str]
) -> None:
    result = provider(account).send_one(message())
    assert result == SendResult.sent("SM" + "0" * 31 + "1")
    [request] = fake[0].requests
    assert (request.method, request.path) == ("POST", f"/2010-04-01/Accounts/{SID}/Messages.json")
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    )
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form() == {
        "To": CUSTOMER,
        "From": SENDER,
        "Body": "Dzień dobry!",
        "StatusCallback": f"http://127.0.0.1:8000/hooks/twilio/{account.webhook_key}/",
    }


def test_a_messaging_service_sends_instead_of_a_from_number(
    make_twilio: Callable[..., ChannelAccount], fake: tuple[FakeTwilio, str]
) -> None:
    account = make_twilio(messaging_service_sid="MG" + "1" * 32)
    assert provider(account).send_one(message()).ok
    form = fake[0].requests[0].form()
    assert form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in form


def test_quick_replies_are_written_out_and_free_text_has_no_status_callback(
    account: ChannelAccount, fake: tuple[FakeTwilio, str]
) -> None:
    live = provider(account)
    assert live.send_one(message(text="All good?", quick_replies=("Yes", "No"))).ok
    assert live.send_text(CUSTOMER, "Thanks!", unsubscribe_button=True).ok
    assert live.send_text(CUSTOMER, "Dziękujemy!", unsubscribe_button=True, language="pl").ok
    first, second, third = (r.form() for r in fake[0].requests)
    assert first["Body"] == "All good?\nYes / No"
    assert second["Body"] == "Thanks!\nReply STOP to opt out."
    assert third["Body"] == "Dziękujemy!\nAby zrezygnować, odpisz STOP."  # the customer's language
    assert "StatusCallback" not in second


def test_invalid_number_and_unsubscribed_recipient_fail_for_good(
    account: ChannelAccount, fake: tuple[FakeTwilio, str]
) -> None:
    live = provider(account)
    assert live.send_one(message(address="+4800")) == SendResult.failed(
        "Twilio 21211: The 'To' number +4800 is not a valid phone number."
    )
    fake[0].unsubscribed.add(CUSTOMER)
    assert live.send_one(message()) == SendResult.failed(
        "Twilio 21610: Attempt to send to unsubscribed recipient"
    )
    fake[0].fail_next(INVALID_NUMBER, UNSUBSCRIBED)
    assert [r.transient for r in live.send([message(), message()])] == [False, False]


def test_rate_limit_retries_after_what_twilio_says(
    account: ChannelAccount, fake: tuple[FakeTwilio, str]
) -> None:
    fake[0].fail_next(TOO_MANY)
    assert provider(account).send_one(message()) == SendResult.retry(
        "Twilio 20429: Too Many Requests", 7.0
    )


def test_server_errors_timeouts_and_a_full_queue_retry(
    account: ChannelAccount, fake: tuple[FakeTwilio, str]
) -> None:
    live = provider(account, timeout=0.2)
    fake[0].fail_next(
        SERVER_ERROR,
        Answer(200, "", delay=1.0),
        Answer(
            400,
            {
                "code": 21611,
                "message": "This 'From' number has exceeded the maximum number of queued messages",
                "more_info": "https://www.twilio.com/docs/errors/21611",
                "status": 400,
            },
        ),
        Answer(502, "<html>Bad Gateway</html>"),
    )
    results = [live.send_one(message()) for _ in range(4)]
    assert [(r.ok, r.transient) for r in results] == [(False, True)] * 4
    assert results[0].error == "Twilio 20500: Internal Server Error"
    assert results[1].error.startswith("ReadTimeout")
    assert results[3].error == "Twilio 502: <html>Bad Gateway</html>"


def test_a_created_message_is_sent_whatever_else_its_resource_says(
    account: ChannelAccount, fake: tuple[FakeTwilio, str]
) -> None:
    fake[0].fail_next(
        Answer(201, {"sid": "SM" + "9" * 32, "status": 7, "error_code": "?", "error_message": []}),
        Answer(201, {"status": "queued"}),
        Answer(201, ["SM" + "9" * 32]),
    )
    live = provider(account)
    assert live.send_one(message()) == SendResult.sent("SM" + "9" * 32)
    # Taken, but unnamed: nothing a receipt could find it by.
    assert live.send_one(message()) == SendResult.failed('Twilio 201: {"status": "queued"}')
    assert live.send_one(message()) == SendResult.failed(f'Twilio 201: ["SM{"9" * 32}"]')


def test_an_error_code_that_is_not_a_number_decides_nothing(
    account: ChannelAccount, fake: tuple[FakeTwilio, str]
) -> None:
    fake[0].fail_next(
        Answer(400, {"code": "21611", "message": "Queue full", "status": "400"}),
        Answer(400, {"code": 21611, "message": ["?"], "more_info": 5}),
    )
    live = provider(account)
    # 21611 as a number retries (the sender's queue is full); as text it is not read.
    assert live.send_one(message()) == SendResult.failed("Twilio 400: Queue full")
    assert live.send_one(message()) == SendResult.retry(
        'Twilio 21611: {"code": 21611, "message": ["?"], "more_info": 5}', None
    )


def test_many_sends_share_one_connection_with_reuse(
    account: ChannelAccount, fake: tuple[FakeTwilio, str]
) -> None:
    live = provider(account)
    assert all(r.ok for r in live.send([message() for _ in range(5)]))
    live.close()
    assert fake[0].connections == 1
    fresh = provider(account, reuse=False)
    assert all(r.ok for r in fresh.send([message() for _ in range(3)]))
    assert fake[0].connections == 4


def test_the_engine_sends_a_touch_through_the_stores_twilio_account(
    sent_touch: Touch, fake: tuple[FakeTwilio, str]
) -> None:
    assert (sent_touch.state, sent_touch.channel) == ("sent", "sms")
    assert sent_touch.provider_message_id == "SM" + "0" * 31 + "1"
    form = fake[0].requests[0].form()
    assert form["To"] == CUSTOMER
    assert form["Body"].startswith("Dzień dobry, Anna! Dziękujemy za dzisiejszą wizytę")


# -- receipts ------------------------------------------------------------------------


def test_delivered_receipt_updates_the_touch_once(
    client: Client, account: ChannelAccount, sent_touch: Touch
) -> None:
    sid = sent_touch.provider_message_id
    assert hook(client, account, status(sid, "sent")).status_code == 200  # nothing yet
    first = hook(client, account, status(sid, "delivered"))
    again = hook(client, account, status(sid, "delivered"))
    assert (first.status_code, again.status_code) == (200, 200)
    sent_touch.refresh_from_db()
    assert sent_touch.receipt == "delivered"
    assert InboundEvent.objects.filter(event_id=f"{sid}:delivered").count() == 1
    assert (
        TimelineEvent.objects.filter(kind=EventKind.TOUCH, data__outcome="delivered").count() == 1
    )


def test_unknown_number_receipt_sends_the_step_again_on_its_next_channel(
    client: Client,
    account: ChannelAccount,
    sent_touch: Touch,
    clock: Clock,
) -> None:
    sid = sent_touch.provider_message_id
    assert hook(client, account, status(sid, "undelivered", "30005")).status_code == 200
    sent_touch.refresh_from_db()
    assert (sent_touch.state, sent_touch.failed_channels, sent_touch.receipt) == (
        "queued",
        "sms",
        "failed",
    )
    assert sent_touch.last_error == "Twilio 30005: unknown destination handset"
    email = NullChannel("email")
    dispatcher = Dispatcher({"sms": AccountChannel("sms"), "email": email}, now=clock.now)
    dispatcher.drain()
    dispatcher.close()
    sent_touch.refresh_from_db()
    assert (sent_touch.state, sent_touch.channel, email.sent) == ("sent", "email", 1)


def test_a_phone_that_is_off_is_recorded_but_not_a_reason_to_fall_back(
    client: Client, account: ChannelAccount, sent_touch: Touch
) -> None:
    hook(client, account, status(sent_touch.provider_message_id, "undelivered", "30003"))
    sent_touch.refresh_from_db()
    assert (sent_touch.state, sent_touch.receipt, sent_touch.failed_channels) == (
        "sent",
        "failed",
        "",
    )
    assert sent_touch.last_error == "Twilio 30003: unreachable destination handset"


def test_a_status_callback_by_the_older_names_with_an_error_code_that_is_not_digits(
    client: Client, account: ChannelAccount, sent_touch: Touch
) -> None:
    sid = sent_touch.provider_message_id
    params = {"SmsSid": sid, "SmsStatus": "undelivered", "ErrorCode": "n/a", "AccountSid": SID}
    assert hook(client, account, params).status_code == 200
    sent_touch.refresh_from_db()
    assert (sent_touch.state, sent_touch.receipt, sent_touch.failed_channels) == (
        "sent",
        "failed",
        "",
    )
    assert sent_touch.last_error == "Twilio 0: undelivered"
    assert InboundEvent.objects.get().event_id == f"{sid}:undelivered"


# -- incoming messages ---------------------------------------------------------------


def test_a_reply_lands_on_the_timeline_and_twilio_gets_empty_twiml(
    client: Client, account: ChannelAccount, sent_touch: Touch, fake: tuple[FakeTwilio, str]
) -> None:
    response = hook(client, account, incoming("SM" + "a" * 32, CUSTOMER, "Dziękuję, wrócę!"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content == b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
    event = TimelineEvent.objects.get(kind=EventKind.MESSAGE_IN)
    assert event.data == {"channel": "sms", "text": "Dziękuję, wrócę!", "from": CUSTOMER,
                          "flow": "warming", "step": "thank-you"}
    hook(client, account, incoming("SM" + "a" * 32, CUSTOMER, "Dziękuję, wrócę!"))
    assert TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN).count() == 1
    assert len(fake[0].requests) == 1  # only the touch: no reply to a reply


def test_stop_that_twilio_confirmed_withdraws_consent_without_a_second_confirmation(
    client: Client, account: ChannelAccount, sent_touch: Touch, fake: tuple[FakeTwilio, str]
) -> None:
    assert hook(client, account, incoming("SM" + "b" * 32, CUSTOMER, " stop ")).status_code == 200
    assert phone_point().contact_consent is False
    assert len(fake[0].requests) == 1  # Twilio answered the customer itself


@pytest.mark.parametrize("word", ["СТОП", "wypisz", "Stop all"])
def test_our_own_stop_words_withdraw_consent_and_we_confirm(
    client: Client,
    account: ChannelAccount,
    sent_touch: Touch,
    fake: tuple[FakeTwilio, str],
    word: str,
) -> None:
    hook(client, account, incoming("SM" + "c" * 32, CUSTOMER, word))
    assert phone_point().contact_consent is False
    deliver()
    confirmation = fake[0].requests[-1].form()
    assert len(fake[0].requests) == 2
    assert (confirmation["To"], confirmation["From"]) == (CUSTOMER, SENDER)


def test_advanced_opt_out_keywords_are_twilio_confirmed_too(
    client: Client, account: ChannelAccount, sent_touch: Touch, fake: tuple[FakeTwilio, str]
) -> None:
    hook(client, account, incoming("SM" + "d" * 32, CUSTOMER, "СТОП", OptOutType="STOP"))
    assert phone_point().contact_consent is False
    assert len(fake[0].requests) == 1


def test_without_twilio_stop_handling_we_confirm_stop_ourselves(
    client: Client,
    make_twilio: Callable[..., ChannelAccount],
    fake: tuple[FakeTwilio, str],
    type3_visit: Callable[..., Visit],
) -> None:
    account = make_twilio(twilio_handles_stop=False)
    type3_visit()
    hook(client, account, incoming("SM" + "e" * 32, CUSTOMER, "STOP"))
    assert phone_point().contact_consent is False
    assert fake[0].requests == []
    deliver()
    assert [r.form()["To"] for r in fake[0].requests] == [CUSTOMER]


# -- signatures and bad bodies ---------------------------------------------------------


def test_forged_missing_and_wrong_url_signatures_change_nothing(
    client: Client,
    account: ChannelAccount,
    type3_visit: Callable[..., Visit],
) -> None:
    type3_visit()
    params = incoming("SM" + "f" * 32, CUSTOMER, "STOP")
    assert hook(client, account, params, token="not-the-token").status_code == 403
    body, _headers = signed("x", params, TOKEN)
    missing = post_hook(client, account, body, "application/x-www-form-urlencoded")
    assert missing.status_code == 401
    # Signed over the URL Django sees, not the public one Twilio calls: refused.
    internal = f"http://testserver{account.webhook_path()}"
    body, headers = signed(internal, params, TOKEN)
    assert (
        post_hook(client, account, body, "application/x-www-form-urlencoded", **headers).status_code
        == 403
    )
    assert phone_point().contact_consent is True
    assert InboundEvent.objects.count() == 0


def test_the_query_string_is_part_of_what_twilio_signed(
    client: Client, account: ChannelAccount, sent_touch: Touch
) -> None:
    params = status(sent_touch.provider_message_id, "delivered")
    assert hook(client, account, params, query="store=warsaw").status_code == 200
    sent_touch.refresh_from_db()
    assert sent_touch.receipt == "delivered"


def test_signed_but_unreadable_bodies_are_400_never_500(
    client: Client, account: ChannelAccount
) -> None:
    assert hook(client, account, {"From": CUSTOMER, "Body": "hi"}).status_code == 400
    assert hook(client, account, {"MessageSid": "SM1", "Body": "hi"}).status_code == 400
    url = accounts.config(account).webhook_url
    _body, headers = signed(url, {}, TOKEN)
    response = post_hook(client, account, b'{"not": "a form"}', "application/json", **headers)
    assert response.status_code == 400
    assert InboundEvent.objects.count() == 0


def test_fields_are_read_by_twilios_names_only(client: Client, account: ChannelAccount) -> None:
    params = {"message_sid": "SM" + "a" * 32, "sender": CUSTOMER, "From": CUSTOMER, "Body": "hi"}
    response = hook(client, account, params)
    assert (response.status_code, response.json()["error"]) == (400, "MessageSid is missing")
    assert InboundEvent.objects.count() == 0


# -- check-ins -----------------------------------------------------------------------


def test_a_check_in_sent_by_sms_is_answered_by_a_reply(
    client: Client, account: ChannelAccount, flows: Any, clock: Clock, store: Any,
    salesperson: Any, fake: tuple[FakeTwilio, str],
) -> None:
    from touchflow.aftercare.models import CheckInAnswer
    from touchflow.customers.actions import ConsentGrant, check_contact
    from touchflow.funnel.visits import log_visit
    from touchflow.integrations.actor import Actor

    log_visit(store=store, actor=Actor(source="counter", staff=salesperson), bought=True,
              contact_capture="taken", name="Anna Nowak", consent=ConsentGrant(contact=True),
              contacts=[check_contact("phone", CUSTOMER, region="PL")])
    clock.advance(days=4)
    dispatcher = Dispatcher({"sms": AccountChannel("sms")}, now=clock.now)
    dispatcher.drain()
    dispatcher.close()
    touch = Touch.objects.get(step__key="is-everything-ok")
    body = next(r.form()["Body"] for r in fake[0].requests if "zakup" in r.form()["Body"])
    assert "Odpisz TAK lub NIE." in body and "/r/" in body
    clock.advance(hours=2)
    response = hook(client, account, incoming("SM" + "c" * 32, CUSTOMER, "Nie działa!"))
    assert response.status_code == 200
    answer = CheckInAnswer.objects.get(touch=touch)
    assert (answer.value, answer.mood, answer.via) == (0, "unhappy", "sms")
    # An answer is not a reply waiting for a person: the timeline has it once, as such.
    assert not TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN).exists()
    assert TimelineEvent.objects.filter(kind=EventKind.CHECK_IN_ANSWER).count() == 1
    # Free text afterwards stays a reply.
    hook(client, account, incoming("SM" + "d" * 32, CUSTOMER, "Szuflada się nie domyka, "
                                   "kiedy możecie przyjechać?"))
    assert TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN).count() == 1
    assert CheckInAnswer.objects.get(touch=touch).value == 0
