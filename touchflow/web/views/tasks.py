"""The call tasks inbox: the calls a chain asks people to make, and logging how they went."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from touchflow.core.errors import InvalidInput
from touchflow.customers import visibility
from touchflow.delivery.actions import complete_call_task, open_tasks_for
from touchflow.delivery.models import CallResult, CallTask
from touchflow.stores.models import Staff
from touchflow.web.errors import message
from touchflow.web.staff import staff_of

SHOWN = 200  # an inbox longer than this is worked from the top anyway


def _open_tasks(staff: Staff) -> QuerySet[CallTask]:
    """The staff member's open tasks, in their stores only (an admin: every store)."""
    tasks = open_tasks_for(staff)
    if not staff.is_admin:
        tasks = tasks.filter(store__in=staff.stores.all())
    return tasks


def _as_seen(tasks: list[CallTask]) -> None:
    """Each task shows the customer as its store knows them: the name that store
    recorded, and the phone only if that store recorded it (decision 0008)."""
    for task in tasks:
        store = frozenset({task.store_id})
        task.shown_name = visibility.names_of([task.customer], store)[task.customer_id]  # type: ignore[attr-defined]
        phones = {p.value for p in visibility.visible_points(task.customer, store)}
        task.shown_phone = task.phone if task.phone in phones else ""  # type: ignore[attr-defined]


@login_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    return _inbox(request)


def _inbox(request: HttpRequest, note_error: tuple[int, str] | None = None,
           status: int = 200) -> HttpResponse:
    """The inbox; ``note_error`` is (task id, message) for a refused note, shown beside it."""
    staff = staff_of(request)
    tasks = list(_open_tasks(staff).select_related(
        "customer", "assignee", "store", "touch__step", "touch__enrollment__flow"
    )[:SHOWN])
    _as_seen(tasks)
    context = {
        "tasks": tasks,
        "results": CallResult.choices,
        "show_assignee": staff.is_manager,
        "note_error": note_error,
    }
    return render(request, "web/tasks.html", context, status=status)


@login_required
@require_POST
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    """404 for a task that is not in the staff member's inbox (someone else's, or done)."""
    staff = staff_of(request)
    task = _open_tasks(staff).filter(pk=pk).select_related("customer").first()
    if task is None:
        raise Http404
    try:
        complete_call_task(task, staff, request.POST.get("result", ""),
                           request.POST.get("note", ""))
    except InvalidInput as exc:
        if exc.field == "note":
            return _inbox(request, note_error=(task.pk, message(exc)), status=422)
        if exc.field == "result":
            messages.error(request, _("Choose how the call went."))
        else:
            messages.error(request, _("This task is already done."))
        return redirect("web:tasks")
    name = (visibility.names_of([task.customer], frozenset({task.store_id}))[task.customer_id]
            or _("customer #%(id)s") % {"id": task.customer_id})
    messages.success(request, _("Call with %(customer)s logged.") % {"customer": name})
    return redirect("web:tasks")
