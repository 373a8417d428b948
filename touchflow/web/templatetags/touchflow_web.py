"""Template helpers of the web UI: the navigation's task and overdue counts, engine codes in
words."""

from __future__ import annotations

from typing import Any

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
    """How many calls are due now in this staff member's inbox, as its first tab
    counts them (one COUNT query; a call moved to later waits until its time)."""
    if not isinstance(user, Staff):
        return 0
    return open_tasks_for(user).filter(due_at__lte=clock.now()).count()


@register.simple_tag
def overdue_escalation_count(user: object) -> int:
    """How many unhappy customers in a manager's stores wait past their deadline."""
    if not isinstance(user, Staff) or not user.is_manager:
        return 0
    stores = visibility.stores_of_staff(user)
    return escalations.listed(None if stores is None else list(stores), "overdue",
                              clock.now()).count()


@register.simple_tag(takes_context=True)
def page_query(context: dict[str, Any], number: int) -> str:
    """This page's query string with ``page`` set to ``number`` (a search or filter
    stays as it is): the pager's links."""
    query = context["request"].GET.copy()
    query["page"] = str(number)
    return str(query.urlencode())


@register.filter
def channel_label(code: str) -> str:
    """"sms" → "SMS", "email" → "E-mail", in the active language."""
    return labels.channel(code)
