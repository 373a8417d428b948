"""A manager's customers going cold (issue 11): per store and segment how many, the cold
ones of one store's segment paged, and one action that enters them all into a chain
(``health.actions.enrol_cold``). Admins see every store, a manager their own; another
store's page or action is a 404, as on the other manager pages."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.customers import visibility
from touchflow.flows.models import Flow, FlowStatus
from touchflow.health import actions, queries
from touchflow.health.models import CustomerHealth, Reason, Segment, StoreFit
from touchflow.stores.models import Store
from touchflow.web.roles import manager_required
from touchflow.web.staff import staff_of

PAGE_SIZE = 25


@dataclass(frozen=True)
class Row:
    health: CustomerHealth
    name: str
    why: str
    percent: int | None  # p_alive in per cent
    rhythm: int | None  # whole days


@dataclass(frozen=True)
class Tab:
    segment: str
    label: str
    cold: int


@dataclass(frozen=True)
class Summary:
    store: Store
    fit: StoreFit | None

    @property
    def tabs(self) -> list[Tab]:
        return [Tab(value, str(label), self.fit.cold_in(value) if self.fit else 0)
                for value, label in Segment.choices]


def _row(health: CustomerHealth, name: str) -> Row:
    why = dict(Reason.choices).get(health.reason, health.reason)
    percent = None if health.p_alive is None else round(100 * health.p_alive)
    rhythm = None if health.rhythm_days is None else max(1, round(health.rhythm_days))
    return Row(health, name, str(why), percent, rhythm)


def _stores(request: HttpRequest) -> tuple[visibility.Stores, list[Store]]:
    stores = visibility.stores_of_staff(staff_of(request))
    rows = Store.objects.order_by("name", "pk")
    return stores, list(rows if stores is None else rows.filter(pk__in=stores))


def _chosen(mine: list[Store], slug: str | None) -> Store | None:
    """The store asked for (404 when it is not the viewer's), else the first of theirs."""
    if not slug:
        return mine[0] if mine else None
    found = next((s for s in mine if s.slug == slug), None)
    if found is None:
        raise Http404
    return found


@manager_required
@require_GET
def cold_page(request: HttpRequest) -> HttpResponse:
    stores, mine = _stores(request)
    store = _chosen(mine, request.GET.get("store"))
    segment = request.GET.get("segment", Segment.BUYERS)
    segment = segment if segment in Segment.values else Segment.BUYERS
    fits = {f.store_id: f for f in queries.fits(stores)}
    listed = queries.cold(store.pk, segment) if store else CustomerHealth.objects.none()
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    shown: list[CustomerHealth] = list(page.object_list)
    names = visibility.names_of([h.customer for h in shown], stores)
    return render(request, "web/cold.html", {
        "summaries": [Summary(s, fits.get(s.pk)) for s in mine],
        "store": store, "segment": segment, "page": page,
        "rows": [_row(h, names.get(h.customer_id, "")) for h in shown],
        "chains": Flow.objects.filter(status=FlowStatus.ACTIVE).order_by("name", "pk"),
    })


@manager_required
@require_POST
def cold_enrol(request: HttpRequest) -> HttpResponse:
    """Enter the chosen store's cold customers of a segment into an active chain; 404 for
    a store that is not the viewer's."""
    _stores_seen, mine = _stores(request)
    store = _chosen(mine, request.POST.get("store") or "-")
    assert store is not None
    segment = request.POST.get("segment", "")
    back = reverse("web:cold") + "?" + urlencode({"store": store.slug, "segment": segment})
    flow = Flow.objects.filter(slug=request.POST.get("chain", "")).first()
    if flow is None:
        messages.error(request, _("Choose a chain."))
        return redirect(back)
    try:
        done = actions.enrol_cold(store, segment, flow, clock.now())
    except InvalidInput as exc:
        messages.error(request, _("Choose an active chain.") if exc.field == "flow"
                       else _("Choose a segment."))
        return redirect(back)
    messages.success(request, _entered(done, flow))
    return redirect(back)


def _entered(done: actions.Enrolled, flow: Flow) -> str:
    # A counted message counts one number: the chain's name goes in a message of its own.
    entered = _("“%(chain)s”:") % {"chain": flow.name} + " " + ngettext(
        "%(count)d customer entered.", "%(count)d customers entered.", done.entered
    ) % {"count": done.entered}
    skipped = done.cold - done.entered
    if not skipped:
        return entered
    return entered + " " + ngettext("%(count)d was in it already.",
                                    "%(count)d were in it already.",
                                    skipped) % {"count": skipped}
