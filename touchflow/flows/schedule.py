"""When a step's touch is due: pure time arithmetic, no database."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from touchflow.core.localtime import next_allowed, next_clock_time
from touchflow.flows.models import FlowStep

if TYPE_CHECKING:
    from touchflow.stores.models import Store


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


# The exit rule a purchase triggers (``Flow.exit_on``).
PURCHASE = "purchase"


def ended_by_purchase(exit_on: Iterable[str], entered_at: datetime,
                      purchased_at: datetime | None) -> bool:
    """The one rule for a purchase ending a passage through a chain: the chain exits on
    purchase and the purchase came after the customer entered. A purchase before the
    entry, or at the same moment (the sale that started a purchase chain, or the sale of
    the visit that entered it), does not end it. The dispatcher's check before sending
    and ``leave`` both follow it."""
    return purchased_at is not None and PURCHASE in exit_on and purchased_at > entered_at


def store_policy(store: Store) -> Policy:
    return Policy(
        quiet=(store.quiet_hours_start, store.quiet_hours_end),
        cap_messages=store.cap_messages,
        cap_commercial=store.cap_commercial,
        cap_period=timedelta(days=store.cap_period_days),
    )

