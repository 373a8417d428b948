"""Frequency caps across chains, commercial caps, call tasks, and the worker command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from tests.delivery.conftest import Clock
from tests.servers import Sink
from touchflow.cli import build_app
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import CallTask, Touch
from touchflow.flows.actions import load_flow_text
from touchflow.funnel.chains import set_status
from touchflow.visits.models import Visit


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def chain(
    slug: str, after: str, kind: str = "info", when_capped: str = "defer", expires: str = "10d"
) -> str:
    return f"""\
slug: {slug}
name: {slug}
audience: {{trigger: visit, visit_class: [type3]}}
steps:
  - key: only
    kind: {kind}
    after: {after}
    expires: {expires}
    when_capped: {when_capped}
    channels: [sms]
    message:
      en: {{text: "{slug} for {{{{ customer.first_name }}}}"}}
"""


def activate(*texts: str) -> None:
    for text in texts:
        set_status(load_flow_text(text).flow, "active")


def state(slug: str) -> tuple[str, str, datetime]:
    touch = Touch.objects.get(enrollment__flow__slug=slug)
    return touch.state, touch.reason, touch.due_at


def test_the_message_cap_holds_across_chains(
    db: None,
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    activate(chain("first", "1h"), chain("second", "2h"), chain("third", "3h"))
    type3_visit()  # 12:00 UTC, 14:00 in Warsaw
    dispatcher = make_dispatcher()
    for hour in (13, 14, 15):
        clock.move_to(utc(2026, 6, 2, hour, 0))
        dispatcher.drain()
    assert [b["text"].split(" for")[0] for b in sink[0].received] == ["first", "second"]
    # Two messages in 7 days is the store's cap: the third waits until the first
    # one leaves the period.
    assert state("third") == ("queued", "capped", utc(2026, 6, 9, 13, 0))
    clock.move_to(utc(2026, 6, 9, 13, 0))
    dispatcher.drain()
    assert state("third")[0] == "sent"


def test_the_commercial_cap_is_one_offer_a_week(
    db: None,
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    activate(
        chain("offer-a", "1h", kind="offer"),
        chain("offer-b", "2h", kind="offer", when_capped="skip"),
    )
    type3_visit(marketing=True)
    dispatcher = make_dispatcher()
    for hour in (13, 14):
        clock.move_to(utc(2026, 6, 2, hour, 0))
        dispatcher.drain()
    assert state("offer-a")[0] == "sent"
    assert state("offer-b")[:2] == ("skipped", "capped")
    assert len(sink[0].received) == 1


def test_an_offer_needs_marketing_consent(
    db: None,
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    activate(chain("offer", "1h", kind="offer"))
    type3_visit(marketing=False)
    clock.move_to(utc(2026, 6, 2, 13, 0))
    make_dispatcher().drain()
    assert state("offer")[:2] == ("skipped", "no_marketing_consent")
    assert sink[0].received == []


def test_a_capped_touch_that_would_be_late_expires(
    db: None,
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
) -> None:
    activate(chain("a", "1h"), chain("b", "2h"), chain("c", "3h", expires="1d"))
    type3_visit()
    dispatcher = make_dispatcher()
    for hour in (13, 14, 15):
        clock.move_to(utc(2026, 6, 2, hour, 0))
        dispatcher.drain()
    assert state("c")[:2] == ("expired", "capped")


@pytest.mark.usefixtures("flows")
def test_a_call_step_becomes_a_task_for_the_seller_with_the_script(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    salesperson,
) -> None:
    visit = type3_visit()
    dispatcher = make_dispatcher()
    # thank-you (3 h), how-to-choose (3 d later, 11:00), then the call 5 d after that.
    for when in (utc(2026, 6, 2, 15, 0), utc(2026, 6, 6, 9, 0), utc(2026, 6, 11, 9, 0)):
        clock.move_to(when)
        dispatcher.drain()
    task = CallTask.objects.get()
    assert (task.customer_id, task.assignee, task.phone, task.state) == (
        visit.customer_id,
        salesperson,
        "+48501234567",
        "open",
    )
    assert task.script.startswith("Zadzwoń do klienta (Anna Nowak).")
    call = Touch.objects.get(step__key="seller-call")
    assert (call.state, call.channel) == ("task", "call")
    assert Touch.objects.get(step__key="gentle-offer").state == "queued"


@pytest.mark.usefixtures("flows")
def test_worker_once_at_a_given_time_processes_what_is_due_then(
    type3_visit: Callable[..., Visit],
    sink: tuple[Sink, str],
    settings,
    clock: Clock,
) -> None:
    type3_visit()
    settings.TOUCHFLOW_CHANNELS = f"sms={sink[1]}"
    app = build_app()
    runner = CliRunner()
    early = runner.invoke(app, ["worker", "--once", "--now", "2026-06-02T14:00:00+00:00"])
    assert early.exit_code == 0, early.output
    assert "nothing due" in early.output
    due = runner.invoke(app, ["worker", "--once", "--now", "2026-06-02T15:00:00+00:00"])
    assert due.exit_code == 0, due.output
    assert "claimed 1: sent 1" in due.output
    assert len(sink[0].received) == 1
    bad = runner.invoke(app, ["worker", "--once", "--now", "yesterday"])
    assert bad.exit_code == 2
    assert "--now" in bad.output


def test_the_last_step_completes_the_enrollment_on_the_timeline(
    db: None,
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
) -> None:
    from touchflow.flows.models import Enrollment
    from touchflow.timeline.models import TimelineEvent

    activate(chain("single", "1h"))
    type3_visit()
    clock.move_to(utc(2026, 6, 2, 13, 0))
    make_dispatcher().drain()
    enrollment = Enrollment.objects.get()
    assert (enrollment.state, enrollment.end_reason, enrollment.ended_at) == (
        "completed",
        "completed",
        utc(2026, 6, 2, 13, 0),
    )
    row = TimelineEvent.objects.get(kind="left_flow")
    assert (row.data["flow"], row.data["state"], row.at) == (
        "single",
        "completed",
        utc(2026, 6, 2, 13, 0),
    )


@pytest.mark.usefixtures("flows")
def test_a_call_needs_consent_on_the_phone_like_a_message(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
) -> None:
    from touchflow.customers.actions import record_consent
    from touchflow.integrations.actor import Actor

    visit = type3_visit()
    dispatcher = make_dispatcher()
    clock.move_to(utc(2026, 6, 2, 15, 0))
    dispatcher.drain()
    record_consent(visit.customer.contacts.get(), "contact", False, Actor(source="customer"))
    for when in (utc(2026, 6, 6, 9, 0), utc(2026, 6, 11, 9, 0)):
        clock.move_to(when)
        dispatcher.drain()
    call = Touch.objects.get(step__key="seller-call")
    assert (call.state, call.reason) == ("skipped", "no_consent")
    assert CallTask.objects.count() == 0


@pytest.mark.usefixtures("flows")
def test_merging_two_customers_in_the_same_chain_keeps_one_passage(
    type3_visit: Callable[..., Visit],
    clock: Clock,
    store,
    salesperson,
) -> None:
    from touchflow.flows.models import Enrollment
    from touchflow.funnel.customers import merge_customers
    from touchflow.integrations.actor import Actor

    first = type3_visit(phone="501 234 567", name="Anna")
    clock.advance(minutes=5)
    second = type3_visit(phone="502 345 678", name="Anna N.")
    assert Enrollment.objects.filter(state="active").count() == 2
    merge_customers(first.customer, second.customer, Actor(source="counter", staff=salesperson))
    rows = sorted(Enrollment.objects.values_list("customer_id", "state", "end_reason"))
    assert rows == [
        (first.customer_id, "active", ""),
        (first.customer_id, "exited", "merged"),
    ]
    states = sorted(Touch.objects.values_list("customer_id", "state"))
    assert states == [(first.customer_id, "cancelled"), (first.customer_id, "queued")]
