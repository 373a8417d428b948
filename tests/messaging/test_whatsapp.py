"""WhatsApp Business Cloud API against a local fake that speaks the Graph API: the
24-hour window choosing template or free-form, reply buttons, errors, connection reuse,
the signed webhook (replies, STOP, the counter's QR opt-in, receipts, fallback)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.delivery.conftest import Clock
from tests.messaging.conftest import deliver, post_hook
from tests.messaging.fakes.base import Answer, running
from tests.messaging.fakes.whatsapp import (
    FakeWhatsApp,
    button_reply,
    error,
    notification,
    signature,
    status,
    text_message,
)
from tests.servers import Sink
from touchflow.customers.actions import create_optin_token
from touchflow.customers.models import ContactPoint
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch
from touchflow.flows.models import Flow
from touchflow.messaging import accounts, optin_links
from touchflow.messaging.models import ChannelAccount, InboundEvent
from touchflow.messaging.outbound import from_settings
from touchflow.messaging.providers.whatsapp import WhatsAppProvider
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

pytestmark = pytest.mark.django_db

SECRET = "meta-app-secret"
CREDENTIALS = {
    "token": "EAAG-test",
    "app_secret": SECRET,
    "verify_token": "verify-me",
    "phone_number_id": "1065403522",
    "template": "touchflow_message",
    "template_language": {"en": "en_US", "ru": "ru", "pl": "pl"},
}
PHONE = "+48501234567"  # the type3 visit's phone, as the contact point stores it
WA_ID = "48501234567"  # the same number as WhatsApp writes it

Whatsapp = tuple[FakeWhatsApp, ChannelAccount]


@pytest.fixture
def whatsapp(make_account: Callable[..., ChannelAccount]) -> Iterator[Whatsapp]:
    fake = FakeWhatsApp()
    with running(fake) as url:
        yield fake, make_account("whatsapp", url, dict(CREDENTIALS), handle="+48 22 100 20 30")


def provider(account: ChannelAccount, **options: Any) -> WhatsAppProvider:
    live = WhatsAppProvider(accounts.config(account), **options)
    assert isinstance(live, WhatsAppProvider)
    return live


def wa_point(
    visit: Visit, last_inbound_at: datetime | None = None, value: str = PHONE
) -> ContactPoint:
    """The visit's customer on WhatsApp, with consent; wrote to us at ``last_inbound_at``."""
    return ContactPoint.objects.create(
        customer_id=visit.customer_id,
        kind="whatsapp",
        value=value,
        contact_consent=True,
        marketing_consent=True,
        created_at=visit.occurred_at,
        last_inbound_at=last_inbound_at,
    )


def outgoing(
    text: str = "Hello Anna, thank you for stopping by.",
    address: str = PHONE,
    quick_replies: tuple[str, ...] = (),
    language: str = "en",
    key: str = "k-1",
) -> OutgoingMessage:
    return OutgoingMessage(
        touch_id=1,
        idempotency_key=key,
        channel="whatsapp",
        address=address,
        text=text,
        language=language,
        quick_replies=quick_replies,
    )


def hook(
    client: Client,
    account: ChannelAccount,
    value: dict[str, Any],
    phone_number_id: str = "1065403522",
) -> Any:
    body = notification(value, phone_number_id)
    return post_hook(client, account, body, X_Hub_Signature_256=signature(body, SECRET))


def ts(when: datetime) -> int:
    return int(when.timestamp())


# -- sending: the window decides ---------------------------------------------------------


def test_a_touch_outside_the_window_goes_as_the_approved_template(
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    fake, account = whatsapp
    wa_point(type3_visit(), last_inbound_at=clock.now() - timedelta(hours=24, minutes=1))
    text = "Hello Anna,\nthank you\tfor stopping by.      See you!"
    [result] = provider(account).send([outgoing(text, quick_replies=("Yes", "No"))])
    assert result == SendResult.sent("wamid.HBgL000001")
    [request] = fake.sent("/messages")
    assert request.path == "/v21.0/1065403522/messages"
    assert request.headers["authorization"] == "Bearer EAAG-test"
    assert request.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "template",
        "template": {
            "name": "touchflow_message",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Hello Anna, thank you for stopping by. See you!"}
                    ],
                }
            ],
        },
        "biz_opaque_callback_data": "k-1",
    }


def test_a_customer_who_never_wrote_gets_the_template_in_their_language(
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    fake, account = whatsapp
    wa_point(type3_visit())
    provider(account).send([outgoing("Dzień dobry!", language="pl")])
    [body] = fake.bodies()
    assert (body["type"], body["template"]["language"]) == ("template", {"code": "pl"})


def test_a_touch_inside_the_window_goes_free_form_with_reply_buttons(
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    fake, account = whatsapp
    wa_point(type3_visit(), last_inbound_at=clock.now() - timedelta(hours=23, minutes=59))
    live = provider(account)
    results = live.send(
        [
            outgoing(
                "Is everything OK with the sofa?",
                quick_replies=("All good", "I have a problem"),
                language="pl",
            ),
            outgoing("Three answers", quick_replies=("One", "Two", "Three is a very long label")),
            outgoing("No buttons needed"),
        ]
    )
    assert [r.ok for r in results] == [True, True, True]
    first, second, third = fake.bodies()
    assert first == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Is everything OK with the sofa?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "All good", "title": "All good"}},
                    {
                        "type": "reply",
                        "reply": {"id": "I have a problem", "title": "I have a problem"},
                    },
                    {"type": "reply", "reply": {"id": "stop", "title": "Wypisz mnie"}},
                ]
            },
        },
        "biz_opaque_callback_data": "k-1",
    }
    # Three quick replies fill the three buttons; titles are cut to 20 characters.
    assert [b["reply"] for b in second["interactive"]["action"]["buttons"]] == [
        {"id": "One", "title": "One"},
        {"id": "Two", "title": "Two"},
        {"id": "Three is a very long label", "title": "Three is a very long"},
    ]
    # Without quick replies a touch still carries the unsubscribe button.
    assert [b["reply"]["id"] for b in third["interactive"]["action"]["buttons"]] == ["stop"]


def test_a_long_text_inside_the_window_goes_as_plain_text(
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    fake, account = whatsapp
    wa_point(type3_visit(), last_inbound_at=clock.now() - timedelta(hours=1))
    long_text = "A careful answer. " * 80  # 1,440 characters: too long for buttons
    assert provider(account).send([outgoing(long_text, quick_replies=("Yes",))])[0].ok
    [body] = fake.bodies()
    assert (body["type"], body["text"]) == ("text", {"preview_url": False, "body": long_text})


def test_the_window_of_a_whole_batch_is_read_in_one_query_over_one_connection(
    whatsapp: Whatsapp,
    make_store: Callable[..., Store],
    clock: Clock,
    type3_visit: Callable[..., Visit],
    django_assert_num_queries: Any,
) -> None:
    fake, account = whatsapp
    visit = type3_visit()
    wa_point(visit, last_inbound_at=clock.now() - timedelta(hours=2))
    numbers = [PHONE] + [f"+4850123456{n}" for n in range(8, 10)] + ["+48601000111"]
    live = provider(account)
    with django_assert_num_queries(1):
        results = live.send([outgoing(address=n, key=f"k-{i}") for i, n in enumerate(numbers)])
    assert [r.ok for r in results] == [True] * 4
    assert [b["type"] for b in fake.bodies()] == ["interactive", "template", "template", "template"]
    assert [b["to"] for b in fake.bodies()] == [n.removeprefix("+") for n in numbers]
    assert len({r.provider_id for r in results}) == 4
    assert fake.connections == 1
    live.close()


def test_without_reuse_every_message_opens_its_own_connection(
    whatsapp: Whatsapp,
    clock: Clock,
) -> None:
    fake, account = whatsapp
    live = provider(account, reuse=False)
    live.send([outgoing(key=f"k-{i}") for i in range(3)])
    assert fake.connections == 3


def test_a_window_that_closed_before_whatsapp_saw_the_message_sends_the_template(
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    fake, account = whatsapp
    wa_point(type3_visit(), last_inbound_at=clock.now() - timedelta(hours=23, minutes=59))
    fake.closed.add(WA_ID)
    [result] = provider(account).send([outgoing()])
    assert result == SendResult.sent("wamid.HBgL000001")
    assert [b["type"] for b in fake.bodies()] == ["interactive", "template"]


def test_outside_the_window_without_a_template_nothing_is_sent(
    whatsapp: Whatsapp,
    make_account: Callable[..., ChannelAccount],
    make_store: Callable[..., Store],
    clock: Clock,
) -> None:
    fake, account = whatsapp
    credentials = {k: v for k, v in CREDENTIALS.items() if k != "template"}
    bare = make_account(
        "whatsapp", account.base_url, credentials, for_store=make_store(name="Other")
    )
    [result] = provider(bare).send([outgoing()])
    assert (result.ok, result.transient) == (False, False)
    assert "template" in result.error and "24 hours" in result.error
    assert fake.requests == []


# -- staff replies: the 24-hour rule -----------------------------------------------------


def test_a_staff_reply_outside_the_window_fails_naming_the_24_hour_rule(
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    fake, account = whatsapp
    wa_point(type3_visit(), last_inbound_at=clock.now() - timedelta(hours=25))
    result = provider(account).send_text(PHONE, "Yes, we have it in blue.")
    assert result == SendResult.failed(
        "WhatsApp allows a free-form message only within 24 hours of the customer's last "
        "message to you. Wait until they write again, or reach them on another channel."
    )
    assert fake.requests == []
    never_wrote = provider(account).send_text("+48601000111", "Hello")
    assert (never_wrote.ok, never_wrote.transient) == (False, False)
    assert fake.requests == []


def test_a_staff_reply_inside_the_window_goes_as_text(
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    fake, account = whatsapp
    wa_point(type3_visit(), last_inbound_at=clock.now() - timedelta(minutes=5))
    live = provider(account)
    assert live.send_text(PHONE, "Yes, we have it in blue.").ok
    assert live.send_text(
        WA_ID, "Anything else?", quick_replies=("No, thanks",), unsubscribe_button=True
    ).ok
    plain, buttons = fake.bodies()
    assert plain == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"preview_url": False, "body": "Yes, we have it in blue."},
    }
    assert [b["reply"] for b in buttons["interactive"]["action"]["buttons"]] == [
        {"id": "No, thanks", "title": "No, thanks"},
        {"id": "stop", "title": "Stop messages"},
    ]
    # Once 24 hours have passed since the customer wrote, the same reply is refused.
    clock.advance(hours=24)
    assert not live.send_text(PHONE, "Still there?").ok
    assert len(fake.bodies()) == 2


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "transient", "retry_after", "error_start"),
    [
        (error(131026, "Message Undeliverable."), False, None, "WhatsApp 131026:"),
        (error(100, "Invalid parameter: to"), False, None, "WhatsApp 100:"),
        (error(131030), False, None, "WhatsApp 131030:"),
        (error(131050), False, None, "WhatsApp 131050:"),
        (error(190), False, None, "WhatsApp 190:"),
        (error(132001), False, None, "WhatsApp 132001:"),
        (error(130429, headers={"Retry-After": "7"}), True, 7.0, "WhatsApp 130429:"),
        (error(131056), True, None, "WhatsApp 131056:"),
        (error(80007), True, None, "WhatsApp 80007:"),
        (error(131000), True, None, "WhatsApp 131000:"),
        (error(2), True, None, "WhatsApp 2:"),
        (Answer(502, "<html>Bad Gateway</html>"), True, None, "WhatsApp 502:"),
    ],
)
def test_errors_are_final_or_retried_as_meta_documents_them(
    whatsapp: Whatsapp,
    clock: Clock,
    answer: Answer,
    transient: bool,
    retry_after: float | None,
    error_start: str,
) -> None:
    fake, account = whatsapp
    fake.fail_next(answer)
    [result] = provider(account).send([outgoing()])
    assert (result.ok, result.transient, result.retry_after) == (False, transient, retry_after)
    assert result.error.startswith(error_start)


def test_a_timeout_is_retried(whatsapp: Whatsapp, clock: Clock) -> None:
    fake, account = whatsapp
    fake.fail_next(Answer(200, {"messages": [{"id": "late"}]}, delay=1.0))
    [result] = provider(account, timeout=0.2).send([outgoing()])
    assert (result.ok, result.transient) == (False, True)
    assert result.error.startswith(("ReadTimeout", "WriteTimeout", "ConnectTimeout"))


def test_a_refused_connection_is_retried(
    make_account: Callable[..., ChannelAccount],
    clock: Clock,
) -> None:
    account = make_account("whatsapp", "http://127.0.0.1:9", dict(CREDENTIALS))
    [result] = provider(account).send([outgoing()])
    assert (result.ok, result.transient) == (False, True)


# -- webhook: verification and signatures ----------------------------------------------


def test_the_subscription_check_echoes_the_challenge_only_for_our_verify_token(
    client: Client,
    whatsapp: Whatsapp,
) -> None:
    path = whatsapp[1].webhook_path()
    ok = client.get(
        path,
        {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"},
    )
    assert (ok.status_code, ok.content, ok["Content-Type"]) == (200, b"1158201444", "text/plain")
    wrong = client.get(
        path, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}
    )
    assert wrong.status_code == 403 and b"1158201444" not in wrong.content
    assert client.get(path).status_code == 405


def test_forged_and_unsigned_webhooks_change_nothing(
    client: Client,
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    account = whatsapp[1]
    point = wa_point(type3_visit())
    body = notification(text_message(WA_ID, "STOP", "wamid.in1", ts(clock.now())))
    assert post_hook(client, account, body).status_code == 401
    forged = post_hook(client, account, body, X_Hub_Signature_256=signature(body, "not-the-secret"))
    assert forged.status_code == 403
    tampered = body.replace(b"STOP", b"stop")
    assert (
        post_hook(
            client, account, tampered, X_Hub_Signature_256=signature(body, SECRET)
        ).status_code
        == 403
    )
    point.refresh_from_db()
    assert (point.contact_consent, point.last_inbound_at) == (True, None)
    assert InboundEvent.objects.count() == 0
    assert TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN).count() == 0
    assert whatsapp[0].requests == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object": "whatsapp_business_account", "entry": {}}',
        notification(
            {
                "messages": [
                    {"id": "wamid.x", "timestamp": "1", "type": "text", "text": {"body": "hi"}}
                ]
            }
        ),  # no "from"
        notification(
            {
                "messages": [
                    {
                        "from": WA_ID,
                        "id": "wamid.x",
                        "timestamp": "soon",
                        "type": "text",
                        "text": {"body": "hi"},
                    }
                ]
            }
        ),
        notification(
            {
                "messages": [
                    {"from": WA_ID, "id": "wamid.x", "timestamp": "1", "type": "text", "text": "hi"}
                ]
            }
        ),
        notification({"statuses": ["delivered"]}),
        notification({"contacts": [{"profile": {"name": "A"}}]}),
        json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [{"changes": [{"field": "messages", "value": None}]}],
            }
        ).encode(),
    ],
)
def test_malformed_webhooks_are_400_never_500(
    client: Client,
    whatsapp: Whatsapp,
    body: bytes,
) -> None:
    response = post_hook(client, whatsapp[1], body, X_Hub_Signature_256=signature(body, SECRET))
    assert response.status_code == 400
    assert InboundEvent.objects.count() == 0


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["from", "id", "timestamp", "type", "text", "body", "button",
                         "payload", "interactive", "button_reply", "status", "errors",
                         "code", "wa_id", "profile", "name"]), inner, max_size=4),
    max_leaves=8,
)


@settings(derandomize=True, database=None, deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["messages", "statuses", "contacts", "metadata"]), value=_json)
def test_any_notification_shape_is_read_or_refused_never_a_500(
    client: Client, whatsapp: Whatsapp, key: str, value: Any
) -> None:
    """The notification is parsed into typed shapes at the edge: whatever a change's value
    holds, the webhook answers 200 (read) or 400 (refused, naming the field)."""
    body = notification({key: value})
    response = post_hook(client, whatsapp[1], body, X_Hub_Signature_256=signature(body, SECRET))
    assert response.status_code in (200, 400), response.content


def test_events_of_another_phone_number_and_other_objects_are_ignored(
    client: Client,
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    account = whatsapp[1]
    wa_point(type3_visit())
    other = hook(
        client,
        account,
        text_message(WA_ID, "hi", "wamid.in1", ts(clock.now())),
        phone_number_id="999",
    )
    page = json.dumps({"object": "page", "entry": []}).encode()
    assert other.status_code == 200
    assert (
        post_hook(client, account, page, X_Hub_Signature_256=signature(page, SECRET)).status_code
        == 200
    )
    assert InboundEvent.objects.count() == 0


# -- webhook: what customers write -------------------------------------------------------


def test_a_reply_lands_on_the_timeline_once_and_opens_the_window(
    client: Client,
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    fake, account = whatsapp
    visit = type3_visit()
    point = wa_point(visit)
    wrote_at = clock.now() - timedelta(minutes=2)
    value = text_message(WA_ID, "Do you have it in blue?", "wamid.in1", ts(wrote_at))
    first, again = hook(client, account, value), hook(client, account, value)
    assert (first.json()["applied"], again.json()["duplicates"]) == (1, 1)
    rows = TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN, customer_id=visit.customer_id)
    assert [(r.data["channel"], r.data["text"]) for r in rows] == [
        ("whatsapp", "Do you have it in blue?")
    ]
    point.refresh_from_db()
    assert point.last_inbound_at == wrote_at
    # Staff may now answer free-form, from any process (the window is in the database).
    assert provider(account).send_text(PHONE, "Yes, in blue and in green.").ok
    assert fake.bodies()[-1]["type"] == "text"


@pytest.mark.parametrize("text", ["STOP", "Отписаться", "wypisz"])
def test_stop_withdraws_consent_and_the_confirmation_goes_free_form(
    client: Client,
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
    text: str,
) -> None:
    fake, account = whatsapp
    point = wa_point(type3_visit())
    response = hook(client, account, text_message(WA_ID, text, "wamid.in1", ts(clock.now())))
    assert response.status_code == 200
    point.refresh_from_db()
    assert point.contact_consent is False
    # The customer just wrote: the window is open for the confirmation, though the
    # STOP itself set no last_inbound_at.
    assert fake.bodies() == []
    deliver()
    [body] = fake.bodies()
    assert (body["to"], body["type"]) == (WA_ID, "text")


def test_the_unsubscribe_button_withdraws_consent(
    client: Client,
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    point = wa_point(type3_visit())
    hook(
        client,
        whatsapp[1],
        button_reply(WA_ID, "stop", "Stop messages", "wamid.in1", ts(clock.now())),
    )
    point.refresh_from_db()
    assert point.contact_consent is False


def test_a_quick_reply_button_lands_on_the_timeline_as_its_answer(
    client: Client,
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    visit = type3_visit()
    wa_point(visit)
    hook(
        client,
        whatsapp[1],
        button_reply(WA_ID, "All good", "All good", "wamid.in1", ts(clock.now())),
    )
    template_button = {
        "contacts": [{"profile": {"name": "Anna"}, "wa_id": WA_ID}],
        "messages": [
            {
                "from": WA_ID,
                "id": "wamid.in2",
                "timestamp": str(ts(clock.now())),
                "type": "button",
                "button": {"payload": "Call me", "text": "Call me"},
            }
        ],
    }
    hook(client, whatsapp[1], template_button)
    rows = TimelineEvent.objects.filter(kind=EventKind.MESSAGE_IN, customer_id=visit.customer_id)
    assert [r.data["text"] for r in rows.order_by("pk")] == ["All good", "Call me"]


def test_the_counter_qr_link_links_the_customer_who_sends_its_code(
    client: Client,
    whatsapp: Whatsapp,
    store: Store,
    salesperson: Staff,
    clock: Clock,
) -> None:
    fake, account = whatsapp
    token = create_optin_token(store, salesperson, channel="whatsapp")
    link = optin_links.link(token)
    parts = urlsplit(link)
    assert (parts.netloc, parts.path) == ("wa.me", "/48221002030")
    prefilled = parse_qs(parts.query)["text"][0]
    assert prefilled == f"START {token.token}"
    response = hook(
        client,
        account,
        text_message(WA_ID, prefilled, "wamid.in1", ts(clock.now()), name="Jan Kowalski"),
    )
    assert response.status_code == 200
    point = ContactPoint.objects.get(kind="whatsapp")
    assert (point.value, point.network, point.contact_consent, point.marketing_consent) == (
        PHONE,
        "",
        True,
        True,
    )
    assert point.customer.name == "Jan Kowalski"
    # The thank-you goes free-form: the customer has just written.
    deliver()
    [body] = fake.bodies()
    assert (body["to"], body["type"]) == (WA_ID, "text")
    assert "Warsaw Centre" in body["text"]["body"]


def test_the_bare_code_from_an_unknown_number_links_it_too(
    client: Client,
    whatsapp: Whatsapp,
    store: Store,
    salesperson: Staff,
    clock: Clock,
) -> None:
    fake, account = whatsapp
    token = create_optin_token(store, salesperson, channel="whatsapp")
    hook(client, account, text_message(WA_ID, f"  {token.token} ", "wamid.in1", ts(clock.now())))
    point = ContactPoint.objects.get(kind="whatsapp")
    assert (point.value, point.contact_consent) == (PHONE, True)
    telegram_token = create_optin_token(store, salesperson, channel="telegram")
    hook(
        client,
        account,
        text_message("48601000111", f"START {telegram_token.token}", "wamid.in2", ts(clock.now())),
    )
    assert not ContactPoint.objects.filter(value="+48601000111").exists()
    deliver()
    assert [b["to"] for b in fake.bodies()] == [WA_ID, "48601000111"]


# -- webhook: receipts ------------------------------------------------------------------


def sent_touch(
    type3_visit: Callable[..., Visit], clock: Clock, sink: tuple[Sink, str]
) -> tuple[Touch, Dispatcher]:
    """The warming chain's first touch, sent on WhatsApp by the engine."""
    wa_point(type3_visit())
    clock.move_to(datetime(2026, 6, 2, 15, 0, tzinfo=UTC))
    dispatcher = Dispatcher(from_settings(f"sms={sink[1]}", accounts=True), now=clock.now)
    dispatcher.run_round()
    touch = Touch.objects.get(step__key="thank-you")
    return touch, dispatcher


def test_the_engine_sends_a_touch_as_the_template_and_receipts_move_it_forward(
    client: Client,
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
    flows: dict[str, Flow],
    sink: tuple[Sink, str],
) -> None:
    fake, account = whatsapp
    touch, dispatcher = sent_touch(type3_visit, clock, sink)
    assert (touch.state, touch.channel, touch.provider_message_id) == (
        "sent",
        "whatsapp",
        "wamid.HBgL000001",
    )
    [body] = fake.bodies()
    assert (body["type"], body["template"]["name"], body["to"]) == (
        "template",
        "touchflow_message",
        WA_ID,
    )
    assert body["biz_opaque_callback_data"] == touch.idempotency_key
    now = ts(clock.now())
    sent = hook(client, account, status("wamid.HBgL000001", "sent", WA_ID, now))
    assert sent.json()["applied"] == 0
    delivered = status("wamid.HBgL000001", "delivered", WA_ID, now)
    assert hook(client, account, delivered).json()["applied"] == 1
    assert hook(client, account, delivered).json()["duplicates"] == 1
    touch.refresh_from_db()
    assert touch.receipt == "delivered"
    hook(client, account, status("wamid.HBgL000001", "read", WA_ID, now))
    touch.refresh_from_db()
    assert (touch.receipt, touch.state) == ("read", "sent")
    assert sink[0].received == []
    dispatcher.close()


def test_a_number_that_cannot_get_whatsapp_falls_back_to_the_next_channel(
    client: Client,
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
    flows: dict[str, Flow],
    sink: tuple[Sink, str],
) -> None:
    touch, dispatcher = sent_touch(type3_visit, clock, sink)
    failed = status(
        touch.provider_message_id,
        "failed",
        WA_ID,
        ts(clock.now()),
        errors=[(131026, "Message undeliverable")],
    )
    assert hook(client, whatsapp[1], failed).status_code == 200
    touch.refresh_from_db()
    assert (touch.state, touch.failed_channels, touch.reason, touch.receipt) == (
        "queued",
        "whatsapp",
        "fallback",
        "failed",
    )
    assert touch.last_error == "WhatsApp 131026: Message undeliverable"
    dispatcher.run_round()
    touch.refresh_from_db()
    assert (touch.state, touch.channel) == ("sent", "sms")
    assert [m["to"] for m in sink[0].received] == [PHONE]
    dispatcher.close()


def test_a_failure_that_is_not_about_the_number_is_only_recorded(
    client: Client,
    whatsapp: Whatsapp,
    type3_visit: Callable[..., Visit],
    clock: Clock,
    flows: dict[str, Flow],
    sink: tuple[Sink, str],
) -> None:
    touch, dispatcher = sent_touch(type3_visit, clock, sink)
    failed = status(
        touch.provider_message_id,
        "failed",
        WA_ID,
        ts(clock.now()),
        errors=[
            (131049, "This message was not delivered to maintain healthy ecosystem engagement.")
        ],
    )
    hook(client, whatsapp[1], failed)
    touch.refresh_from_db()
    assert (touch.state, touch.receipt, touch.failed_channels) == ("sent", "failed", "")
    assert touch.last_error.startswith("WhatsApp 131049:")
    dispatcher.run_round()
    assert sink[0].received == []
    dispatcher.close()
