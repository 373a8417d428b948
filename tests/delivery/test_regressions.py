"""Regressions found by the crash test and the engine benchmark."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import time_machine
from django.db import connection

from touchflow.core import clock
from touchflow.customers.actions import ConsentGrant, check_contact
from touchflow.customers.models import Customer
from touchflow.delivery import queries
from touchflow.delivery.channels.base import OutgoingMessage, SendResult
from touchflow.delivery.channels.registry import build
from touchflow.delivery.channels.webhook import WebhookChannel
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.enrollments import enroll, enroll_many, leave
from touchflow.delivery.models import Touch
from touchflow.flows.actions import load_flow_text
from touchflow.flows.models import Enrollment
from touchflow.funnel.chains import set_status
from touchflow.funnel.customers import resolve_customer
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Store
from touchflow.timeline.models import FigureDelta, TimelineEvent

CHAIN = """\
slug: winback
name: Win back
audience: {trigger: purchase}
steps:
  - key: hello
    kind: info
    after: 1h
    channels: [sms]
    message:
      en: {text: "Hello {{ customer.first_name }}"}
"""
START = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


def test_enroll_many_skips_members_and_writes_one_touch_and_row_per_new_enrollment(
    store: Store,
) -> None:
    """enroll_many tells its new enrollments apart by id, not by an anti-join against the
    tables it fills (which PostgreSQL planned as a scan per row: 1,000,000 customers took
    minutes). Members stay as they are; a customer who left re-enters; every new
    enrollment gets exactly one touch and one timeline row, in each time zone."""
    flow = set_status(load_flow_text(CHAIN).flow, "active")
    api = Actor(source="import")
    zones = ["Europe/Warsaw", "Asia/Tokyo", "Europe/Warsaw", "Asia/Tokyo"]
    customers = [
        resolve_customer(store=store, actor=api, external_id=f"c{n}", time_zone=tz)[0]
        for n, tz in enumerate(zones)
    ]
    with time_machine.travel(START, tick=False):
        member = enroll(flow, customers[0], store=store, at=START)
        leaver = enroll(flow, customers[1], store=store, at=START)
        assert member is not None and leaver is not None
        leave(customers[1].pk, "opt_out", START)
    later = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)
    with time_machine.travel(later, tick=False):
        entered = enroll_many(flow, Customer.active.all(), store=store)
        again = enroll_many(flow, Customer.active.all(), store=store)
    assert (entered, again) == (3, 0)
    active = Enrollment.objects.filter(state="active")
    assert sorted(active.values_list("customer_id", "entered_at")) == sorted(
        [(customers[0].pk, START)] + [(c.pk, later) for c in customers[1:]]
    )
    assert Enrollment.objects.get(pk=leaver.pk).state == "exited"
    new = active.filter(entered_at=later)
    touches = Touch.objects.filter(enrollment__in=new)
    tokyo_morning = datetime(2026, 6, 4, 0, 0, tzinfo=UTC)  # 22:00 JST is quiet → 09:00
    assert sorted(touches.values_list("customer_id", "state", "due_at")) == [
        (customers[1].pk, "queued", tokyo_morning),
        (customers[2].pk, "queued", datetime(2026, 6, 3, 13, 0, tzinfo=UTC)),  # 15:00 CEST
        (customers[3].pk, "queued", tokyo_morning),
    ]
    # The member's touch is its own, untouched; the leaver's old one stays cancelled.
    assert list(Touch.objects.filter(enrollment=member).values_list("state", "due_at")) == [
        ("queued", datetime(2026, 6, 2, 13, 0, tzinfo=UTC))
    ]
    assert Touch.objects.get(enrollment=leaver).state == "cancelled"
    enrolled_rows = TimelineEvent.objects.filter(kind="enrolled", at=later)
    assert sorted(enrolled_rows.values_list("customer_id", flat=True)) == sorted(
        c.pk for c in customers[1:]
    )
    assert TimelineEvent.objects.filter(kind="enrolled").count() == 5  # 2 earlier + 3 now


def test_enroll_many_probes_the_unique_index_instead_of_an_anti_join(store: Store) -> None:
    """The plan of the enrollment INSERT must not depend on the table's statistics: no
    anti-join against flows_enrollment, whatever its size."""
    flow = set_status(load_flow_text(CHAIN).flow, "active")
    seen: list[str] = []

    def spy(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        seen.append(sql)
        return execute(sql, params, many, context)

    resolve_customer(store=store, actor=Actor(source="import"), external_id="c1")
    with connection.execute_wrapper(spy):
        assert enroll_many(flow, Customer.active.all(), store=store) == 1
    # Enrollments, their first touches, their timeline rows (and their count for the
    # dashboard, one row for the whole segment: an INSERT on SQLite, a COPY on PostgreSQL).
    inserts = [s for s in seen if s.startswith("INSERT INTO") and "figuredelta" not in s]
    assert len(inserts) == 3
    assert FigureDelta.objects.get(metric="enrolled").n == 1
    assert all("NOT EXISTS" not in s for s in inserts)
    assert "ON CONFLICT (flow_id, customer_id) WHERE state = 'active' DO NOTHING" in inserts[0]


def test_webhook_url_may_set_the_request_timeout() -> None:
    channel = build("sms", "http://127.0.0.1:9/messages?timeout=0.25&x=1")
    assert isinstance(channel, WebhookChannel)
    assert (channel._timeout, channel._path) == (0.25, "/messages")
    assert build("sms", "http://127.0.0.1:9/messages")._timeout == 10.0  # type: ignore[attr-defined]


class _SlowChannel:
    """A real in-process channel that takes its time, like a slow provider."""

    name = "sms"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.keys: list[str] = []

    def send(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        results = []
        for message in messages:
            time.sleep(self.seconds)
            self.keys.append(message.idempotency_key)
            results.append(SendResult.sent())
        return results

    def close(self) -> None:
        pass


class _Watched(Dispatcher):
    """A dispatcher beside which, once three messages went out, a second worker whose
    clock is ``ahead`` of the first's claims the touches whose lease ran out by its
    clock for itself."""

    ahead = timedelta(0)
    channel: _SlowChannel

    def _admit(self, group):  # type: ignore[no-untyped-def]
        if len(self.channel.keys) == 3 and not getattr(self, "looked", False):
            self.looked = True
            thief_now = clock.now() + self.ahead
            queries.claim(thief_now, THIEF, thief_now + timedelta(minutes=2), 100)
        return super()._admit(group)


THIEF = "thief:1:x"


def _six_due_touches(store: Store) -> None:
    flow = set_status(load_flow_text(CHAIN).flow, "active")
    for n in range(6):
        resolve_customer(
            store=store,
            actor=Actor(source="import"),
            contacts=[check_contact("phone", f"+4850100000{n}", region="PL")],
            consent=ConsentGrant(contact=True),
            time_zone="Europe/Warsaw",
        )
    enroll_many(flow, Customer.active.all(), store=store, at=START)


def _slow_round(ahead: timedelta) -> tuple[_SlowChannel, dict[int, str]]:
    """One round of six sends, 0.4 s each and one at a time, under a 1 s lease (renewed
    every 1/3 s)."""
    channel = _SlowChannel(seconds=0.4)
    dispatcher = _Watched({"sms": channel}, lease=timedelta(seconds=1), concurrency=1)
    dispatcher.channel, dispatcher.ahead = channel, ahead
    with time_machine.travel(datetime(2026, 6, 2, 14, 0, tzinfo=UTC), tick=True):
        assert dispatcher.run_round().claimed == 6
    taken = dict(Touch.objects.filter(lease_owner=THIEF).values_list("id", "idempotency_key"))
    return channel, taken


def test_a_slow_batch_renews_its_lease_so_no_other_worker_takes_it_over(store: Store) -> None:
    """Six sends of 0.4 s outlast a 1 s lease; renewed as it goes, the lease has not run
    out when another worker looks (1.2 s in), so it takes nothing and nothing is sent
    twice."""
    _six_due_touches(store)
    channel, taken = _slow_round(ahead=timedelta(0))
    assert taken == {}
    assert sorted(channel.keys) == sorted(Touch.objects.values_list("idempotency_key", flat=True))
    assert Touch.objects.filter(state="sent").count() == 6


def test_a_touch_whose_lease_was_taken_over_is_not_sent_by_the_old_holder(store: Store) -> None:
    """A worker whose clock is an hour ahead takes every claim back; the old holder finds
    out right before its next send and sends nothing more: the new holder sends those.
    What went out before is recorded as it came back, so it is not taken."""
    _six_due_touches(store)
    channel, taken = _slow_round(ahead=timedelta(hours=1))
    assert len(taken) == 3  # the three not yet sent
    assert len(channel.keys) == 3
    assert Touch.objects.filter(state="sent").count() == 3
    assert not set(taken.values()) & set(channel.keys)
