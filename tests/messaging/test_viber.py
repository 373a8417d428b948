"""Viber against a local REST bot API: sending, its status codes, connection reuse,
and the signed webhook (the QR deep link's conversation_started, replies, STOP,
unsubscribing, delivery receipts moving a touch forward or sending it elsewhere)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.delivery.conftest import START, Clock
from tests.messaging.conftest import deliver, post_hook
from tests.messaging.fakes import viber as vb
from tests.messaging.fakes.base import Answer, running
from tests.messaging.fakes.viber import FakeViber
from tests.servers import free_port
from touchflow.core import clock as core_clock
from touchflow.customers.actions import ConsentGrant, check_contact, create_optin_token
from touchflow.customers.models import ConsentEvent, ContactPoint, Customer
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch
from touchflow.flows.models import Flow
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging import accounts, providers
from touchflow.messaging.models import ChannelAccount, InboundEvent
from touchflow.messaging.outbound import AccountChannel
from touchflow.messaging.providers.viber import ViberProvider
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import EventKind, TimelineEvent

USER = "01234567890A="  # Viber user ids are case-sensitive base64
HANDLE = "warsawcentre"
SIGNATURE = "X-Viber-Content-Signature"
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
def fake() -> FakeViber:
    fake = FakeViber()
    fake.subscribers.add(USER)
    return fake


@pytest.fixture
def base_url(fake: FakeViber) -> Iterator[str]:
    with running(fake) as url:
        yield url


@pytest.fixture
def account(
    make_account: Callable[..., ChannelAccount], fake: FakeViber, base_url: str
) -> ChannelAccount:
    return make_account(
        "viber",
        base_url,
        {"auth_token": fake.auth_token, "sender_name": "Warsaw Centre"},
        handle=HANDLE,
    )


def provider(account: ChannelAccount, **options: Any) -> ViberProvider:
    built = providers.build(accounts.config(account), **options)
    assert isinstance(built, ViberProvider)
    return built


def message(
    text: str = "Hello Anna",
    address: str = USER,
    language: str = "en",
    quick_replies: tuple[str, ...] = (),
) -> OutgoingMessage:
    return OutgoingMessage(
        touch_id=1,
        idempotency_key="touch-1",
        channel="viber",
        address=address,
        text=text,
        language=language,
        quick_replies=quick_replies,
    )


def hook(
    client: Client,
    account: ChannelAccount,
    fake: FakeViber,
    body: bytes,
    signature: str | None = "",
) -> Any:
    """POST a callback signed as Viber signs it (or with ``signature``; None: unsigned)."""
    if signature == "":
        signature = fake.sign(body)
    headers = {} if signature is None else {SIGNATURE: signature}
    return post_hook(client, account, body, **headers)


# -- sending ------------------------------------------------------------------------------


def test_send_message_carries_the_keyboard_sender_and_tracking_data(
    account: ChannelAccount, fake: FakeViber
) -> None:
    result = provider(account).send_one(
        message("Jak się podoba sofa?", language="pl", quick_replies=("Podoba mi się",))
    )
    assert result == SendResult.sent("5741311803571721087")
    [request] = fake.sent("/pa/send_message")
    assert request.headers["x-viber-auth-token"] == fake.auth_token
    assert request.json() == {
        "receiver": USER,
        "type": "text",
        "text": "Jak się podoba sofa?",
        "sender": {"name": "Warsaw Centre"},
        "tracking_data": "touch-1",
        "keyboard": {
            "Type": "keyboard",
            "DefaultHeight": False,
            "Buttons": [
                {
                    "Columns": 6,
                    "Rows": 1,
                    "ActionType": "reply",
                    "ActionBody": "Podoba mi się",
                    "Text": "Podoba mi się",
                },
                {
                    "Columns": 6,
                    "Rows": 1,
                    "ActionType": "reply",
                    "ActionBody": "stop",
                    "Text": "Wypisz mnie",
                },
            ],
        },
    }


def test_send_text_is_plain_and_the_sender_defaults_to_the_handle(
    make_account: Callable[..., ChannelAccount], fake: FakeViber, base_url: str
) -> None:
    account = make_account("viber", base_url, {"auth_token": fake.auth_token}, handle=HANDLE)
    assert provider(account).send_text(USER, "We are open until 20:00").ok
    assert fake.messages() == [
        {
            "receiver": USER,
            "type": "text",
            "text": "We are open until 20:00",
            "sender": {"name": HANDLE},
        }
    ]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (vb.not_registered(), SendResult.failed("Viber 5: receiverNotRegistered")),
        (vb.not_subscribed(), SendResult.failed("Viber 6: notSubscribed")),
        (vb.status(2, "invalidAuthToken"), SendResult.failed("Viber 2: invalidAuthToken")),
        (vb.too_many_requests(), SendResult.retry("Viber 12: tooManyRequests")),
        (
            Answer(
                200,
                {"status": 12, "status_message": "tooManyRequests"},
                headers={"Retry-After": "30"},
            ),
            SendResult.retry("Viber 12: tooManyRequests", 30.0),
        ),
        (vb.status(99, "generalError"), SendResult.retry("Viber 99: generalError")),
        (
            Answer(503, "Service Unavailable"),
            SendResult.retry("Viber HTTP 503: Service Unavailable"),
        ),
        (Answer(429, "", headers={"Retry-After": "5"}), SendResult.retry("Viber HTTP 429: ", 5.0)),
        (Answer(404, "Not Found"), SendResult.failed("Viber HTTP 404: Not Found")),
        (
            Answer(200, "<html>oops</html>"),
            SendResult.retry("Viber: unreadable answer '<html>oops</html>'"),
        ),
    ],
    ids=[
        "not-registered",
        "not-subscribed",
        "bad-token",
        "rate-limited",
        "rate-limited-retry-after",
        "general-error",
        "http-503",
        "http-429",
        "http-404",
        "not-json",
    ],
)
def test_status_codes_map_to_final_or_retry(
    account: ChannelAccount, fake: FakeViber, answer: Answer, expected: SendResult
) -> None:
    fake.fail_next(answer)
    assert provider(account).send_one(message()) == expected


def test_the_api_itself_refuses_unknown_and_unsubscribed_users(
    account: ChannelAccount, fake: FakeViber
) -> None:
    fake.unregistered.add("gone=")
    live = provider(account)
    assert live.send_one(message(address="gone=")).error == "Viber 5: receiverNotRegistered"
    # Ids are case-sensitive: the same letters in another case are someone else.
    assert live.send_one(message(address=USER.lower())).error == "Viber 6: notSubscribed"


def test_timeout_and_refused_connection_are_retried(
    account: ChannelAccount, fake: FakeViber
) -> None:
    fake.fail_next(Answer(200, {"status": 0, "message_token": 1}, delay=2.0))
    slow = ViberProvider(accounts.config(account), timeout=0.2).send_one(message())
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
    account: ChannelAccount, fake: FakeViber, reuse: bool, connections: int
) -> None:
    live = provider(account, reuse=reuse)
    results = [live.send_one(message(f"Message {n}")) for n in range(20)]
    live.close()
    assert [r.provider_id for r in results] == [str(5741311803571721087 + n) for n in range(20)]
    assert fake.connections == connections


def test_set_webhook_asks_for_the_events_we_use(
    account: ChannelAccount, fake: FakeViber, settings: Any
) -> None:
    settings.TOUCHFLOW_PUBLIC_URL = "https://touchflow.example"
    assert provider(account).set_webhook().ok
    assert fake.webhook == {
        "url": f"https://touchflow.example/hooks/viber/{account.webhook_key}/",
        "event_types": [
            "delivered",
            "seen",
            "failed",
            "subscribed",
            "unsubscribed",
            "conversation_started",
        ],
        "send_name": True,
        "send_photo": False,
    }


# -- the webhook: who may post ---------------------------------------------------------------


def test_the_verification_ping_is_answered(
    client: Client, account: ChannelAccount, fake: FakeViber
) -> None:
    body = vb.callback("webhook", 4912661846655238145)
    assert hook(client, account, fake, body).status_code == 200
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    ("signature", "status"),
    [(None, 401), ("0" * 64, 403), ("another bot", 403), ("sha256=abc", 403)],
    ids=["missing", "forged", "signed-with-another-token", "garbage"],
)
def test_unsigned_or_forged_callbacks_change_nothing(
    client: Client, account: ChannelAccount, fake: FakeViber, signature: str | None, status: int
) -> None:
    point = linked(client, account, fake)
    body = vb.message(USER, "STOP", token=777)
    if signature == "another bot":
        signature = FakeViber(auth_token="another-bots-token").sign(body)
    assert hook(client, account, fake, body, signature=signature).status_code == status
    point.refresh_from_db()
    assert (point.contact_consent, point.marketing_consent) == (True, True)
    assert not InboundEvent.objects.filter(event_id="777:message").exists()


def test_an_account_without_a_token_accepts_nothing(
    client: Client, make_account: Callable[..., ChannelAccount], base_url: str
) -> None:
    account = make_account("viber", base_url, {}, handle=HANDLE)
    body = vb.message(USER, "Hello")
    unkeyed = FakeViber(auth_token="")
    assert hook(client, account, unkeyed, body).status_code == 403
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"timestamp": 1}',
        b'{"event": 5}',
        b'{"event": "message", "message_token": 1, "message": {"type": "text", "text": "x"}}',
        b'{"event": "message", "message_token": 1, "sender": {"id": 5},'
        b' "message": {"type": "text", "text": "x"}}',
        b'{"event": "message", "sender": {"id": "a="}, "message": {"type": "text", "text": "x"}}',
        b'{"event": "conversation_started", "message_token": 1, "user": "a="}',
        b'{"event": "unsubscribed", "message_token": 1}',
        b'{"event": "delivered", "message_token": null, "user_id": "a="}',
        b'{"event": "seen", "message_token": [1], "user_id": "a="}',
    ],
)
def test_malformed_callbacks_are_400_never_500(
    client: Client, account: ChannelAccount, fake: FakeViber, body: bytes
) -> None:
    response = hook(client, account, fake, body)
    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert not InboundEvent.objects.exists()


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "name", "type", "text"]), inner, max_size=3),
    max_leaves=6,
)
_fields = st.sampled_from(["timestamp", "message_token", "user", "sender", "message",
                           "user_id", "desc", "context"])


@settings(derandomize=True, database=None, deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=st.sampled_from(["webhook", "conversation_started", "message", "unsubscribed",
                              "delivered", "seen", "failed", "subscribed"]),
       fields=st.dictionaries(_fields, _json, max_size=6))
def test_any_callback_shape_is_read_or_refused_never_a_500(
    client: Client, account: ChannelAccount, fake: FakeViber, event: str,
    fields: dict[str, Any],
) -> None:
    """The callback is parsed into typed shapes at the edge: whatever its fields hold,
    the webhook answers 200 (read) or 400 (refused, naming the field)."""
    body = json.dumps({"event": event, **fields}).encode()
    response = hook(client, account, fake, body)
    assert response.status_code in (200, 400), response.content


def test_callbacks_we_do_not_act_on_are_taken_in(
    client: Client, account: ChannelAccount, fake: FakeViber
) -> None:
    subscribed = vb.callback("subscribed", user=vb.viber_user(USER))
    assert hook(client, account, fake, subscribed).json() == {
        "ok": True,
        "applied": 0,
        "duplicates": 0,
    }
    picture = vb.callback(
        "message",
        sender=vb.viber_user(USER),
        message={"type": "picture", "media": "http://x/y.jpg"},
    )
    assert hook(client, account, fake, picture).status_code == 200


# -- conversation_started from the QR deep link -----------------------------------------------


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


def linked(
    client: Client, account: ChannelAccount, fake: FakeViber, token: str = ""
) -> ContactPoint:
    """A Viber user linked through a QR token (a fresh one when ``token`` is empty)."""
    if not token:
        token = create_optin_token(account.store, None, channel="viber").token
    response = hook(client, account, fake, vb.conversation_started(USER, token, token=1))
    assert response.status_code == 200
    return ContactPoint.objects.get(kind="viber", value=USER)


def test_conversation_started_links_the_user_and_welcomes_in_the_response(
    client: Client, account: ChannelAccount, fake: FakeViber, store: Store, salesperson: Staff
) -> None:
    token = create_optin_token(store, salesperson, channel="viber").token
    customer = visit_with_token(store, salesperson, token)
    response = hook(client, account, fake, vb.conversation_started(USER, token))
    assert response.status_code == 200
    # The one message Viber lets a bot send before the user subscribes: the response.
    assert json.loads(response.content) == {
        "type": "text",
        "text": WELCOME,
        "sender": {"name": "Warsaw Centre"},
    }
    assert fake.messages() == []
    point = ContactPoint.objects.get(kind="viber")
    assert (point.customer_id, point.network, point.value) == (customer.pk, "bot", USER)
    assert sorted(
        ConsentEvent.objects.filter(contact_point=point).values_list("purpose", "granted", "source")
    ) == [("contact", True, "qr"), ("marketing", True, "qr")]
    # The phone typed at the counter stays a phone; the bot's id never mixes with it.
    assert sorted(ContactPoint.objects.values_list("kind", "network")) == [
        ("phone", ""),
        ("viber", "bot"),
    ]


def test_expired_token_links_nothing_and_says_so_in_the_response(
    client: Client, account: ChannelAccount, fake: FakeViber, store: Store
) -> None:
    old = create_optin_token(
        store, None, channel="viber", at=core_clock.now() - timedelta(hours=73)
    )
    response = hook(client, account, fake, vb.conversation_started(USER, old.token))
    assert json.loads(response.content)["text"] == SORRY
    assert not ContactPoint.objects.filter(kind="viber").exists()
    assert fake.messages() == []


def test_a_used_token_does_not_link_a_second_user(
    client: Client, account: ChannelAccount, fake: FakeViber
) -> None:
    token = create_optin_token(account.store, None, channel="viber").token
    first = linked(client, account, fake, token)
    other = USER.lower()  # another user, not the same one in another case
    response = hook(client, account, fake, vb.conversation_started(other, token, token=2))
    assert json.loads(response.content)["text"] == SORRY
    assert list(ContactPoint.objects.filter(kind="viber")) == [first]


def test_a_repeated_conversation_started_is_answered_once(
    client: Client, account: ChannelAccount, fake: FakeViber
) -> None:
    token = create_optin_token(account.store, None, channel="viber").token
    body = vb.conversation_started(USER, token, token=3)
    assert json.loads(hook(client, account, fake, body).content)["text"] == WELCOME
    again = hook(client, account, fake, body)
    assert (again.status_code, again.content) == (200, b"")
    assert ConsentEvent.objects.count() == 2


def test_opening_the_chat_without_a_code_asks_for_one(
    client: Client, account: ChannelAccount, fake: FakeViber
) -> None:
    response = hook(client, account, fake, vb.conversation_started(USER))
    assert json.loads(response.content)["text"] == (
        "Hello! To get messages from Warsaw Centre, scan the code at the counter."
    )
    assert not ContactPoint.objects.exists()


def test_typing_the_code_links_the_user_too(
    client: Client, account: ChannelAccount, fake: FakeViber
) -> None:
    token = create_optin_token(account.store, None, channel="viber").token
    hook(client, account, fake, vb.message(USER, token))
    assert ContactPoint.objects.get(kind="viber").value == USER
    # A subscriber now, so the answer goes through send_message, from the worker.
    deliver()
    assert [m["text"] for m in fake.messages()] == [WELCOME]


# -- replies, STOP, unsubscribing ----------------------------------------------------------


def test_a_reply_lands_on_the_customer_timeline_once(
    client: Client, account: ChannelAccount, fake: FakeViber
) -> None:
    point = linked(client, account, fake)
    body = vb.message(USER, "Is the blue sofa in stock?")
    assert hook(client, account, fake, body).json() == {"ok": True, "applied": 1, "duplicates": 0}
    assert hook(client, account, fake, body).json() == {"ok": True, "applied": 0, "duplicates": 1}
    event = TimelineEvent.objects.get(kind=EventKind.MESSAGE_IN)
    at = datetime.fromtimestamp(vb.STAMP / 1000, UTC)
    assert (event.customer_id, event.at, event.data) == (
        point.customer_id,
        at,
        {"channel": "viber", "text": "Is the blue sofa in stock?", "from": USER},
    )
    assert fake.messages() == []


def test_a_message_from_the_same_id_in_another_case_is_not_the_customer(
    client: Client, account: ChannelAccount, fake: FakeViber
) -> None:
    linked(client, account, fake)
    hook(client, account, fake, vb.message(USER.lower(), "Hello"))
    assert not TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN).exists()


@pytest.mark.parametrize("word", ["STOP", "СТОП", "wypisz", "stop"])
def test_stop_words_and_the_stop_button_withdraw_consent_and_confirm(
    client: Client, account: ChannelAccount, fake: FakeViber, word: str
) -> None:
    point = linked(client, account, fake)
    hook(client, account, fake, vb.message(USER, word))
    point.refresh_from_db()
    assert (point.contact_consent, point.marketing_consent) == (False, False)
    assert sorted(
        ConsentEvent.objects.filter(contact_point=point, granted=False).values_list(
            "purpose", "source"
        )
    ) == [("contact", "customer"), ("marketing", "customer")]
    deliver()
    assert fake.messages() == [
        {"receiver": USER, "type": "text", "text": STOPPED, "sender": {"name": "Warsaw Centre"}}
    ]


def test_unsubscribing_in_viber_withdraws_consent_silently(
    client: Client, account: ChannelAccount, fake: FakeViber
) -> None:
    point = linked(client, account, fake)
    body = vb.callback("unsubscribed", 4912661846655238199, user_id=USER)
    assert hook(client, account, fake, body).json()["applied"] == 1
    point.refresh_from_db()
    assert (point.contact_consent, point.marketing_consent) == (False, False)
    assert fake.messages() == []


# -- receipts on a touch the engine sent -----------------------------------------------------


@pytest.fixture
def sent_touch(
    client: Client,
    account: ChannelAccount,
    fake: FakeViber,
    store: Store,
    salesperson: Staff,
    flows: dict[str, Flow],
    clock: Clock,
) -> Touch:
    """The warming chain's first touch, sent on Viber to a user linked by QR."""
    token = create_optin_token(store, salesperson, channel="viber").token
    visit_with_token(store, salesperson, token)
    hook(client, account, fake, vb.conversation_started(USER, token))
    clock.move_to(START + timedelta(hours=3))
    dispatcher = Dispatcher({"viber": AccountChannel("viber")}, now=clock.now)
    try:
        assert dict(dispatcher.drain().outcomes) == {"sent": 1}
    finally:
        dispatcher.close()
    touch = Touch.objects.get(state="sent")
    assert (touch.channel, touch.provider_message_id) == ("viber", "5741311803571721087")
    assert fake.messages()[0]["tracking_data"] == touch.idempotency_key
    return touch


def test_delivered_then_seen_move_the_receipt_forward_only(
    client: Client,
    account: ChannelAccount,
    fake: FakeViber,
    sent_touch: Touch,
) -> None:
    token = sent_touch.provider_message_id
    hook(client, account, fake, vb.receipt("delivered", token, USER))
    sent_touch.refresh_from_db()
    assert sent_touch.receipt == "delivered"
    hook(client, account, fake, vb.receipt("seen", token, USER))
    # Viber posting "delivered" again (its retry) is the same event: nothing changes.
    retry = vb.callback("delivered", int(token), user_id=USER, timestamp=vb.STAMP + 5)
    assert hook(client, account, fake, retry).json() == {"ok": True, "applied": 0, "duplicates": 1}
    sent_touch.refresh_from_db()
    assert (sent_touch.receipt, sent_touch.state) == ("read", "sent")


def test_a_late_delivered_does_not_undo_seen(
    client: Client,
    account: ChannelAccount,
    fake: FakeViber,
    sent_touch: Touch,
) -> None:
    token = sent_touch.provider_message_id
    hook(client, account, fake, vb.receipt("seen", token, USER))
    assert hook(client, account, fake, vb.receipt("delivered", token, USER)).json()["applied"] == 1
    sent_touch.refresh_from_db()
    assert sent_touch.receipt == "read"


def test_a_failed_callback_sends_the_step_to_its_next_channel(
    client: Client,
    account: ChannelAccount,
    fake: FakeViber,
    sent_touch: Touch,
    clock: Clock,
) -> None:
    body = vb.receipt("failed", sent_touch.provider_message_id, USER, desc="failure description")
    assert hook(client, account, fake, body).json()["applied"] == 1
    assert hook(client, account, fake, body).json()["duplicates"] == 1
    sent_touch.refresh_from_db()
    assert (
        sent_touch.state,
        sent_touch.failed_channels,
        sent_touch.reason,
        sent_touch.receipt,
        sent_touch.last_error,
        sent_touch.provider_message_id,
    ) == ("queued", "viber", "fallback", "failed", "failure description", "")
    assert sent_touch.due_at == clock.now()


def test_a_receipt_for_a_message_we_do_not_know_changes_nothing(
    client: Client,
    account: ChannelAccount,
    fake: FakeViber,
    sent_touch: Touch,
) -> None:
    hook(client, account, fake, vb.receipt("seen", 1234, USER))
    sent_touch.refresh_from_db()
    assert sent_touch.receipt == ""
