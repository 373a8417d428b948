"""The engine end to end with a driven clock: entry, sending, policies, retries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from tests.conftest import assert_no_stranded_enrollments
from tests.delivery.conftest import Clock
from tests.servers import Sink, SmtpInbox, silent_server
from touchflow.customers.actions import record_consent
from touchflow.delivery import dispatcher as dispatcher_module
from touchflow.delivery import queries
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Attempt, Touch
from touchflow.delivery.retry import RetryPolicy
from touchflow.flows.models import Enrollment, Flow
from touchflow.funnel.chains import set_status
from touchflow.funnel.purchases import record_purchase
from touchflow.integrations.actor import Actor
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

pytestmark = pytest.mark.usefixtures("flows")

T = datetime  # brevity in expected values


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def only_touch(**filters: object) -> Touch:
    return Touch.objects.select_related("step").get(**filters)


def test_type3_visit_enrols_in_warming_only_with_first_touch_in_its_window(
    type3_visit: Callable[..., Visit],
) -> None:
    visit = type3_visit()
    assert list(Enrollment.objects.values_list("flow__slug", "state", "visit_id")) == [
        ("warming", "active", visit.pk)
    ]
    touch = only_touch()
    assert (touch.step.key, touch.state, touch.due_at, touch.expires_at) == (
        "thank-you",
        "queued",
        utc(2026, 6, 2, 15, 0),  # 3 h later, 17:00 in Warsaw: inside 10:00–20:00
        utc(2026, 6, 3, 15, 0),
    )
    assert TimelineEvent.objects.filter(kind="enrolled").get().data["flow"] == "warming"


def test_nothing_goes_out_before_it_is_due(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    type3_visit()
    clock.move_to(utc(2026, 6, 2, 14, 59))
    assert make_dispatcher().drain().claimed == 0
    assert sink[0].received == []
    assert only_touch().state == "queued"
    assert_no_stranded_enrollments()


def test_due_touch_is_rendered_sent_recorded_and_the_next_step_scheduled(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    visit = type3_visit()
    clock.move_to(utc(2026, 6, 2, 15, 0))
    stats = make_dispatcher().drain()
    assert (stats.claimed, dict(stats.outcomes)) == (1, {"sent": 1})
    touch = only_touch(step__key="thank-you")
    body = sink[0].received[0]
    assert body["to"] == "+48501234567"
    assert body["channel"] == "sms"
    assert body["language"] == "pl"
    assert body["text"] == (
        "Dzień dobry, Anna! Dziękujemy za dzisiejszą wizytę w Warsaw Centre. "
        "Jeśli pojawi się pytanie, wystarczy odpisać. sam\n\nAby zrezygnować, odpisz STOP."
    )
    assert sink[0].keys == [touch.idempotency_key]
    assert (touch.state, touch.channel, touch.attempts, touch.finished_at) == (
        "sent",
        "sms",
        1,
        utc(2026, 6, 2, 15, 0),
    )
    assert touch.provider_message_id == "msg-1"
    # A first-try success is recorded on the touch and the timeline; no attempt row.
    assert not Attempt.objects.exists()
    row = TimelineEvent.objects.get(kind="touch")
    assert (row.customer_id, row.data["outcome"], row.data["step"]) == (
        visit.customer_id,
        "sent",
        "thank-you",
    )
    following = only_touch(step__key="how-to-choose")
    # 3 days after the send, then the first 11:00 on a Warsaw clock.
    assert (following.state, following.due_at) == ("queued", utc(2026, 6, 6, 9, 0))
    assert_no_stranded_enrollments()


def test_a_purchase_moves_the_lead_from_warming_to_loyalty(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
    store,
) -> None:
    visit = type3_visit()
    clock.advance(hours=1)
    record_purchase(store=store, actor=Actor(source="api"), customer=visit.customer, amount=900)
    states = dict(Enrollment.objects.values_list("flow__slug", "state"))
    assert states == {"warming": "exited", "loyalty": "active", "check-in": "active"}
    assert Enrollment.objects.get(flow__slug="warming").end_reason == "purchase"
    assert only_touch(step__key="thank-you").state == "cancelled"
    clock.move_to(utc(2026, 6, 2, 15, 0))
    make_dispatcher().drain()
    assert sink[0].received == []
    assert_no_stranded_enrollments()


def test_a_customer_is_never_in_the_same_chain_twice_at_once(
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    type3_visit()
    clock.advance(hours=1)
    type3_visit(phone="+48 501 234 567")
    assert Enrollment.objects.count() == 1
    assert Touch.objects.count() == 1


def test_quiet_hours_follow_the_customers_own_time_zone(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    type3_visit(time_zone="America/New_York")
    # Due 15:00 UTC (11:00 in New York); the worker only runs at 02:00 UTC, 22:00 there.
    clock.move_to(utc(2026, 6, 3, 2, 0))
    stats = make_dispatcher().drain()
    touch = only_touch()
    assert dict(stats.outcomes) == {"queued": 1}
    # Quiet until 09:00, the step's window opens at 10:00 New York time = 14:00 UTC.
    assert (touch.state, touch.reason, touch.due_at) == (
        "queued",
        "quiet_hours",
        utc(2026, 6, 3, 14, 0),
    )
    assert sink[0].received == []
    clock.move_to(utc(2026, 6, 3, 14, 0))
    make_dispatcher().drain()
    assert len(sink[0].received) == 1
    assert_no_stranded_enrollments()


def test_quiet_hours_across_a_daylight_saving_change(
    type3_visit: Callable[..., Visit],
    clock: Clock,
) -> None:
    # 19:30 in Warsaw on the evening clocks go back (CEST → CET at 03:00 on 25 October).
    clock.move_to(utc(2026, 10, 24, 17, 30))
    type3_visit()
    # +3 h is 22:30 local: quiet. The window opens at 10:00 CET, which is 09:00 UTC
    # (it would be 08:00 UTC had the offset not changed overnight).
    assert only_touch().due_at == utc(2026, 10, 25, 9, 0)


def test_a_touch_that_could_not_go_out_in_time_expires_and_the_chain_goes_on(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    type3_visit()
    clock.move_to(utc(2026, 6, 4, 12, 0))  # the thank-you expired at 15:00 yesterday
    stats = make_dispatcher().drain()
    assert dict(stats.outcomes) == {"expired": 1}
    assert only_touch(step__key="thank-you").reason == "expired"
    assert sink[0].received == []
    assert only_touch(step__key="how-to-choose").state == "queued"
    assert TimelineEvent.objects.get(kind="touch").data["outcome"] == "expired"
    assert_no_stranded_enrollments()


def test_fallback_to_the_next_channel_with_a_usable_contact(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    smtp: tuple[SmtpInbox, str],
    sink: tuple[Sink, str],
) -> None:
    type3_visit(phone=None, email="anna@example.com")
    clock.move_to(utc(2026, 6, 2, 15, 0))
    make_dispatcher().drain()
    touch = only_touch(step__key="thank-you")
    assert (touch.state, touch.channel) == ("sent", "email")
    assert sink[0].received == []
    [mail] = smtp[0].messages
    assert mail["To"] == "anna@example.com"
    assert mail["Subject"] == "Dziękujemy za wizytę w Warsaw Centre"
    assert touch.idempotency_key in mail["Message-ID"]
    assert mail["X-Touchflow-Key"] == touch.idempotency_key
    # A long header is folded before the link (RFC 5322 folding): compare it unfolded.
    assert mail["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/u/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Wypisz się: http://127.0.0.1:8000/u/" in mail.get_payload(decode=True).decode()
    assert_no_stranded_enrollments()


def test_a_channel_that_is_not_configured_is_passed_over(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    smtp: tuple[SmtpInbox, str],
) -> None:
    type3_visit(email="anna@example.com")
    clock.move_to(utc(2026, 6, 2, 15, 0))
    make_dispatcher(channels=f"email={smtp[1]}").drain()
    assert only_touch(step__key="thank-you").channel == "email"
    assert_no_stranded_enrollments()


def test_without_any_usable_contact_the_touch_is_skipped_with_the_reason(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
) -> None:
    type3_visit()
    clock.move_to(utc(2026, 6, 2, 15, 0))
    make_dispatcher(channels="telegram=null:").drain()
    assert (only_touch(step__key="thank-you").state, only_touch(step__key="thank-you").reason) == (
        "skipped",
        "no_contact",
    )
    assert_no_stranded_enrollments()


def test_withdrawn_consent_stops_messages_on_that_contact(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    visit = type3_visit()
    record_consent(visit.customer.contacts.get(), "contact", False, Actor(source="customer"))
    clock.move_to(utc(2026, 6, 2, 15, 0))
    make_dispatcher().drain()
    touch = only_touch(step__key="thank-you")
    assert (touch.state, touch.reason) == ("skipped", "no_consent")
    assert sink[0].received == []
    assert_no_stranded_enrollments()


def test_a_5xx_is_retried_with_backoff_and_the_same_idempotency_key(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    type3_visit()
    sink[0].script = [(503, {})]
    clock.move_to(utc(2026, 6, 2, 15, 0))
    dispatcher = make_dispatcher()
    dispatcher.drain()
    touch = only_touch(step__key="thank-you")
    assert (touch.state, touch.attempts, touch.reason) == ("queued", 1, "retry")
    assert touch.last_error.startswith("HTTP 503")
    # First retry after 30 s ± 25 %.
    assert utc(2026, 6, 2, 15, 0, 22) <= touch.due_at <= utc(2026, 6, 2, 15, 0, 38)
    clock.move_to(touch.due_at)
    dispatcher.drain()
    touch.refresh_from_db()
    assert (touch.state, touch.attempts) == ("sent", 2)
    assert sink[0].keys == [touch.idempotency_key, touch.idempotency_key]
    assert list(Attempt.objects.values_list("outcome", flat=True)) == ["retry"]
    outcomes = [e.data["outcome"] for e in TimelineEvent.objects.filter(kind="touch")]
    assert outcomes == ["retry", "sent"]
    assert_no_stranded_enrollments()


def test_a_429_waits_at_least_as_long_as_retry_after_says(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    type3_visit()
    sink[0].script = [(429, {"Retry-After": "600"})]
    clock.move_to(utc(2026, 6, 2, 15, 0))
    make_dispatcher().drain()
    touch = only_touch(step__key="thank-you")
    assert touch.state == "queued"
    assert touch.due_at >= utc(2026, 6, 2, 15, 10)
    assert_no_stranded_enrollments()


def test_a_429_holds_back_the_accounts_other_touches_without_holding_up_the_round(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    """One send at a time to the account: the first is answered 429 with a ten-minute
    Retry-After, so the second is not sent into it; the round hands it back to the
    queue, due when the account's turn comes, instead of waiting ten minutes."""
    type3_visit(phone="501 234 567", name="Anna")
    type3_visit(phone="501 234 568", name="Olga")
    sink[0].script = [(429, {"Retry-After": "600"})]
    clock.move_to(utc(2026, 6, 2, 15, 0))
    stats = make_dispatcher(per_route=1).run_round()
    assert len(sink[0].received) == 1
    assert stats.claimed == 2 and stats.outcomes["queued"] == 2
    waiting = Touch.objects.filter(step__key="thank-you")
    assert sorted(t.reason for t in waiting) == ["rate_limited", "retry"]
    assert all(t.due_at >= utc(2026, 6, 2, 15, 9) for t in waiting)


def test_other_4xx_is_final_at_once(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    type3_visit()
    sink[0].script = [(400, {})]
    clock.move_to(utc(2026, 6, 2, 15, 0))
    make_dispatcher().drain()
    touch = only_touch(step__key="thank-you")
    assert (touch.state, touch.reason, touch.attempts) == ("dead", "rejected", 1)
    assert touch.last_error.startswith("HTTP 400")
    assert len(sink[0].received) == 1
    assert_no_stranded_enrollments()


def test_a_refused_address_falls_back_to_the_steps_next_channel_at_once(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
    smtp: tuple[SmtpInbox, str],
) -> None:
    """The SMS provider refuses the number for good (a 400): the customer's consenting
    e-mail gets the message in the same run, and the refusal is kept as an attempt."""
    type3_visit(email="anna@example.com")
    sink[0].script = [(400, {})]
    clock.move_to(utc(2026, 6, 2, 15, 0))
    make_dispatcher().drain()
    touch = only_touch(step__key="thank-you")
    assert (touch.state, touch.channel, touch.failed_channels) == ("sent", "email", "sms")
    [attempt] = Attempt.objects.filter(touch=touch)
    assert (attempt.channel, attempt.outcome) == ("sms", "failed")
    assert attempt.error.startswith("HTTP 400")
    assert [m["To"] for m in smtp[0].messages] == ["anna@example.com"]


def test_no_answer_from_a_provider_that_does_not_drop_repeats_is_uncertain_not_resent(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
) -> None:
    """A request written and never answered may have arrived: to a receiver that would
    deliver a repeat twice it is not sent again; it waits for a person instead."""
    type3_visit()
    clock.move_to(utc(2026, 6, 2, 15, 0))
    with silent_server() as url:
        make_dispatcher(channels=f"sms={url}?timeout=0.2&keys=off").drain()
        touch = only_touch(step__key="thank-you")
        assert (touch.state, touch.reason) == ("uncertain", "no_answer")
        assert "timed out" in touch.last_error
        clock.advance(hours=3)
        make_dispatcher(channels=f"sms={url}?timeout=0.2&keys=off").drain()
    assert only_touch(step__key="thank-you").attempts == 1


def test_no_answer_from_a_provider_that_drops_repeats_is_sent_again_with_the_same_key(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
) -> None:
    type3_visit()
    clock.move_to(utc(2026, 6, 2, 15, 0))
    with silent_server() as url:
        make_dispatcher(channels=f"sms={url}?timeout=0.2").drain()
    touch = only_touch(step__key="thank-you")
    assert (touch.state, touch.reason, touch.attempts) == ("queued", "retry", 1)


def test_repeated_failure_ends_in_a_dead_letter(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    type3_visit()
    sink[0].script = [(500, {})] * 3
    clock.move_to(utc(2026, 6, 2, 15, 0))
    dispatcher = make_dispatcher(retry=RetryPolicy(max_attempts=3))
    for _ in range(3):
        dispatcher.drain()
        clock.advance(hours=1)
    touch = only_touch(step__key="thank-you")
    assert (touch.state, touch.reason, touch.attempts) == ("dead", "gave_up", 3)
    assert list(Attempt.objects.values_list("outcome", flat=True)) == ["retry", "retry", "failed"]
    assert only_touch(step__key="how-to-choose").state == "queued"
    assert_no_stranded_enrollments()


def test_a_network_error_is_retried(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
) -> None:
    type3_visit()
    clock.move_to(utc(2026, 6, 2, 15, 0))
    # Nothing listens on port 9 of the loopback: the connection is refused.
    make_dispatcher(channels="sms=http://127.0.0.1:9/messages").drain()
    touch = only_touch(step__key="thank-you")
    assert (touch.state, touch.attempts) == ("queued", 1)
    assert "ConnectionRefusedError" in touch.last_error
    assert_no_stranded_enrollments()


def test_a_dead_workers_claim_is_taken_over_after_its_lease(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    type3_visit()
    now = clock.move_to(utc(2026, 6, 2, 15, 0)) or utc(2026, 6, 2, 15, 0)
    [claimed] = queries.claim(now, "dead-worker", now + timedelta(minutes=2), 10)
    dispatcher = make_dispatcher()
    assert dispatcher.drain().claimed == 0  # the lease still holds
    clock.advance(minutes=3)
    assert dispatcher.drain().outcomes["sent"] == 1
    # The dead worker's late write changes nothing: the touch is not its any more.
    late = queries.TouchUpdate(claimed, "dead", now, "sms", 9, "late", "late", now, "")
    assert queries.record([late], "dead-worker") == set()
    assert Touch.objects.get(pk=claimed).state == "sent"
    assert_no_stranded_enrollments()


def test_one_touch_per_enrollment_step_and_round(type3_visit: Callable[..., Visit]) -> None:
    type3_visit()
    touch = only_touch()
    touch.pk = None
    touch.idempotency_key = "another"
    with pytest.raises(IntegrityError), transaction.atomic():
        touch.save()
    assert Touch.objects.count() == 1


def test_a_paused_chain_holds_its_touches_until_it_is_active_again(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
) -> None:
    type3_visit()
    warming = Flow.objects.get(slug="warming")
    set_status(warming, "paused")
    clock.move_to(utc(2026, 6, 2, 15, 0))
    dispatcher = make_dispatcher()
    dispatcher.drain()
    assert only_touch().state == "paused"
    assert sink[0].received == []
    set_status(warming, "active")
    dispatcher.drain()
    assert only_touch(step__key="thank-you").state == "sent"
    assert_no_stranded_enrollments()


def test_the_worker_naps_only_after_a_claim_that_found_nothing_due(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A step that lets the last claimed touches go, with no room to claim more before
    it, is followed by the next claim, not by the idle nap: the nap cost the null-channel
    bench a quarter of its time (issue 9). Six due touches, claims of four, two in flight:
    the old loop napped with two still due."""
    for n in range(6):
        type3_visit(phone=f"501 234 {500 + n}", name=f"Anna {n}")
    clock.advance(hours=3)
    due_at_naps: list[int] = []

    class Naps:  # the worker's wall clock, pinned: a nap is recorded, not slept
        @staticmethod
        def monotonic() -> float:
            return 0.0

        @staticmethod
        def sleep(seconds: float) -> None:
            due = Touch.objects.filter(state="queued", due_at__lte=clock.now())
            due_at_naps.append(due.count())

    monkeypatch.setattr(dispatcher_module, "walltime", Naps)
    dispatcher = make_dispatcher(channels="sms=null:", batch_size=4, concurrency=2, per_route=2,
                                 monotonic=Naps.monotonic)
    dispatcher.run_forever(idle_sleep=1.0, stop=lambda: bool(due_at_naps))
    assert due_at_naps == [0]
    assert Touch.objects.filter(state="sent").count() == 6
