"""The call task actions on their own: logging a call with the minutes it took, and moving
it to later ("call back later"), each refusing bad input by the field's name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.delivery.conftest import Clock
from touchflow.core.errors import InvalidInput
from touchflow.delivery.actions import complete_call_task, open_tasks_for, reschedule_call_task
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import CallTask
from touchflow.funnel.purchases import record_purchase
from touchflow.integrations.actor import Actor
from touchflow.purchases.queries import has_bought
from touchflow.stores.models import Staff
from touchflow.timeline import figures
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit


@pytest.fixture
def task(flows: Any, type3_visit: Callable[..., Visit],
         make_dispatcher: Callable[..., Dispatcher], clock: Clock) -> CallTask:
    """The seller's call of the example chain: due on 11 June, 09:00 UTC."""
    type3_visit()
    dispatcher = make_dispatcher()
    for when in (utc(2026, 6, 2, 15, 0), utc(2026, 6, 6, 9, 0), utc(2026, 6, 11, 9, 0)):
        clock.move_to(when)
        dispatcher.drain()
    return CallTask.objects.get()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _rows(outcome: str) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(data__outcome=outcome))


def test_a_call_logged_with_minutes_keeps_them_on_the_task_and_its_timeline_row(
    task: CallTask, salesperson: Staff, clock: Clock,
) -> None:
    done = complete_call_task(task, salesperson, "reached", "Fine.", minutes=7)
    task.refresh_from_db()
    assert (task.state, task.minutes, task.note, task.done_at) == (
        "done", 7, "Fine.", clock.now())
    assert done.minutes == 7
    [row] = _rows("call_logged")
    assert (row.data["minutes"], row.data["result"], row.staff) == (7, "reached", salesperson)


def test_a_logged_call_counts_as_effort_on_a_prospect_or_a_buyer(
    task: CallTask, salesperson: Staff, clock: Clock
) -> None:
    """The 20% rule's figures: the call, its minutes, and whether the customer had
    bought at the store when it was made."""
    complete_call_task(task, salesperson, "reached", minutes=7)
    assert _rows("call_logged")[0].data["bought"] is False
    day = clock.now().date()
    effort = figures.totals("effort", stores=[task.store_id], since=day, until=day,
                            by=["staff_id", "k1", "k2"])
    assert effort == {(salesperson.pk, "call", "prospect"): (1, Decimal(7))}
    record_purchase(store=task.store, actor=Actor(source="api"), customer=task.customer,
                    amount="10.00")
    assert has_bought(task.customer_id, task.store_id)


@pytest.mark.parametrize(("minutes", "code"), [
    (0, "out_of_range"), (-5, "out_of_range"), (601, "out_of_range"), (True, "invalid"),
    ("12", "invalid"), (1.5, "invalid"),
])
def test_minutes_outside_1_to_600_or_not_whole_are_refused_naming_the_field(
    task: CallTask, salesperson: Staff, minutes: Any, code: str,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        complete_call_task(task, salesperson, "reached", minutes=minutes)
    assert (refused.value.field, refused.value.code) == ("minutes", code)
    task.refresh_from_db()
    assert (task.state, task.minutes) == ("open", None)
    assert _rows("call_logged") == []


def test_600_minutes_is_the_longest_call(task: CallTask, salesperson: Staff) -> None:
    assert complete_call_task(task, salesperson, "reached", minutes=600).minutes == 600


def test_a_rescheduled_call_is_open_due_later_and_on_the_timeline(
    task: CallTask, salesperson: Staff, clock: Clock,
) -> None:
    now = clock.now()
    when = now + timedelta(days=1, hours=3)
    moved = reschedule_call_task(task, salesperson, when, "  After the holiday. ")
    task.refresh_from_db()
    assert (task.state, task.due_at, task.note) == ("open", when, "After the holiday.")
    assert moved.due_at == when
    assert list(open_tasks_for(salesperson).filter(due_at__lte=now)) == []
    [row] = _rows("call_later")
    assert (row.kind, row.at, row.staff, row.customer_id, row.store_id) == (
        "touch", now, salesperson, task.customer_id, task.store_id)
    assert row.data == {
        "touch": task.touch_id, "flow": "warming", "step": "seller-call",
        "channel": "call", "outcome": "call_later", "attempt": task.touch.attempts,
        "reason": task.touch.reason, "error": "", "due_at": when.isoformat(),
        "note": "After the holiday.",
    }
    # A second move without a note keeps the first one's note on the task.
    reschedule_call_task(task, salesperson, when + timedelta(hours=1))
    task.refresh_from_db()
    assert (task.due_at, task.note) == (when + timedelta(hours=1), "After the holiday.")
    assert [r.data["note"] for r in _rows("call_later")] == ["After the holiday.", ""]


@pytest.mark.parametrize(("delta", "code"), [
    (timedelta(0), "past"), (timedelta(minutes=-1), "past"),
    (timedelta(days=60, seconds=1), "too_far"),
])
def test_a_time_not_after_now_or_over_60_days_ahead_is_refused_naming_when(
    task: CallTask, salesperson: Staff, clock: Clock, delta: timedelta, code: str,
) -> None:
    due = task.due_at
    with pytest.raises(InvalidInput) as refused:
        reschedule_call_task(task, salesperson, clock.now() + delta)
    assert (refused.value.field, refused.value.code) == ("when", code)
    task.refresh_from_db()
    assert task.due_at == due
    assert _rows("call_later") == []


def test_60_days_ahead_is_allowed_and_a_naive_time_is_not(
    task: CallTask, salesperson: Staff, clock: Clock,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        reschedule_call_task(task, salesperson, datetime(2026, 6, 12, 9, 0))
    assert refused.value.field == "when"
    latest = clock.now() + timedelta(days=60)
    assert reschedule_call_task(task, salesperson, latest).due_at == latest


def test_a_note_with_control_characters_is_refused_naming_note(
    task: CallTask, salesperson: Staff, clock: Clock,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        reschedule_call_task(task, salesperson, clock.now() + timedelta(hours=1), "a\x00b")
    assert refused.value.field == "note"


def test_a_task_no_longer_open_is_not_moved(
    task: CallTask, salesperson: Staff, clock: Clock,
) -> None:
    complete_call_task(task, salesperson, "no_answer")
    with pytest.raises(InvalidInput) as refused:
        reschedule_call_task(task, salesperson, clock.now() + timedelta(hours=2))
    assert (refused.value.field, refused.value.code) == ("task", "not_open")
    task.refresh_from_db()
    assert task.due_at == utc(2026, 6, 11, 9, 0)
    assert _rows("call_later") == []
