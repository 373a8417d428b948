"""The record stage: outcomes written in sets, and each chain moved on.

One transaction (the caller's) writes a set of outcomes (only for touches the worker
still holds),
their failed attempts, call tasks and timeline rows, and queues each enrollment's next
step or completes it. Enrollments that end because of an outcome (a purchase) end
after it.

On PostgreSQL one statement writes the outcomes, their timeline rows and the next
steps' touches (``queries.record_all``): the rows are built by the database from the
outcomes it wrote, the next touches' due times by ``flows.schedule`` here. On SQLite
(one worker) each is its own statement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from django.db import connection

from touchflow.delivery import queries
from touchflow.delivery.due import Due
from touchflow.delivery.enrollments import leave
from touchflow.delivery.models import Attempt, CallTask
from touchflow.delivery.transitions import Outcome
from touchflow.flows.models import Enrollment, EnrollmentState, FlowStep
from touchflow.flows.schedule import Policy, due_and_expiry, new_idempotency_key, next_step
from touchflow.timeline.events import (
    TouchData,
    TouchRowKind,
    insert_touch_rows,
    left_flow_row,
    touch_data,
    touch_rows_written,
    write_rows,
)
from touchflow.timeline.models import EventKind


def write(
    outcomes: Sequence[Outcome],
    owner: str,
    now: datetime,
    steps_by_flow: Mapping[int, list[FlowStep]],
    policies: Mapping[int, Policy],
) -> list[Outcome]:
    """Write ``outcomes`` inside the caller's transaction; returns those written (a
    touch whose lease was taken over or that was cancelled meanwhile is left alone).
    Call ``after`` with them once the transaction committed."""
    if not outcomes:
        return []
    schedule = _Schedule(now, steps_by_flow, policies)
    if connection.vendor == "postgresql":
        mine = _write_at_once(outcomes, owner, now, schedule)
    else:
        written = queries.record([o.update for o in outcomes], owner)
        mine = [o for o in outcomes if o.touch.pk in written]
        insert_touch_rows([_row(o) for o in mine if o.timeline])
        follows = [(o.touch, schedule.follow(o.touch)) for o in mine if o.advance]
        queries.insert_touches([
            queries.NewTouch(t.enrollment.pk, f[0], t.customer_id, t.store_id, f[1], f[2],
                             f[3], new_idempotency_key())
            for t, f in follows if f is not None
        ], now)
        schedule.completed.extend(t.enrollment.pk for t, f in follows if f is None)
    Attempt.objects.bulk_create([o.attempt for o in mine if o.attempt])
    CallTask.objects.bulk_create([o.task for o in mine if o.task])
    _complete(schedule.completed, now)
    return mine


def _write_at_once(
    outcomes: Sequence[Outcome], owner: str, now: datetime, schedule: _Schedule
) -> list[Outcome]:
    """The outcomes, their timeline rows and next touches in one statement; the chains
    that end, and the figures of the rows written, after it."""
    events: list[queries.TouchEvent | None] = []
    follows: list[queries.Follow | None] = []
    for o in outcomes:
        touch, note = o.touch, o.timeline
        events.append(None if note is None else (
            note[0], note[1], note[2], touch.enrollment.flow.slug, touch.step.key))
        follows.append(schedule.follow(touch) if o.advance else None)
    written = queries.record_all([o.update for o in outcomes], events, follows, owner, now)
    mine = []
    kinds: Counter[TouchRowKind] = Counter()
    for o, event, follow in zip(outcomes, events, follows, strict=True):
        if o.touch.pk not in written:
            continue
        mine.append(o)
        if event is not None:
            kinds[(o.touch.store_id, event[0], event[3], event[4], o.update.channel,
                   event[1])] += 1
        if o.advance and follow is None:
            schedule.completed.append(o.touch.enrollment.pk)
    touch_rows_written(kinds)
    return mine


def _row(o: Outcome) -> tuple[int, str, datetime, int, TouchData]:
    """An outcome's timeline row (``TOUCH_ROW_COLUMNS``)."""
    assert o.timeline is not None
    at, label, error = o.timeline
    touch = o.touch
    data = touch_data(touch, label, touch.enrollment.flow.slug, touch.step.key, error)
    return (touch.customer_id, EventKind.TOUCH, at, touch.store_id, data)


def after(written: Iterable[Outcome]) -> None:
    """End the enrollments the written outcomes end (each in its own transaction)."""
    for o in written:
        if o.exit_reason:
            leave(
                o.touch.customer_id, o.exit_reason, o.exit_at or o.update.finished_at
                or o.touch.due_at, only_rule=o.exit_reason,
            )


class _Schedule:
    """Each finished touch's next step, due by ``flows.schedule``'s rule (asked once
    per step, base, zone and store: a group's touches mostly share them), and the
    enrollments that have no next step."""

    def __init__(self, now: datetime, steps_by_flow: Mapping[int, list[FlowStep]],
                 policies: Mapping[int, Policy]) -> None:
        self.now = now
        self.steps_by_flow = steps_by_flow
        self.policies = policies
        self.completed: list[int] = []
        self._next: dict[tuple[int, int], FlowStep | None] = {}
        self._due: dict[tuple[int, datetime, str, int], tuple[datetime, datetime]] = {}

    def follow(self, touch: Due) -> queries.Follow | None:
        """The touch's next step's touch, or None: the chain is complete."""
        enrollment = touch.enrollment
        key = (enrollment.flow_id, touch.step.pk)
        if key in self._next:
            step = self._next[key]
        else:
            step = self._next[key] = next_step(self.steps_by_flow[enrollment.flow_id],
                                               touch.step)
        if step is None:
            return None
        base = enrollment.entered_at if step.anchor == "entry" else self.now
        tz_name = touch.customer.time_zone
        asked = (step.pk, base, tz_name, touch.store_id)
        due = self._due.get(asked)
        if due is None:
            due = self._due[asked] = due_and_expiry(step, base, tz_name,
                                                    self.policies[touch.store_id])
        return (step.pk, step.commercial, due[0], due[1])


def _complete(completed: list[int], now: datetime) -> None:
    """The enrollments whose chain has no next step are complete."""
    if not completed:
        return
    Enrollment.objects.filter(pk__in=completed, state=EnrollmentState.ACTIVE).update(
        state=EnrollmentState.COMPLETED, ended_at=now, end_reason="completed"
    )
    ended = Enrollment.objects.filter(pk__in=completed).select_related("flow")
    write_rows([left_flow_row(e) for e in ended])
