"""A manager's unhappy customers: open, overdue and resolved escalations of their
stores, paged, each resolved with what was done (issue 10)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from touchflow.aftercare import escalations
from touchflow.aftercare.models import Escalation, Resolution
from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.customers import visibility
from touchflow.stores.models import Staff
from touchflow.web.errors import message
from touchflow.web.roles import manager_required
from touchflow.web.staff import staff_of

PAGE_SIZE = 25
STATES = ("open", "overdue", "resolved")


def _stores(staff: Staff) -> list[int] | None:
    stores = visibility.stores_of_staff(staff)
    return None if stores is None else list(stores)


@manager_required
@require_GET
def escalation_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _page(request: HttpRequest, error: tuple[int, str] | None = None,
          status: int = 200) -> HttpResponse:
    staff, now = staff_of(request), clock.now()
    state = request.GET.get("state", "open")
    state = state if state in STATES else "open"
    stores = _stores(staff)
    page = Paginator(escalations.listed(stores, state, now), PAGE_SIZE).get_page(
        request.GET.get("page"))
    rows: list[Escalation] = list(page.object_list)
    names = visibility.names_of([e.customer for e in rows], visibility.stores_of_staff(staff))
    for row in rows:
        row.shown_name = names.get(row.customer_id, "")  # type: ignore[attr-defined]
        row.overdue = row.resolved_at is None and row.due_at < now  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "state": state, "page": page, "rows": rows, "results": Resolution.choices,
        "counts": {s: escalations.listed(stores, s, now).count() for s in ("open", "overdue")},
        "error": error,
    }
    return render(request, "web/escalations.html", context, status=status)


@manager_required
@require_POST
def escalation_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """404 for an escalation outside the manager's stores."""
    staff = staff_of(request)
    found = escalations.of_stores(_stores(staff)).filter(pk=pk).first()
    back = f"{reverse('web:escalations')}?state={request.POST.get('state', 'open')}"
    if found is None:
        raise Http404
    if found.resolved_at is not None:
        messages.error(request, _("This escalation is already resolved."))
        return redirect(back)
    try:
        escalations.resolve(found, staff, request.POST.get("resolution", ""),
                            request.POST.get("note", ""), clock.now())
    except InvalidInput as exc:
        if exc.field == "note":
            return _page(request, error=(found.pk, message(exc)), status=422)
        messages.error(request, _("Choose what was done."))
        return redirect(back)
    messages.success(request, _("Escalation resolved."))
    return redirect(back)
