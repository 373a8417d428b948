"""The call tasks inbox: the calls a chain asks people to make, logging how they went, and
"call back later" (issue 11). Paged and filtered in the URL: ``when`` (due now, later,
all), ``store`` among the viewer's stores and, for a manager, ``seller`` (an assignee's
id, or ``none`` for the tasks nobody holds)."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from touchflow.core import clock, localtime
from touchflow.core.errors import InvalidInput
from touchflow.customers import visibility
from touchflow.delivery.actions import (
    LATER_MAX,
    MINUTES_MAX,
    complete_call_task,
    open_tasks_for,
    reschedule_call_task,
)
from touchflow.delivery.models import CallResult, CallTask
from touchflow.stores.models import Staff, Store
from touchflow.web.errors import message
from touchflow.web.staff import staff_of

PAGE_SIZE = 25
WHEN = ("now", "later", "all")  # due now (overdue included), due later, every open task
UNASSIGNED = "none"
# The query keys the inbox keeps across its forms and links.
KEPT = ("when", "store", "seller", "page")
# "Call back later" quick choices: the form's ``later`` button; "at" reads ``when``.
IN_TWO_HOURS, TOMORROW, AT = "2h", "tomorrow", "at"


@dataclass
class Filters:
    when: str = "now"
    store: Store | None = None
    seller: Staff | None = None
    unassigned: bool = False
    problems: list[str] = field(default_factory=list)

    def query(self, **changes: str) -> str:
        """The filters as a query string (no page), with ``changes`` applied."""
        query = QueryDict(mutable=True)
        values = {"when": self.when, "store": str(self.store.pk) if self.store else "",
                  "seller": UNASSIGNED if self.unassigned else
                  str(self.seller.pk) if self.seller else ""}
        for key, value in {**values, **changes}.items():
            if value:
                query[key] = value
        return str(query.urlencode())


def _open_tasks(staff: Staff) -> QuerySet[CallTask]:
    """The staff member's open tasks, in their stores only (an admin: every store)."""
    tasks = open_tasks_for(staff)
    if not staff.is_admin:
        tasks = tasks.filter(store__in=staff.stores.all())
    return tasks


def _stores(staff: Staff) -> list[Store]:
    visible = visibility.stores_of_staff(staff)
    rows = Store.objects.order_by("name", "pk")
    return list(rows if visible is None else rows.filter(pk__in=visible))


def _sellers(stores: list[Store]) -> list[Staff]:
    """Whom a manager may filter by: the staff of their stores."""
    return list(Staff.objects.filter(stores__in=stores).distinct().order_by("username"))


def _filters(request: HttpRequest, staff: Staff, stores: list[Store],
             sellers: list[Staff]) -> Filters:
    """The inbox's filters from the URL; a value that is not one to choose is named in
    ``problems`` and that filter is left out."""
    found = Filters()
    refused = _("%(field)s: not one you can choose; showing all.")
    when = request.GET.get("when") or "now"
    if when in WHEN:
        found.when = when
    else:
        found.problems.append(refused % {"field": "when"})
        found.when = "all"
    raw_store = request.GET.get("store")
    if raw_store:
        found.store = _pick(raw_store, {s.pk: s for s in stores})
        if found.store is None:
            found.problems.append(refused % {"field": "store"})
    raw_seller = request.GET.get("seller")
    if raw_seller and staff.is_manager:  # a salesperson's inbox holds their own tasks only
        if raw_seller == UNASSIGNED:
            found.unassigned = True
        else:
            found.seller = _pick(raw_seller, {s.pk: s for s in sellers})
            if found.seller is None:
                found.problems.append(refused % {"field": "seller"})
    return found


def _pick(raw: str, choices: dict[int, Any]) -> Any:
    try:
        return choices.get(int(raw))
    except (ValueError, OverflowError):
        return None


def _filtered(tasks: QuerySet[CallTask], filters: Filters) -> QuerySet[CallTask]:
    """``tasks`` narrowed by the store and seller filters (not by ``when``)."""
    if filters.store is not None:
        tasks = tasks.filter(store=filters.store)
    if filters.unassigned:
        tasks = tasks.filter(assignee__isnull=True)
    elif filters.seller is not None:
        tasks = tasks.filter(assignee=filters.seller)
    return tasks


def _due(tasks: QuerySet[CallTask], when: str, now: datetime) -> QuerySet[CallTask]:
    if when == "now":
        return tasks.filter(due_at__lte=now)
    if when == "later":
        return tasks.filter(due_at__gt=now)
    return tasks


def _as_seen(tasks: list[CallTask]) -> None:
    """Each task shows the customer as its store knows them: the name that store
    recorded, and the phone only if that store recorded it (decision 0008); its times
    on its store's clock. One lookup for the page's tasks, whatever their number."""
    seen = visibility.summaries_at([(task.customer, task.store_id) for task in tasks])
    for task in tasks:
        shown = seen[(task.customer_id, task.store_id)]
        task.shown_name = shown.name  # type: ignore[attr-defined]
        phones = {p.value for p in shown.points}
        task.shown_phone = task.phone if task.phone in phones else ""  # type: ignore[attr-defined]
        task.zone = localtime.zone(task.store.time_zone)  # type: ignore[attr-defined]


def _kept(request: HttpRequest) -> str:
    """The inbox's filters and page from this request's URL, for going back to it."""
    query = QueryDict(mutable=True)
    for key in KEPT:
        value = request.GET.get(key)
        if value:
            query[key] = value
    return str(query.urlencode())


def _back(request: HttpRequest) -> str:
    kept = _kept(request)
    return reverse("web:tasks") + (f"?{kept}" if kept else "")


@login_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    return _inbox(request)


@dataclass(frozen=True)
class FieldError:
    """A refused input shown beside its field on one task's card."""

    task: int
    field: str  # the input's id prefix: note, minutes, later-note, when
    text: str


def _inbox(request: HttpRequest, error: FieldError | None = None,
           status: int = 200) -> HttpResponse:
    staff, now = staff_of(request), clock.now()
    stores = _stores(staff)
    sellers = _sellers(stores) if staff.is_manager else []
    filters = _filters(request, staff, stores, sellers)
    narrowed = _filtered(_open_tasks(staff), filters)
    page = Paginator(
        _due(narrowed, filters.when, now).select_related(
            "customer", "assignee", "store", "touch__step", "touch__enrollment__flow"
        ).order_by("due_at", "id"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    tasks: list[CallTask] = list(page.object_list)
    _as_seen(tasks)
    if error is not None and error.task not in {t.pk for t in tasks}:
        filters.problems.append(error.text)  # its card is not on this page: said on top
    context: dict[str, Any] = {
        "tasks": tasks,
        "page": page,
        "filters": filters,
        "stores": stores,
        "sellers": sellers,
        "tabs": [(w, filters.query(when=w)) for w in WHEN],
        "counts": {w: _due(narrowed, w, now).count() for w in ("now", "later")},
        "kept": _kept(request),
        "now": now,
        "latest": now + LATER_MAX,
        "results": CallResult.choices,
        "show_assignee": staff.is_manager,
        "error": error,
    }
    return render(request, "web/tasks.html", context, status=status)


def _task_of(request: HttpRequest, pk: int) -> tuple[Staff, CallTask]:
    """404 for a task that is not in the staff member's inbox (someone else's, or done)."""
    staff = staff_of(request)
    task = _open_tasks(staff).filter(pk=pk).select_related("customer", "store").first()
    if task is None:
        raise Http404
    return staff, task


def _name(task: CallTask) -> str:
    return (visibility.names_of([task.customer], frozenset({task.store_id}))[task.customer_id]
            or _("customer #%(id)s") % {"id": task.customer_id})


def _minutes(raw: str) -> int | None:
    """The form's minutes: empty is None; anything but digits is refused naming it."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise InvalidInput("minutes", "Must be a whole number of minutes.", "invalid")
    return int(raw)


@login_required
@require_POST
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    staff, task = _task_of(request, pk)
    try:
        complete_call_task(task, staff, request.POST.get("result", ""),
                           request.POST.get("note", ""),
                           minutes=_minutes(request.POST.get("minutes", "")))
    except InvalidInput as exc:
        if exc.field in ("note", "minutes"):
            return _inbox(request, FieldError(task.pk, exc.field, _said(exc)), status=422)
        if exc.field == "result":
            messages.error(request, _("Choose how the call went."))
        else:
            messages.error(request, _("This task is already done."))
        return redirect(_back(request))
    messages.success(request, _("Call with %(customer)s logged.") % {"customer": _name(task)})
    return redirect(_back(request))


@login_required
@require_POST
def task_later(request: HttpRequest, pk: int) -> HttpResponse:
    """"Call back later": the task moves to a quick choice (in two hours, tomorrow at
    this time) or to a date and time typed on the task's store's clock."""
    staff, task = _task_of(request, pk)
    zone = localtime.zone(task.store.time_zone)
    note = request.POST.get("note", "")
    try:
        when = later_time(request.POST.get("later", ""), request.POST.get("when", ""),
                          clock.now(), zone)
        moved = reschedule_call_task(task, staff, when, note)
    except InvalidInput as exc:
        if exc.field == "task":
            messages.error(request, _("This task is already done."))
            return redirect(_back(request))
        shown = "later-note" if exc.field == "note" else "when"
        return _inbox(request, FieldError(task.pk, shown, _said(exc)), status=422)
    when_shown = dateformat.format(moved.due_at.astimezone(zone), "j M, H:i")
    messages.success(request, _("Call with %(customer)s moved to %(when)s.") % {
        "customer": _name(task), "when": when_shown})
    return redirect(_back(request))


def later_time(choice: str, typed: str, now: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """When "call back later" means: ``2h`` two hours from ``now``; ``tomorrow`` the same
    minute of the wall clock in ``zone`` a day later (a clock change between is honoured);
    ``at`` the ``typed`` date and time (``YYYY-MM-DDTHH:MM``, a date-time input) on that
    clock. InvalidInput names ``when`` (or ``later`` for an unknown choice); whether the
    time is allowed is ``reschedule_call_task``'s to say."""
    if choice == IN_TWO_HOURS:
        return now + timedelta(hours=2)
    if choice == TOMORROW:
        local = now.astimezone(zone)
        wall = local.time().replace(second=0, microsecond=0)
        return localtime.at_local(local.date() + timedelta(days=1), wall, zone)
    if choice != AT:
        raise InvalidInput("later", "Choose when to call back.", "invalid_choice")
    typed = typed.strip()
    if not typed:
        raise InvalidInput("when", "Choose a date and time.", "required")
    try:
        parsed = datetime.fromisoformat(typed)
        if parsed.tzinfo is not None:
            return parsed
        return localtime.at_local(parsed.date(), time(parsed.hour, parsed.minute), zone)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput("when", "Not a date and time.", "invalid") from exc


def _said(exc: InvalidInput) -> str:
    """The error in the staff member's language."""
    said = {
        ("minutes", "invalid"): lambda: _("Type the minutes as a whole number."),
        ("minutes", "out_of_range"): lambda: _(
            "Minutes: a whole number from 1 to %(max)d.") % {"max": MINUTES_MAX},
        ("later", "invalid_choice"): lambda: _("Choose when to call back."),
        ("when", "required"): lambda: _("Choose a date and time to call back."),
        ("when", "invalid"): lambda: _("This is not a date and time."),
        ("when", "past"): lambda: _("Choose a time later than now."),
        ("when", "too_far"): lambda: ngettext(
            "At most %(days)d day ahead, please.", "At most %(days)d days ahead, please.",
            LATER_MAX.days) % {"days": LATER_MAX.days},
    }.get((exc.field, exc.code))
    return said() if said else message(exc)
