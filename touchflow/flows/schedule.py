"""When a step's touch is due: pure time arithmetic, no database."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from touchflow.core.localtime import next_allowed, next_clock_time
from touchflow.flows.models import FlowStep


@dataclass(frozen=True)
class Policy:
    """A store's contact policy, read once per batch."""

    quiet: tuple[time, time] | None
    cap_messages: int
    cap_commercial: int
    cap_period: timedelta


def step_window(step: FlowStep) -> tuple[time, time] | None:
    if step.window_start is None or step.window_end is None:
        return None
    return (step.window_start, step.window_end)


def due_time(step: FlowStep, base: datetime, tz_name: str, policy: Policy) -> datetime:
    """``base`` plus the step's delay, moved to its local send time, then out of quiet
    hours and into its window. Call steps ignore quiet hours (a person picks the moment)."""
    due = base + timedelta(seconds=step.delay_seconds)
    if step.send_at is not None:
        due = next_clock_time(due, tz_name, step.send_at)
    quiet = None if step.kind == "call" else policy.quiet
    return next_allowed(due, tz_name, quiet, step_window(step))


def due_and_expiry(
    step: FlowStep, base: datetime, tz_name: str, policy: Policy
) -> tuple[datetime, datetime]:
    """When a touch of ``step`` is due (``due_time``) and when it expires unsent."""
    due = due_time(step, base, tz_name, policy)
    return due, due + timedelta(seconds=step.expires_seconds)


def next_step(steps: Sequence[FlowStep], after: FlowStep | None) -> FlowStep | None:
    """The first live step after ``after`` (or the first step), by position."""
    for step in steps:
        if step.retired:
            continue
        if after is None or step.position > after.position:
            return step
    return None


def new_idempotency_key() -> str:
    """32 random hex digits, the shape ``uuid4().hex`` has (a quarter of its cost: one
    is made for every touch scheduled)."""
    return os.urandom(16).hex()
