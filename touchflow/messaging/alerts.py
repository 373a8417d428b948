"""Telling a manager about an unhappy customer on their own channel (issue 10).

An escalation is opened wherever the answer came in (a webhook, the rating page);
this, run by the worker with the notices, queues one notice per escalation not yet
told: to the manager's Telegram chat through the store's Telegram account when both
exist, else to their e-mail through the store's e-mail account or the deployment's
e-mail channel. Where none of these exists the escalation shows on the manager's page
only (and ``touchflow doctor`` says so).
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from touchflow.aftercare.models import Escalation
from touchflow.core import clock
from touchflow.messaging import accounts, notices

log = logging.getLogger(__name__)


def tick(now: datetime | None = None) -> int:
    """``queue_due``, then every due notice (alerts included): the worker's chore. Never
    raises, like ``notices.tick``."""
    now = now or clock.now()
    try:
        queue_due(now)
    except Exception:  # noqa: BLE001
        log.exception("queueing escalation alerts failed")
    return notices.tick(now)


def queue_due(now: datetime, limit: int = 100) -> int:
    """Queue the alert of every escalation not yet told; how many were queued."""
    queued = 0
    with transaction.atomic():
        rows = list(
            Escalation.objects.select_for_update(skip_locked=True)
            .filter(alerted_at__isnull=True, resolved_at__isnull=True, assignee__isnull=False)
            .select_related("assignee", "store", "customer")
            .order_by("opened_at")[:limit]
        )
        for escalation in rows:
            queued += _queue(escalation, now)
        Escalation.objects.filter(pk__in=[e.pk for e in rows]).update(alerted_at=now)
    return queued


def route(escalation: Escalation) -> tuple[str, str] | None:
    """(channel, the manager's address) the alert goes on, if any: their Telegram chat
    where the store has a Telegram account, else their e-mail through the store's
    e-mail account or the deployment's e-mail channel."""
    manager = escalation.assignee
    if manager is None:
        return None
    if manager.telegram_chat and accounts.for_store(escalation.store_id, "telegram"):
        return "telegram", manager.telegram_chat
    if manager.email and notices.can_reach(escalation.store_id, "email"):
        return "email", manager.email
    return None


def _queue(escalation: Escalation, now: datetime) -> int:
    found = route(escalation)
    if found is None or escalation.assignee is None:
        return 0
    channel, address = found
    language = escalation.assignee.language
    with translation.override(language):
        text = alert_text(escalation)
    reply = notices.Reply("escalation", address, text, language)
    queued = notices.queue_for_store(escalation.store_id, channel, reply, now,
                                     key=f"escalation:{escalation.pk}")
    return queued is not None


def alert_text(escalation: Escalation) -> str:
    """What the manager reads, in the active language."""
    due = escalation.due_at.astimezone(ZoneInfo(escalation.store.time_zone))
    said = f" «{escalation.text}»" if escalation.text else ""
    return _(
        "An unhappy customer at %(store)s: %(customer)s (%(reason)s). "
        "Please reach them by %(due)s.%(said)s"
    ) % {"store": escalation.store.name, "customer": escalation.customer.name or "—",
         "reason": escalation.get_reason_display(), "due": due.strftime("%Y-%m-%d %H:%M"),
         "said": said}
