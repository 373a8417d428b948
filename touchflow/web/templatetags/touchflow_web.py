"""Template helpers of the web UI: the navigation's task count, engine codes in words."""

from __future__ import annotations

from django import template

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


@register.filter
def channel_label(code: str) -> str:
    """"sms" → "SMS", "email" → "E-mail", in the active language."""
    return labels.channel(code)
