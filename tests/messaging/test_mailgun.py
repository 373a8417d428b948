"""E-mail through Mailgun: anymail's backend against a local Mailgun, and Mailgun's
signed event webhooks (receipts, bounces, complaints, unsubscribes)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client, RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.delivery.conftest import Clock
from tests.messaging.conftest import deliver, post_hook
from tests.messaging.fakes.base import Answer, running
from tests.messaging.fakes.mailgun import INVALID_TO, FakeMailgun, event, signed_event
from tests.servers import Sink, SmtpInbox, free_port
from touchflow.customers.models import ConsentEvent, ContactPoint
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch
from touchflow.flows.models import Flow
from touchflow.messaging import accounts
from touchflow.messaging.models import ChannelAccount, InboundEvent
from touchflow.messaging.outbound import from_settings
from touchflow.messaging.providers.base import (
    Bounce,
    Complaint,
    Inbound,
    Receipt,
    Unsubscribed,
)
from touchflow.messaging.providers.mailgun import MailgunProvider
from touchflow.stores.models import Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

pytestmark = pytest.mark.django_db

KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SIGNING_KEY = "whsk-6b2a0f1c9e"
DOMAIN = "mg.shop.test"
FROM = "Warsaw Centre <shop@mg.shop.test>"
ANNA = "anna@example.com"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def mailgun(
    make_account: Callable[..., ChannelAccount],
) -> Iterator[tuple[FakeMailgun, ChannelAccount]]:
    fake = FakeMailgun(api_key=KEY, domains=(DOMAIN,))
    with running(fake) as url:
        account = make_account(
            "mailgun",
            f"{url}/v3",
            {"api_key": KEY, "domain": DOMAIN, "webhook_signing_key": SIGNING_KEY},
            handle=FROM,
        )
        yield fake, account


def provider_of(account: ChannelAccount, **options: Any) -> MailgunProvider:
    return MailgunProvider(accounts.config(account), **options)


def touch_message(address: str = ANNA, key: str = "touch-41-key") -> OutgoingMessage:
    return OutgoingMessage(
        touch_id=41,
        idempotency_key=key,
        channel="email",
        address=address,
        text="Hello Anna,\nthe guide you asked for.",
        subject="How to choose without regrets",
        language="en",
        store_id=1,
        unsubscribe_url="https://touchflow.test/u/abc/",
    )


def hook(
    client: Client,
    account: ChannelAccount,
    data: dict[str, Any],
    at: datetime | None = None,
    key: str = SIGNING_KEY,
) -> Any:
    """POST a Mailgun event signed now (or at ``at``) with ``key``."""
    from touchflow.core import clock

    stamp = int((at or clock.now()).timestamp())
    return post_hook(client, account, signed_event(key, data, stamp))


def dispatcher_for(clock: Clock, spec: str = "") -> Dispatcher:
    """The engine's channels: the stores' own accounts, ``spec`` for stores without."""
    return Dispatcher(from_settings(spec, accounts=True), now=clock.now)


# -- sending ----------------------------------------------------------------------------


def test_a_touch_goes_to_mailgun_as_documented_with_one_click_unsubscribe(
    mailgun: tuple[FakeMailgun, ChannelAccount],
) -> None:
    fake, account = mailgun
    result = provider_of(account).send_one(touch_message())
    # Mailgun answers "<id>"; its events carry the id without the brackets.
    assert result == SendResult.sent("20260602150000.1.1@mg.shop.test")
    request = fake.requests[0]
    assert (request.method, request.path) == ("POST", "/v3/mg.shop.test/messages")
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()
    )
    assert fake.messages() == [
        {
            "from": [FROM],
            "to": [ANNA],
            "subject": ["How to choose without regrets"],
            "text": ["Hello Anna,\nthe guide you asked for."],
            "h:List-Unsubscribe": ["<https://touchflow.test/u/abc/>"],
            "h:List-Unsubscribe-Post": ["List-Unsubscribe=One-Click"],
            "h:X-Touchflow-Key": ["touch-41-key"],
            "v:touchflow_key": ["touch-41-key"],
        }
    ]


def test_a_staff_reply_takes_its_subject_from_its_first_line_and_has_no_unsubscribe_header(
    mailgun: tuple[FakeMailgun, ChannelAccount],
) -> None:
    fake, account = mailgun
    text = "Yes, the blue one is back in stock\n\nCome by any day after 10."
    result = provider_of(account).send_text(ANNA, text, quick_replies=("Yes", "No"))
    assert result == SendResult.sent("20260602150000.1.1@mg.shop.test")
    assert fake.messages() == [
        {
            "from": [FROM],
            "to": [ANNA],
            "subject": ["Yes, the blue one is back in stock"],
            "text": [text],
        }
    ]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Answer(400, {"message": INVALID_TO}), SendResult.failed(f"Mailgun 400: {INVALID_TO}")),
        (Answer(401, "Forbidden"), SendResult.failed("Mailgun 401: Forbidden")),
        (
            Answer(429, {"message": "Too many requests"}, {"Retry-After": "30"}),
            SendResult.retry("Mailgun 429: Too many requests", 30.0),
        ),
        (
            Answer(500, {"message": "Internal Server Error"}),
            SendResult.retry("Mailgun 500: Internal Server Error"),
        ),
        (
            Answer(503, "<html>Service Unavailable</html>"),
            SendResult.retry("Mailgun 503: <html>Service Unavailable</html>"),
        ),
    ],
    ids=["invalid-address", "bad-key", "rate-limited", "server-error", "unavailable"],
)
def test_mailgun_errors_map_to_the_retry_rules(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    answer: Answer,
    expected: SendResult,
) -> None:
    fake, account = mailgun
    fake.fail_next(answer)
    assert provider_of(account).send_one(touch_message()) == expected


def test_an_unknown_sender_domain_is_final(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    make_account: Callable[..., ChannelAccount],
    make_store: Callable[..., Store],
) -> None:
    fake, account = mailgun
    other = make_account(
        "mailgun",
        account.base_url,
        {"api_key": KEY, "domain": "mg.nope.test"},
        handle="Shop <shop@mg.nope.test>",
        for_store=make_store(),
    )
    result = provider_of(other).send_one(touch_message())
    assert (result.ok, result.transient) == (False, False)
    assert result.error.startswith("Mailgun 404: ")
    assert fake.sent()[0].path == "/v3/mg.nope.test/messages"


def test_an_address_anymail_cannot_parse_fails_without_a_request(
    mailgun: tuple[FakeMailgun, ChannelAccount],
) -> None:
    fake, account = mailgun
    result = provider_of(account).send_one(touch_message(address="not an address"))
    assert (result.ok, result.transient) == (False, False)
    assert fake.requests == []


def test_a_timeout_and_a_refused_connection_are_retried(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    make_account: Callable[..., ChannelAccount],
    make_store: Callable[..., Store],
) -> None:
    fake, account = mailgun
    fake.fail_next(
        Answer(200, {"id": "<late@mg.shop.test>", "message": "Queued. Thank you."}, delay=1.0)
    )
    slow = provider_of(account, timeout=0.2).send_one(touch_message())
    assert (slow.ok, slow.transient) == (False, True)
    assert "Timeout" in slow.error
    closed = make_account(
        "mailgun",
        f"http://127.0.0.1:{free_port()}/v3",
        {"api_key": KEY, "domain": DOMAIN},
        handle=FROM,
        for_store=make_store(),
    )
    refused = provider_of(closed).send_one(touch_message())
    assert (refused.ok, refused.transient) == (False, True)
    assert "ConnectionError" in refused.error


def test_an_account_without_an_api_key_fails_without_a_request(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    make_account: Callable[..., ChannelAccount],
    make_store: Callable[..., Store],
) -> None:
    fake, account = mailgun
    empty = make_account("mailgun", account.base_url, {}, handle=FROM, for_store=make_store())
    assert provider_of(empty).send_one(touch_message()) == SendResult.failed(
        "Mailgun account without an API key or a From address"
    )
    assert fake.requests == []


@pytest.mark.parametrize(("reuse", "connections"), [(True, 1), (False, 5)])
def test_sends_share_one_connection_only_when_reusing(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    reuse: bool,
    connections: int,
) -> None:
    fake, account = mailgun
    provider = provider_of(account, reuse=reuse)
    results = provider.send([touch_message(key=f"k{i}") for i in range(5)])
    provider.close()
    assert [r.provider_id for r in results] == [
        f"20260602150000.{i}.1@mg.shop.test" for i in range(1, 6)
    ]
    assert fake.connections == connections


def test_stores_without_a_mailgun_account_still_send_through_smtp(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    make_store: Callable[..., Store],
    smtp: tuple[SmtpInbox, str],
    clock: Clock,
) -> None:
    fake, account = mailgun
    other = make_store()
    channel = from_settings(f"email={smtp[1]}", accounts=True)["email"]
    ours = OutgoingMessage(1, "k-ours", "email", ANNA, "Hi", "Hello", store_id=account.store_id)
    theirs = OutgoingMessage(
        2, "k-theirs", "email", "jan@example.com", "Hi", "Hello", store_id=other.pk
    )
    results = channel.send([ours, theirs])
    channel.close()
    assert [r.ok for r in results] == [True, True]
    assert [m["to"] for m in fake.messages()] == [[ANNA]]
    assert [m["To"] for m in smtp[0].messages] == ["jan@example.com"]


# -- webhooks: what each event means ------------------------------------------------------


def parse(account: ChannelAccount, data: dict[str, Any]) -> list[Inbound]:
    from touchflow.core import clock

    body = signed_event(SIGNING_KEY, data, int(clock.now().timestamp()))
    request = RequestFactory().post("/", data=body, content_type="application/json")
    return provider_of(account).parse_webhook(request)


MID = "20260602150000.1.1@mg.shop.test"


def failed(severity: str, reason: str, code: int, description: str) -> dict[str, Any]:
    return event(
        "failed",
        "ev-1",
        ANNA,
        MID,
        severity=severity,
        reason=reason,
        **{
            "delivery-status": {
                "code": code,
                "message": "",
                "description": description,
                "attempt-no": 1,
            }
        },
    )


@pytest.mark.parametrize(
    ("data", "items"),
    [
        (event("delivered", "ev-1", ANNA, MID), [Receipt("ev-1", MID, "delivered")]),
        (event("opened", "ev-1", ANNA, f"<{MID}>"), [Receipt("ev-1", MID, "read")]),
        (event("accepted", "ev-1", ANNA, MID), []),
        (
            failed("permanent", "bounce", 550, "5.1.1 mailbox does not exist"),
            [
                Receipt("ev-1", MID, "failed", "550 5.1.1 mailbox does not exist"),
                Bounce("ev-1:bounce", ANNA, hard=True, error="550 5.1.1 mailbox does not exist"),
            ],
        ),
        (
            failed(
                "permanent", "suppress-bounce", 605, "Not delivering to previously bounced address"
            ),
            [
                Receipt("ev-1", MID, "failed", "605 Not delivering to previously bounced address"),
                Bounce(
                    "ev-1:bounce",
                    ANNA,
                    hard=True,
                    error="605 Not delivering to previously bounced address",
                ),
            ],
        ),
        (
            failed("permanent", "old", 0, "Too old"),
            [
                Receipt("ev-1", MID, "failed", "0 Too old"),
                Bounce("ev-1:bounce", ANNA, hard=False, error="0 Too old"),
            ],
        ),
        (
            failed(
                "permanent", "suppress-unsubscribe", 606, "Not delivering to unsubscribed address"
            ),
            [
                Receipt("ev-1", MID, "failed", "606 Not delivering to unsubscribed address"),
                Unsubscribed("ev-1:unsubscribed", ANNA),
            ],
        ),
        (
            failed("temporary", "generic", 452, "4.2.2 mailbox full"),
            [Bounce("ev-1", ANNA, hard=False, error="452 4.2.2 mailbox full")],
        ),
        (event("complained", "ev-1", ANNA, MID), [Complaint("ev-1", ANNA)]),
        (event("unsubscribed", "ev-1", ANNA, MID), [Unsubscribed("ev-1", ANNA)]),
    ],
    ids=[
        "delivered",
        "opened",
        "accepted",
        "hard-bounce",
        "suppressed-bounce",
        "too-old",
        "suppressed-unsubscribe",
        "temporary",
        "complained",
        "unsubscribed",
    ],
)
def test_each_mailgun_event_becomes_its_items(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    clock: Clock,
    data: dict[str, Any],
    items: list[Inbound],
) -> None:
    assert parse(mailgun[1], data) == items


# -- webhooks: signatures and bodies -------------------------------------------------------


def sent_by_email(
    type3_visit: Callable[..., Visit], clock: Clock, spec: str = ""
) -> tuple[Visit, Touch, Dispatcher]:
    """Anna left only her e-mail; the thank-you goes out through Mailgun at 17:00."""
    visit = type3_visit(phone=None, email=ANNA)
    clock.move_to(utc(2026, 6, 2, 15, 0))
    dispatcher = dispatcher_for(clock, spec)
    dispatcher.drain()
    return visit, Touch.objects.get(step__key="thank-you"), dispatcher


def test_a_delivered_event_updates_the_receipt_once_however_often_it_comes(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    type3_visit: Callable[..., Visit],
    flows: dict[str, Flow],
    clock: Clock,
    client: Client,
) -> None:
    fake, account = mailgun
    _visit, touch, dispatcher = sent_by_email(type3_visit, clock)
    assert (touch.state, touch.channel, touch.provider_message_id) == ("sent", "email", MID)
    assert fake.messages()[0]["v:touchflow_key"] == [touch.idempotency_key]
    clock.advance(minutes=2)
    data = event("delivered", "ev-d1", ANNA, MID)
    first, again = hook(client, account, data), hook(client, account, data)
    assert (first.status_code, first.json()) == (200, {"ok": True, "applied": 1, "duplicates": 0})
    assert (again.status_code, again.json()) == (200, {"ok": True, "applied": 0, "duplicates": 1})
    touch.refresh_from_db()
    assert (touch.receipt, touch.receipt_at) == ("delivered", clock.now())
    assert TimelineEvent.objects.filter(kind="touch", data__outcome="delivered").count() == 1
    dispatcher.close()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"event-data": event("delivered", "x", ANNA, MID)}, 401),
        (
            {
                "signature": {"timestamp": "1780412400", "token": "t" * 50},
                "event-data": event("delivered", "x", ANNA, MID),
            },
            401,
        ),
        (
            {
                "signature": {"timestamp": "1780412400", "token": "t" * 50, "signature": "ab" * 32},
                "event-data": event("delivered", "x", ANNA, MID),
            },
            403,
        ),
    ],
    ids=["no-signature", "signature-field-missing", "forged"],
)
def test_missing_and_forged_signatures_are_refused_and_change_nothing(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    type3_visit: Callable[..., Visit],
    flows: dict[str, Flow],
    clock: Clock,
    client: Client,
    body: dict[str, Any],
    status: int,
) -> None:
    _visit, touch, dispatcher = sent_by_email(type3_visit, clock)
    response = post_hook(client, mailgun[1], json.dumps(body))
    assert response.status_code == status
    touch.refresh_from_db()
    assert touch.receipt == ""
    assert InboundEvent.objects.count() == 0
    dispatcher.close()


def test_an_event_signed_with_another_key_or_too_long_ago_is_refused(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    clock: Clock,
    client: Client,
) -> None:
    account = mailgun[1]
    data = event("complained", "ev-c", ANNA, MID)
    assert hook(client, account, data, key="someone-elses-key").status_code == 403
    # Mailgun retries for 8 hours; a day-old signature is a replay.
    assert hook(client, account, data, at=clock.now() - timedelta(hours=25)).status_code == 403
    assert hook(client, account, data, at=clock.now() + timedelta(hours=1)).status_code == 403
    assert hook(client, account, data, at=clock.now() - timedelta(hours=8)).status_code == 200
    assert InboundEvent.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        "signed-without-event-data",
        "signed-event-without-id",
        "signed-event-without-message",
        "signed-event-data-a-list",
    ],
)
def test_unreadable_bodies_are_400_never_500(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    clock: Clock,
    client: Client,
    body: str,
) -> None:
    stamp = int(clock.now().timestamp())
    delivered = event("delivered", "ev-x", ANNA, MID)
    signed = {
        "signed-without-event-data": None,
        "signed-event-without-id": {k: v for k, v in delivered.items() if k != "id"},
        "signed-event-without-message": {k: v for k, v in delivered.items() if k != "message"},
        "signed-event-data-a-list": [delivered],
    }
    if body in signed:
        data = json.loads(signed_event(SIGNING_KEY, {}, stamp))
        data["event-data"] = signed[body]
        body = json.dumps(data)
    response = post_hook(client, mailgun[1], body)
    assert response.status_code == 400
    assert InboundEvent.objects.count() == 0


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["headers", "message-id", "code", "description", "message"]), inner,
        max_size=3),
    max_leaves=6,
)
_fields = st.sampled_from(["id", "recipient", "message", "severity", "reason",
                           "delivery-status"])


@settings(derandomize=True, database=None, deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["delivered", "opened", "clicked", "failed", "complained",
                             "unsubscribed", "accepted"]),
       fields=st.dictionaries(_fields, _json, max_size=6))
def test_any_event_data_shape_is_read_or_refused_never_a_500(
    mailgun: tuple[FakeMailgun, ChannelAccount], clock: Clock, client: Client, kind: str,
    fields: dict[str, Any],
) -> None:
    """event-data is parsed into typed shapes at the edge: whatever its fields hold, a
    signed event answers 200 (read) or 400 (refused, naming the field)."""
    body = signed_event(SIGNING_KEY, {"event": kind, **fields}, int(clock.now().timestamp()))
    response = post_hook(client, mailgun[1], body)
    assert response.status_code in (200, 400), response.content


# -- webhooks: what they do ------------------------------------------------------------------


def test_a_hard_bounce_marks_the_address_and_the_step_falls_back_to_sms(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    type3_visit: Callable[..., Visit],
    flows: dict[str, Flow],
    clock: Clock,
    client: Client,
    sink: tuple[Sink, str],
) -> None:
    fake, account = mailgun
    visit = type3_visit(email=ANNA)  # a phone too: the thank-you goes by SMS
    clock.move_to(utc(2026, 6, 2, 15, 0))
    dispatcher = dispatcher_for(clock, f"sms={sink[1]}")
    dispatcher.drain()
    # "How to choose" prefers e-mail to SMS: 6 June, 11:00 in Warsaw.
    clock.move_to(utc(2026, 6, 6, 9, 0))
    dispatcher.drain()
    touch = Touch.objects.get(step__key="how-to-choose")
    assert (touch.state, touch.channel, touch.provider_message_id) == ("sent", "email", MID)
    clock.advance(minutes=5)
    bounced = failed("permanent", "bounce", 550, "5.1.1 mailbox does not exist")
    response = hook(client, account, bounced)
    assert response.json() == {"ok": True, "applied": 2, "duplicates": 0}
    point = ContactPoint.objects.get(kind="email")
    assert (point.undeliverable_at, point.undeliverable_reason) == (
        clock.now(),
        "550 5.1.1 mailbox does not exist",
    )
    touch.refresh_from_db()
    assert (touch.state, touch.failed_channels, touch.receipt) == ("queued", "email", "failed")
    assert list(TimelineEvent.objects.filter(kind="bounce").values_list("data", flat=True)) == [
        {"contact": ANNA, "hard": True, "error": "550 5.1.1 mailbox does not exist"}
    ]
    dispatcher.drain()
    touch.refresh_from_db()
    assert (touch.state, touch.channel) == ("sent", "sms")
    assert [m["to"] for m in sink[0].received] == ["+48501234567", "+48501234567"]
    assert len(fake.messages()) == 1
    assert visit.customer_id == touch.customer_id
    dispatcher.close()


def test_after_a_hard_bounce_the_dispatcher_skips_the_address(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    type3_visit: Callable[..., Visit],
    flows: dict[str, Flow],
    clock: Clock,
    client: Client,
    sink: tuple[Sink, str],
) -> None:
    fake, account = mailgun
    type3_visit(email=ANNA)
    clock.move_to(utc(2026, 6, 2, 15, 0))
    dispatcher = dispatcher_for(clock, f"sms={sink[1]}")
    dispatcher.drain()
    # A staff reply bounced (a message no touch knows): the address is marked anyway.
    response = hook(client, account, failed("permanent", "bounce", 550, "no such user"))
    assert response.json() == {"ok": True, "applied": 2, "duplicates": 0}
    clock.move_to(utc(2026, 6, 6, 9, 0))
    dispatcher.drain()
    touch = Touch.objects.get(step__key="how-to-choose")
    assert (touch.state, touch.channel, touch.failed_channels) == ("sent", "sms", "")
    assert fake.messages() == []
    dispatcher.close()


def test_a_temporary_failure_is_a_soft_bounce_and_the_message_keeps_its_chance(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    type3_visit: Callable[..., Visit],
    flows: dict[str, Flow],
    clock: Clock,
    client: Client,
) -> None:
    _visit, touch, dispatcher = sent_by_email(type3_visit, clock)
    response = hook(client, mailgun[1], failed("temporary", "generic", 452, "mailbox full"))
    assert response.status_code == 200
    touch.refresh_from_db()
    assert (touch.state, touch.receipt, touch.failed_channels) == ("sent", "", "")
    point = ContactPoint.objects.get(kind="email")
    assert point.undeliverable_at is None
    assert list(TimelineEvent.objects.filter(kind="bounce").values_list("data", flat=True)) == [
        {"contact": ANNA, "hard": False, "error": "452 mailbox full"}
    ]
    dispatcher.close()


@pytest.mark.parametrize("kind", ["complained", "unsubscribed"])
def test_a_complaint_or_an_unsubscribe_withdraws_email_consent(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    type3_visit: Callable[..., Visit],
    flows: dict[str, Flow],
    clock: Clock,
    client: Client,
    sink: tuple[Sink, str],
    kind: str,
) -> None:
    fake, account = mailgun
    type3_visit(email=ANNA)
    response = hook(client, account, event(kind, "ev-9", ANNA.upper(), MID))
    assert response.json() == {"ok": True, "applied": 1, "duplicates": 0}
    email, phone = (ContactPoint.objects.get(kind=k) for k in ("email", "phone"))
    assert (email.contact_consent, email.marketing_consent) == (False, False)
    # A STOP like any other (issue 13): no offers on the phone either, and the store's
    # chain ends, so no SMS takes over from the e-mail.
    assert (phone.contact_consent, phone.marketing_consent) == (True, False)
    withdrawn = ConsentEvent.objects.filter(customer_id=email.customer_id, granted=False)
    assert sorted((e.contact_point_id, e.purpose, e.source) for e in withdrawn) == sorted([
        (email.pk, "contact", "customer"), (email.pk, "marketing", "customer"),
        (phone.pk, "marketing", "customer")])
    clock.move_to(utc(2026, 6, 2, 15, 0))
    dispatcher = dispatcher_for(clock, f"sms={sink[1]}")
    dispatcher.drain()
    clock.move_to(utc(2026, 6, 6, 9, 0))
    dispatcher.drain()
    assert set(Touch.objects.values_list("state", flat=True)) == {"cancelled"}
    assert sink[0].received == []
    deliver()  # and no confirmation by e-mail to someone who said "spam"
    assert fake.messages() == []
    dispatcher.close()


def test_an_event_about_an_address_nobody_has_changes_nothing(
    mailgun: tuple[FakeMailgun, ChannelAccount],
    clock: Clock,
    client: Client,
) -> None:
    response = hook(client, mailgun[1], event("complained", "ev-5", "who@example.com", MID))
    assert response.json() == {"ok": True, "applied": 1, "duplicates": 0}
    assert ConsentEvent.objects.count() == 0
