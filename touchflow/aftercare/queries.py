"""Which check-in a customer's answer belongs to."""

from __future__ import annotations

from datetime import datetime

from touchflow.delivery.models import Touch, TouchState
from touchflow.flows.answers import ANSWER_WINDOW


def open_check_in(customer_id: int, store_id: int, at: datetime) -> Touch | None:
    """The check-in ``store_id`` sent the customer last, if it asks for an answer and
    may still be answered at ``at`` (``flows.answers.ANSWER_WINDOW``)."""
    found: Touch | None = (
        Touch.objects.filter(
            customer_id=customer_id, store_id=store_id, state=TouchState.SENT,
            finished_at__gt=at - ANSWER_WINDOW, finished_at__lte=at,
        )
        .exclude(step__answers="")
        .select_related("step__flow", "enrollment")
        .order_by("-finished_at", "-id")
        .first()
    )
    return found


def answerable(touch: Touch, at: datetime) -> bool:
    """Whether ``touch`` is a sent check-in that may still be answered at ``at``."""
    return (
        touch.state == TouchState.SENT
        and bool(touch.step.answers)
        and touch.finished_at is not None
        and touch.finished_at <= at < touch.finished_at + ANSWER_WINDOW
    )
