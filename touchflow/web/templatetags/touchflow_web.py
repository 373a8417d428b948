"""Template helpers of the web UI: the navigation's task and overdue counts, engine codes in
words, a dashboard panel's table rows."""

from __future__ import annotations

from html import escape as _escape  # Django's own, without its lazy-text wrapper
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from touchflow.aftercare import escalations
from touchflow.core import clock
from touchflow.customers import visibility
from touchflow.dashboard.panels import Cell, Panel
from touchflow.delivery.actions import open_tasks_for
from touchflow.stores.models import Staff
from touchflow.web import labels, paging

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
    return paging.query_with(context["request"], "page", str(number))


@register.filter
def channel_label(code: str) -> str:
    """"sms" → "SMS", "email" → "E-mail", in the active language."""
    return labels.channel(code)


@register.simple_tag
def panel_rows(panel: Panel) -> SafeString:
    """A panel's table rows, each number a link to what it counts. Written here rather
    than in the template: a manager's page of twenty stores has some 5,000 cells, and
    the template language took ~300 ms to render them (bench/RESULTS.md)."""
    rows = []
    for row in panel.rows:
        label = _linked(row.href, row.label)
        rows.append(f'<tr><th scope="row">{label}</th>{"".join(map(_cell, row.cells))}</tr>')
    return mark_safe("\n".join(rows))  # noqa: S308 - every part escaped above


def _cell(cell: Cell) -> str:
    value = "" if cell.value is None else f' data-value="{_escape(str(cell.value))}"'
    return f"<td{value}>{_linked(cell.href if cell.value else '', cell.text)}</td>"


def _linked(href: str, text: str) -> str:
    return f'<a href="{_escape(href)}">{_escape(str(text))}</a>' if href else _escape(str(text))
