"""The dashboard (issue 11): the figures of the viewer's stores for a period against the
one before, each panel a table with its chart, its CSV and links to the visits behind
its numbers. Managers see their stores (admins all), a salesperson their own figures.
Every filter is in the URL, so a view can be shared."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from touchflow.core import clock
from touchflow.customers import visibility
from touchflow.dashboard import panels
from touchflow.dashboard.panels import Panel, Period, Scope
from touchflow.stores.models import Staff, Store
from touchflow.web.staff import staff_of

DEFAULT_DAYS = 28
LONGEST = timedelta(days=3 * 366)


@dataclass
class Filters:
    store: Store | None
    seller: Staff | None
    period: Period
    problems: list[str]

    KEYS = ("store", "seller", "since", "until")  # in the order a link names them

    def query(self, **more: Any) -> dict[str, Any]:
        """The filters as URL parameters (with ``more``), blanks left out."""
        values = {**dict(zip(self.KEYS, (self.store.pk if self.store else "",
                                         self.seller.pk if self.seller else "",
                                         self.period.since.isoformat(),
                                         self.period.until.isoformat()), strict=True)),
                  **more}
        return {k: v for k, v in values.items() if v not in ("", None)}


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    stores = _stores(staff)
    filters = _filters(request, staff, stores)
    scope = Scope(
        frozenset({filters.store.pk}) if filters.store else _ids(stores, staff),
        filters.seller.pk if filters.seller else None,
        filters.period,
    )
    made = _panels(scope, filters, own_only=not staff.is_manager)
    wanted = request.GET.get("csv")
    if wanted:
        # Built one by one up to the panel asked for: its CSV needs no other.
        found = next((p for p in (make() for make in made) if p.key == wanted), None)
        if found is not None and not found.missing:
            return _csv(found, filters)
    built = [make() for make in made]
    context = {
        "filters": filters, "stores": stores, "sellers": _sellers(staff, stores),
        "panels": built, "headlines": panels.headlines(scope, own_only=not staff.is_manager),
        "previous": filters.period.previous(), "own_only": not staff.is_manager,
        "csv_query": urlencode(filters.query()),
    }
    return render(request, "web/dashboard.html", context)


def _stores(staff: Staff) -> list[Store]:
    visible = visibility.stores_of_staff(staff)
    rows = Store.objects.order_by("name")
    return list(rows if visible is None else rows.filter(pk__in=visible))


def _ids(stores: list[Store], staff: Staff) -> frozenset[int] | None:
    return None if staff.is_admin else frozenset(s.pk for s in stores)


def _sellers(staff: Staff, stores: list[Store]) -> list[Staff]:
    if not staff.is_manager:
        return [staff]
    return list(Staff.objects.filter(stores__in=stores).distinct().order_by("username"))


def _filters(request: HttpRequest, staff: Staff, stores: list[Store]) -> Filters:
    problems: list[str] = []
    store = _pick(request.GET.get("store"), {s.pk: s for s in stores}, "store", problems)
    sellers = {s.pk: s for s in _sellers(staff, stores)}
    seller = staff if not staff.is_manager else _pick(request.GET.get("seller"), sellers,
                                                      "seller", problems)
    today = timezone.localdate(clock.now())
    until = _day(request.GET.get("until"), "until", problems) or today
    since = _day(request.GET.get("since"), "since", problems) or until - timedelta(
        days=DEFAULT_DAYS - 1)
    if since > until or until - since > LONGEST:
        problems.append(_("since: the period must start before it ends and last at most "
                          "three years."))
        since = until - timedelta(days=DEFAULT_DAYS - 1)
    return Filters(store, seller, Period(since, until), problems)


def _pick(raw: str | None, choices: dict[int, Any], field: str, problems: list[str]) -> Any:
    if not raw:
        return None
    try:
        return choices[int(raw)]
    except (ValueError, KeyError):
        problems.append(_("%(field)s: not one you can choose; showing all.") % {"field": field})
        return None


def _day(raw: str | None, field: str, problems: list[str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(_("%(field)s: not a date (YYYY-MM-DD).") % {"field": field})
        return None


def _panels(scope: Scope, filters: Filters, *,
            own_only: bool) -> list[Callable[[], Panel]]:
    """How to make every panel for a manager, in order; a salesperson's own figures
    only — what they did, not the store's messages, complaints or customers going cold.
    Made when called: a CSV needs one panel."""
    # Reversed once a page: a manager's page links a few thousand numbers.
    visits, cold, customers = (reverse(f"web:{name}") for name in ("visits", "cold",
                                                                    "customers"))

    # The page's filters encoded once, each where it stands; a number's own keys take
    # a filter's place or follow (a few thousand links a page).
    encoded: dict[tuple[str, Any], str] = {}  # each filter's, seller's or class's part, once

    def part(key: str, value: Any) -> str:
        found = encoded.get((key, value))
        if found is None:
            found = encoded[(key, value)] = urlencode({key: value})
        return found

    given = filters.query()
    base = {k: part(k, given[k]) if k in given else "" for k in Filters.KEYS}

    def visits_href(**keys: Any) -> str:
        more = {k: part(k, v) for k, v in keys.items() if v}
        parts = [more.pop(k, kept) for k, kept in base.items()] + list(more.values())
        return f"{visits}?{'&'.join(p for p in parts if p)}"

    def cold_href(store: int, segment: str) -> str:
        return f"{cold}?{urlencode({'store': store, 'segment': segment})}"

    def chain_href(chain: str) -> str:
        query = {"chain": chain, "store": filters.store.pk if filters.store else ""}
        return f"{customers}?{urlencode({k: v for k, v in query.items() if v})}"

    language = get_language() or "en"
    shown = _stores_in(scope)
    targets = {s.pk: s.effort_target for s in shown}
    own = [
        lambda: panels.visits_by_type(scope, visits_href),
        lambda: panels.contact_capture(scope, visits_href),
        lambda: panels.reasons(scope, visits_href, language[:2]),
        lambda: panels.check_ins(scope),
        lambda: panels.effort(scope, targets),
    ]
    if own_only:
        return own
    return [
        lambda: panels.funnel(scope, visits_href),
        *own[:3],
        lambda: panels.revenue(scope, [s.attribution_days for s in shown]),
        lambda: panels.outcomes_by_chain(scope, chain_href),
        lambda: panels.outcomes_by_channel(scope),
        own[3],
        lambda: panels.check_ins_by_store(scope, {s.pk: s.name for s in shown}),
        lambda: panels.check_ins_by_category(scope, language[:2]),
        lambda: panels.aftercare(scope),
        lambda: panels.going_cold(scope.stores, cold_href),
        own[4],
        lambda: panels.effort_by_week(scope, targets, {s.pk: s.name for s in shown}),
    ]


def _stores_in(scope: Scope) -> list[Store]:
    stores = Store.objects.order_by("name")
    return list(stores if scope.stores is None else stores.filter(pk__in=scope.stores))


def _csv(panel: Panel, filters: Filters) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{panel.key}-{filters.period.since}-{filters.period.until}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    out = csv.writer(response)
    out.writerow(["", *(c.label for c in panel.columns)])
    for row in panel.rows:
        out.writerow([row.label, *("" if c.value is None else c.value for c in row.cells)])
    return response
