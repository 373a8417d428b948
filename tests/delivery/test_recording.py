"""The record stage's rows: on PostgreSQL the database builds a step's timeline rows and
next touches from the outcomes it wrote (one statement), on SQLite Python does. Both
must write the same rows, count them in the figures once each, and write nothing for a
touch the worker no longer holds."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.delivery.conftest import Clock
from tests.servers import Sink
from touchflow.delivery import batch, queries, recording, transitions
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch
from touchflow.stores.models import Store
from touchflow.timeline import figures
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

pytestmark = pytest.mark.usefixtures("flows")

AT = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


def test_a_steps_outcomes_write_their_timeline_rows_figures_and_next_touches(
    type3_visit: Callable[..., Visit],
    make_dispatcher: Callable[..., Dispatcher],
    clock: Clock,
    sink: tuple[Sink, str],
    store: Store,
) -> None:
    failing = type3_visit(phone="501 234 567", name="Anna Nowak")
    sent = type3_visit(phone="501 234 568", name="Jan Kowalski")
    first = {t.customer_id: t for t in Touch.objects.all()}
    sink[0].script = [(503, {})]  # the first request (the first touch: one at a time)
    clock.move_to(AT)
    stats = make_dispatcher(concurrency=1).drain()
    assert dict(stats.outcomes) == {"queued": 1, "sent": 1}
    retried = Touch.objects.get(pk=first[failing.customer_id].pk)
    assert (retried.state, retried.reason) == ("queued", "retry")
    assert retried.last_error.startswith("HTTP 503")

    rows = {row.customer_id: (row.store_id, row.at, row.data)
            for row in TimelineEvent.objects.filter(kind="touch")}
    assert rows == {
        failing.customer_id: (store.pk, AT, {
            "touch": retried.pk, "flow": "warming", "step": "thank-you", "channel": "sms",
            "outcome": "retry", "attempt": 1, "reason": "retry",
            "error": retried.last_error[:300],
        }),
        sent.customer_id: (store.pk, AT, {
            "touch": first[sent.customer_id].pk, "flow": "warming", "step": "thank-you",
            "channel": "sms", "outcome": "sent", "attempt": 1, "reason": "", "error": "",
        }),
    }
    day = date(2026, 6, 2)
    assert {k: v for k, v in figures.snapshot().items() if k[3] == "touch"} == {
        (day, store.pk, 0, "touch", "warming", "thank-you", "sms", "retry"): (1, Decimal(0)),
        (day, store.pk, 0, "touch", "warming", "thank-you", "sms", "sent"): (1, Decimal(0)),
    }

    # Only the sent touch's chain moves on: its next step, queued with a key of its own.
    following = Touch.objects.get(step__key="how-to-choose")
    assert (following.customer_id, following.enrollment_id, following.state,
            following.commercial, following.round, following.attempts) == (
        sent.customer_id, first[sent.customer_id].enrollment_id, "queued",
        following.step.commercial, 0, 0)
    assert following.due_at == datetime(2026, 6, 6, 9, 0, tzinfo=UTC)
    assert following.expires_at == following.due_at + timedelta(
        seconds=following.step.expires_seconds)
    assert following.created_at == AT
    assert re.fullmatch("[0-9a-f]{32}", following.idempotency_key)
    assert following.idempotency_key != first[sent.customer_id].idempotency_key


def test_an_outcome_for_a_touch_taken_over_writes_no_row_and_no_next_touch(
    type3_visit: Callable[..., Visit], clock: Clock,
) -> None:
    type3_visit()
    clock.move_to(AT)
    ids = queries.claim(AT, "worker-a", AT + timedelta(minutes=2), 10)
    loaded = batch.load(ids, batch.Shared())
    [touch] = loaded.touches
    # Its lease ran out and another worker claimed it.
    Touch.objects.filter(pk=touch.pk).update(lease_owner="worker-b")

    outcome = transitions.sent(touch, AT, "msg-1")
    written = recording.write([outcome], "worker-a", AT, loaded.steps_by_flow,
                              loaded.policies)

    assert written == []
    assert Touch.objects.get(pk=touch.pk).state == "queued"
    assert not TimelineEvent.objects.filter(kind="touch").exists()
    assert not {k for k in figures.snapshot() if k[3] == "touch"}
    assert list(Touch.objects.values_list("step__key", flat=True)) == ["thank-you"]
