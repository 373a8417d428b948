"""Retention: old message texts are cleared, old webhook event ids forgotten.

Texts are what customers wrote and what staff answered (``message_in``/``message_out``
timeline rows) and the rendered scripts of finished call tasks, once older than
``TOUCHFLOW_RETENTION_DAYS``; the rows stay (a reply happened, a call was made), only
the words go. ``InboundEvent`` rows exist to drop a provider's retried webhook; after
the longest documented retry window (``TOUCHFLOW_INBOUND_EVENT_DAYS``, decision 0012)
no retry can come, and they are deleted.

``touchflow privacy retention`` runs it; the worker runs it once a day (``Daily``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction

from touchflow.core import clock
from touchflow.delivery.models import CallTask, TaskState
from touchflow.messaging.models import InboundEvent
from touchflow.privacy import audit, conf
from touchflow.privacy.actor import Requester
from touchflow.privacy.models import AuditEntry, PrivacyAction
from touchflow.timeline.models import EventKind, TimelineEvent

TEXT_KINDS = (EventKind.MESSAGE_IN, EventKind.MESSAGE_OUT)
# Keys of a message row that hold the words themselves.
TEXT_KEYS = ("text",)
CHUNK = 1000

log = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    texts_before: datetime
    events_before: datetime
    counts: dict[str, int] = field(default_factory=dict)


def run(requester: Requester, *, now: datetime | None = None, dry_run: bool = False,
        days: int | None = None, event_days: int | None = None) -> RetentionReport:
    """Clear what is older than its period; with ``dry_run``, only count it. Logged."""
    now = now or clock.now()
    report = RetentionReport(
        texts_before=now - timedelta(days=days if days is not None else conf.retention_days()),
        events_before=now - timedelta(
            days=event_days if event_days is not None else conf.inbound_event_days()),
    )
    messages = _old_messages(report.texts_before)
    scripts = CallTask.objects.filter(due_at__lt=report.texts_before).exclude(
        state=TaskState.OPEN).exclude(script="")
    events = InboundEvent.objects.filter(received_at__lt=report.events_before)
    if dry_run:
        report.counts = {"message_texts": len(messages), "call_scripts": scripts.count(),
                         "inbound_events": events.count()}
        return report
    with transaction.atomic():
        report.counts = {
            "message_texts": _clear_texts(messages),
            "call_scripts": scripts.update(script=""),
            "inbound_events": events.delete()[0],
        }
        audit.log(PrivacyAction.RETENTION, requester, counts=report.counts, at=now)
    return report


def _old_messages(before: datetime) -> list[int]:
    ids = []
    rows = (TimelineEvent.objects.filter(kind__in=TEXT_KINDS, at__lt=before)
            .exclude(data__has_key="text_cleared").values_list("id", "data"))
    for pk, data in rows.iterator(chunk_size=CHUNK):
        if isinstance(data, dict) and any(data.get(k) for k in TEXT_KEYS):
            ids.append(pk)
    return ids


def _clear_texts(ids: list[int]) -> int:
    for start in range(0, len(ids), CHUNK):
        rows = list(TimelineEvent.objects.filter(pk__in=ids[start:start + CHUNK]).only("data"))
        for row in rows:
            row.data = {**row.data, **{k: "" for k in TEXT_KEYS if k in row.data},
                        "text_cleared": True}
        TimelineEvent.objects.bulk_update(rows, ["data"])
    return len(ids)


class Daily:
    """Runs retention when a day has passed since the last run anyone logged (so several
    workers, or a restarted one, still run it about once a day). Between checks it asks
    the database at most once an hour."""

    PERIOD = timedelta(days=1)
    CHECK = timedelta(hours=1)

    def __init__(self, now: Callable[[], datetime] = clock.now) -> None:
        self.now = now
        self.next_check: datetime | None = None

    def tick(self) -> RetentionReport | None:
        """Run retention if it is due. Never raises: a worker's deliveries must not stop
        because a chore failed (it is logged and tried again at the next check)."""
        try:
            return self._tick()
        except Exception:  # noqa: BLE001
            log.exception("retention failed")
            return None

    def _tick(self) -> RetentionReport | None:
        now = self.now()
        if self.next_check is not None and now < self.next_check:
            return None
        self.next_check = now + self.CHECK
        last = (AuditEntry.objects.filter(action=PrivacyAction.RETENTION)
                .order_by("-at").values_list("at", flat=True).first())
        if last is not None and now - last < self.PERIOD:
            self.next_check = min(self.next_check, last + self.PERIOD)
            return None
        return run(Requester.worker(), now=now)
