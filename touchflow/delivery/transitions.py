"""Every change of a touch's state, in one place.

For a touch a worker holds, each function returns an ``Outcome`` — the new state, the
reason code, the timeline row, the failed attempt and whether the chain moves on — and
the recording stage writes outcomes in sets. For touches nobody holds (a chain left,
resumed, a failed receipt, a person sending again), the functions at the end write the
change themselves. Reasons are codes, not prose: pages translate them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from touchflow.delivery.channels.base import SendResult
from touchflow.delivery.due import Due
from touchflow.delivery.models import Attempt, AttemptOutcome, CallTask, Touch, TouchState
from touchflow.delivery.queries import TouchUpdate
from touchflow.delivery.retry import RetryPolicy

# What a touch's timeline row says besides the touch's own values: when, the outcome
# (its label: sent, retry, dead, …) and the error. The recording stage writes the row
# (``timeline.events``), or has the database write it with the outcome.
TimelineNote = tuple[datetime, str, str]


class Reason(StrEnum):
    FLOW_PAUSED = "flow_paused"
    PURCHASE = "purchase"
    RETRY = "retry"
    EXPIRED_RETRYING = "expired_retrying"
    GAVE_UP = "gave_up"
    REJECTED = "rejected"
    FALLBACK = "fallback"
    RATE_LIMITED = "rate_limited"
    # Claimed while in flight, on a provider that would deliver a repeat twice.
    IN_FLIGHT_AT_CRASH = "in_flight_at_crash"
    # The request went out and no answer came back (timeout, dropped connection).
    NO_ANSWER = "no_answer"
    TEMPLATE = "template"


@dataclass(slots=True)  # made per touch
class Outcome:
    touch: Due
    update: TouchUpdate
    attempt: Attempt | None = None
    timeline: TimelineNote | None = None
    task: CallTask | None = None
    advance: bool = False
    # The enrollment ends for this reason, for what happened at ``exit_at``.
    exit_reason: str = ""
    exit_at: datetime | None = None


def _update(touch: Due, **changes: Any) -> TouchUpdate:
    for name, value in changes.items():
        setattr(touch, name, value)
    return _written(touch)


def _written(touch: Due) -> TouchUpdate:
    """The touch's columns as the recording stage writes them."""
    return TouchUpdate(
        id=touch.pk, state=touch.state, due_at=touch.due_at, channel=touch.channel,
        attempts=touch.attempts, last_error=touch.last_error, reason=touch.reason,
        finished_at=touch.finished_at, provider_message_id=touch.provider_message_id,
        failed_channels=touch.failed_channels,
    )


def park(touch: Due) -> Outcome:
    """The chain is paused: the touch waits, out of the queue, until it resumes."""
    return Outcome(touch, _update(touch, state=TouchState.PAUSED, reason=Reason.FLOW_PAUSED))


def requeue(touch: Due, until: datetime, reason: str) -> Outcome:
    """Back to the queue, due at ``until``: judged afresh then."""
    return Outcome(touch, _update(touch, state=TouchState.QUEUED, due_at=until, reason=reason))


def drop(touch: Due, now: datetime, state: str, reason: str) -> Outcome:
    """Ends without a message: skipped, expired or cancelled."""
    return Outcome(
        touch,
        _update(touch, state=state, reason=reason, finished_at=now),
        timeline=(now, state, ""),
        advance=state != TouchState.CANCELLED,
    )


def left_on_purchase(touch: Due, now: datetime, purchased_at: datetime) -> Outcome:
    """The customer bought after entering a chain that exits on purchase."""
    outcome = drop(touch, now, TouchState.CANCELLED, Reason.PURCHASE)
    outcome.exit_reason, outcome.exit_at = Reason.PURCHASE, purchased_at
    return outcome


def task(touch: Due, now: datetime, call: CallTask) -> Outcome:
    update = _update(touch, state=TouchState.TASK, channel="call", finished_at=now, reason="")
    return Outcome(
        touch, update, task=call, timeline=(now, "task", ""), advance=True
    )


def sent(touch: Due, now: datetime, provider_id: str) -> Outcome:
    # The touch row records the success (attempts, channel, finished_at) and the
    # timeline shows it: Attempt rows are kept for failed attempts.
    # Set one by one rather than through ``_update``'s keywords: every message sent
    # passes here.
    touch.state = TouchState.SENT
    touch.attempts += 1
    touch.finished_at = now
    touch.last_error = touch.reason = ""
    touch.provider_message_id = provider_id
    return Outcome(touch, _written(touch), None, (now, "sent", ""), None, True)


def _failure(
    touch: Due, now: datetime, error: str, label: str, attempt_outcome: str, **changes: Any
) -> Outcome:
    attempts = touch.attempts + 1
    update = _update(touch, attempts=attempts, last_error=error, **changes)
    attempt = Attempt(
        touch_id=touch.pk, number=attempts, at=now, channel=touch.channel,
        outcome=attempt_outcome, error=error,
    )
    final = update.state != TouchState.QUEUED
    return Outcome(
        touch, update, attempt=attempt, timeline=(now, label, error),
        advance=final,
    )


def retry(touch: Due, now: datetime, error: str, retry_at: datetime) -> Outcome:
    if retry_at > touch.expires_at:
        return _failure(touch, now, error, "expired", AttemptOutcome.FAILED,
                        state=TouchState.EXPIRED, finished_at=now,
                        reason=Reason.EXPIRED_RETRYING)
    return _failure(touch, now, error, "retry", AttemptOutcome.RETRY,
                    state=TouchState.QUEUED, due_at=retry_at, reason=Reason.RETRY)


def dead(touch: Due, now: datetime, error: str, reason: str) -> Outcome:
    return _failure(touch, now, error, "dead", AttemptOutcome.FAILED,
                    state=TouchState.DEAD, finished_at=now, reason=reason)


def uncertain(touch: Due, now: datetime, error: str, reason: str) -> Outcome:
    """May have reached a provider that would deliver a repeat twice: not sent again
    by the engine; listed with the dead letters for a person to decide."""
    return _failure(touch, now, error, "uncertain", AttemptOutcome.FAILED,
                    state=TouchState.UNCERTAIN, finished_at=now, reason=reason)


def fall_back(touch: Due, now: datetime, error: str) -> Outcome:
    """The provider refused this address for good: the step's next channel, now."""
    failed = ",".join((*touch.failed(), touch.channel))
    return _failure(touch, now, error, "fallback", AttemptOutcome.FAILED,
                    state=TouchState.QUEUED, due_at=now, reason=Reason.FALLBACK,
                    failed_channels=failed)


def result(
    touch: Due, now: datetime, outcome: SendResult, policy: RetryPolicy, *,
    honours_keys: bool, can_fall_back: bool,
) -> Outcome:
    """What a provider's answer (or its absence) makes of the touch."""
    if outcome.ok:
        return sent(touch, now, outcome.provider_id)
    error = outcome.error or "unknown error"
    if outcome.ambiguous and not honours_keys:
        return uncertain(touch, now, error, Reason.NO_ANSWER)
    if not outcome.transient:
        if can_fall_back:
            return fall_back(touch, now, error)
        return dead(touch, now, error, Reason.REJECTED)
    attempts = touch.attempts + 1
    if policy.gives_up_after(attempts):
        return dead(touch, now, error, Reason.GAVE_UP)
    return retry(touch, now, error, now + policy.delay(attempts, outcome.retry_after))


# -- touches nobody holds -------------------------------------------------------------

# States a touch can still leave by being sent (or parked and resumed).
OPEN_STATES = (TouchState.QUEUED, TouchState.CLAIMED, TouchState.PAUSED)


def cancel_open(enrollment_ids: Iterable[int], reason: str, at: datetime) -> int:
    """The enrollments ended: their open touches end too, with ``reason``. A touch
    whose request is already on its way is left to its worker, which records what the
    provider answers (its chain does not go on: the enrollment has ended)."""
    return Touch.objects.filter(
        enrollment__in=list(enrollment_ids), state__in=OPEN_STATES, in_flight_at__isnull=True
    ).update(state=TouchState.CANCELLED, reason=reason, finished_at=at, lease_owner="")


def resume_parked(flow_id: int) -> int:
    """The chain is active again: touches parked while it was paused go back to the
    queue (one whose time ran out meanwhile will expire rather than go out late)."""
    return Touch.objects.filter(enrollment__flow_id=flow_id, state=TouchState.PAUSED).update(
        state=TouchState.QUEUED, reason=""
    )


def fall_back_after_receipt(touch: Touch, channel: str, at: datetime) -> list[str]:
    """A sent touch's receipt says the address failed for good: the step goes again on
    its next channel, now. Returns the fields changed (the caller saves them)."""
    touch.failed_channels = ",".join(filter(None, [touch.failed_channels, channel]))
    touch.state = TouchState.QUEUED
    touch.due_at = at
    touch.finished_at = None
    touch.reason = Reason.FALLBACK
    touch.provider_message_id = ""
    return ["failed_channels", "state", "due_at", "finished_at", "reason",
            "provider_message_id"]


def send_again(touch: Touch, at: datetime, expires_at: datetime, reason: str) -> list[str]:
    """A person sends a dead or uncertain touch again: queued now, with the same
    idempotency key. Returns the fields changed (the caller saves them)."""
    touch.state = TouchState.QUEUED
    touch.due_at = at
    touch.expires_at = expires_at
    touch.reason = reason
    touch.finished_at = None
    touch.lease_owner = ""
    touch.lease_until = None
    # Cleared, or the worker claiming it would take it for a send cut short again.
    touch.in_flight_at = None
    return ["state", "due_at", "expires_at", "reason", "finished_at", "lease_owner",
            "lease_until", "in_flight_at"]
