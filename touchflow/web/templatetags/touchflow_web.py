"""Template helpers of the web UI: the navigation's task and overdue counts, engine codes in
words."""

from __future__ import annotations

from django import template

from touchflow.aftercare import escalations
from touchflow.core import clock
from touchflow.customers import visibility
from touchflow.delivery.actions import open_tasks_for
from touchflow.stores.models import Staff
from touchflow.web import labels

register = template.Library()


@register.simple_tag
def open_task_count(user: object) -> int:
    """How many call tasks wait in this staff member's inbox (one COUNT query)."""
    if not isinstance(user, Staff):
        return 0
    return open_tasks_for(user).count()


@register.simple_tag
def overdue_escalation_count(user: object) -> int:
    """How many unhappy customers in a manager's stores wait past their deadline."""
    if not isinstance(user, Staff) or not user.is_manager:
        return 0
    stores = visibility.stores_of_staff(user)
    return escalations.listed(None if stores is None else list(stores), "overdue",
                              clock.now()).count()


@register.filter
def channel_label(code: str) -> str:
    """"sms" → "SMS", "email" → "E-mail", in the active language."""
    return labels.channel(code)
