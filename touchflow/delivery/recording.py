"""The record stage: outcomes written in sets, and each chain moved on.

One transaction (the caller's) writes a set of outcomes (only for touches the worker
still holds),
their failed attempts, call tasks and timeline rows, and queues each enrollment's next
step or completes it. Enrollments that end because of an outcome (a purchase) end
after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from touchflow.delivery import queries
from touchflow.delivery.enrollments import leave
from touchflow.delivery.models import Attempt, CallTask
from touchflow.delivery.transitions import Outcome
from touchflow.flows.models import Enrollment, EnrollmentState, FlowStep
from touchflow.flows.schedule import Policy, due_and_expiry, new_idempotency_key, next_step
from touchflow.timeline.events import insert_touch_rows, left_flow_row, write_rows


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
    written = queries.record([o.update for o in outcomes], owner)
    mine = [o for o in outcomes if o.touch.pk in written]
    Attempt.objects.bulk_create([o.attempt for o in mine if o.attempt])
    CallTask.objects.bulk_create([o.task for o in mine if o.task])
    insert_touch_rows([o.timeline for o in mine if o.timeline])
    _advance([o for o in mine if o.advance], now, steps_by_flow, policies)
    return mine


def after(written: Iterable[Outcome]) -> None:
    """End the enrollments the written outcomes end (each in its own transaction)."""
    for o in written:
        if o.exit_reason:
            leave(
                o.touch.customer_id, o.exit_reason, o.exit_at or o.update.finished_at
                or o.touch.due_at, only_rule=o.exit_reason,
            )


def _advance(
    finished: Iterable[Outcome],
    now: datetime,
    steps_by_flow: Mapping[int, list[FlowStep]],
    policies: Mapping[int, Policy],
) -> None:
    """Schedule each enrollment's next step, or complete it."""
    new_touches: list[queries.NewTouch] = []
    completed: list[int] = []
    for outcome in finished:
        touch = outcome.touch
        enrollment = touch.enrollment
        step = next_step(steps_by_flow[enrollment.flow_id], touch.step)
        if step is None:
            completed.append(enrollment.pk)
            continue
        base = enrollment.entered_at if step.anchor == "entry" else now
        due, expires = due_and_expiry(
            step, base, touch.customer.time_zone, policies[touch.store_id]
        )
        new_touches.append(queries.NewTouch(
            enrollment.pk, step.pk, enrollment.customer_id, enrollment.store_id,
            step.commercial, due, expires, new_idempotency_key(),
        ))
    queries.insert_touches(new_touches, now)
    if completed:
        Enrollment.objects.filter(pk__in=completed, state=EnrollmentState.ACTIVE).update(
            state=EnrollmentState.COMPLETED, ended_at=now, end_reason="completed"
        )
        ended = Enrollment.objects.filter(pk__in=completed).select_related("flow")
        write_rows([left_flow_row(e) for e in ended])
