"""The visits behind a dashboard number (issue 11): filtered as the figure was — store,
seller, class, contacts, reason, local days — paged. A salesperson sees their own."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from touchflow.customers import visibility
from touchflow.visits.models import Visit
from touchflow.visits.queries import on_local_days, returning
from touchflow.web.paging import CappedPaginator
from touchflow.web.staff import staff_of
from touchflow.web.views.dashboard import _filters, _stores

PAGE_SIZE = 50


@login_required
@require_GET
def visit_list(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    stores = _stores(staff)
    filters = _filters(request, staff, stores)
    chosen = [filters.store] if filters.store else stores
    # Only the chosen stores' visits: on_local_days keeps to them.
    visits = on_local_days(Visit.objects.all(), chosen, filters.period.since,
                           filters.period.until)
    if filters.seller is not None:
        visits = visits.filter(staff=filters.seller)
    narrowing = {"visit_class": request.GET.get("visit_class"),
                 "contact_capture": request.GET.get("capture"),
                 "reason__code": request.GET.get("reason")}
    visits = visits.filter(**{k: v for k, v in narrowing.items() if v})
    if request.GET.get("bought") == "1":
        visits = visits.filter(bought=True)
        narrowing["bought"] = "1"
    if request.GET.get("again") == "return":
        visits = returning(visits)
        narrowing["again"] = "return"
    # Counted up to a cap: a count of every visit of a year of 20 stores takes seconds.
    paginator = CappedPaginator(visits.select_related("store", "staff", "reason", "customer")
                                .order_by("-occurred_at", "-pk"), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    rows: list[Visit] = list(page.object_list)
    names = visibility.names_of([v.customer for v in rows if v.customer],
                                visibility.stores_of_staff(staff))
    for row in rows:
        row.shown_name = names.get(row.customer_id or 0, "")  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "filters": filters, "page": page, "paginator": paginator, "rows": rows,
        "narrowing": {k: v for k, v in narrowing.items() if v},
    }
    return render(request, "web/visits.html", context)

