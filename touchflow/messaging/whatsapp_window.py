"""WhatsApp's customer-service window.

A business may write free-form to a WhatsApp user only within 24 hours of that user's
last message to it; outside the window only an approved template goes through (the
Cloud API answers anything else with error 131047). The last message time is kept on
the contact point (``ContactPoint.last_inbound_at``, set by ``messaging.inbound``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from touchflow.core import channels
from touchflow.customers.models import ContactPoint

WHATSAPP = channels.get("whatsapp")
# Its length is the channel's trait (24 hours); without one the window is never open.
WINDOW: timedelta = WHATSAPP.reply_window or timedelta(0)


def last_inbound(phones: Iterable[str]) -> dict[str, datetime]:
    """When each of these E.164 numbers last wrote to us on WhatsApp (numbers that
    never did are absent). One query for the whole batch."""
    wanted = set(phones)
    if not wanted:
        return {}
    rows = ContactPoint.objects.filter(
        kind=WHATSAPP.contact,
        network=WHATSAPP.network,
        value__in=wanted,
        last_inbound_at__isnull=False,
    ).values_list("value", "last_inbound_at")
    return {value: at for value, at in rows if at is not None}


def is_open(last: datetime | None, now: datetime) -> bool:
    return last is not None and now - last < WINDOW
