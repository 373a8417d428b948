"""The customer list and a customer's page, limited to the customers the staff member may see."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.customers import listing, visibility
from touchflow.customers.actions import resolve, visible_customers
from touchflow.customers.models import Customer, CustomerStore
from touchflow.flows.models import Flow
from touchflow.guardrails import Flag
from touchflow.health.card import standings
from touchflow.health.models import Segment
from touchflow.messaging.replies import ToneFlagged, reply, routes
from touchflow.stores.models import Store
from touchflow.visits.classification import VisitClass
from touchflow.web import customer_listing, paging, timeline
from touchflow.web.errors import message
from touchflow.web.staff import staff_of


@login_required
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The viewer's customers, filtered, sorted and paged, or all of them as CSV
    (``csv=1``); a refused filter is named on the page (400) and left out."""
    staff = staff_of(request)
    stores = visibility.stores_of_staff(staff)
    mine = customer_listing.stores_of(stores)
    sellers = customer_listing.sellers_of(staff, mine)
    filters = customer_listing.parse(request.GET, mine, sellers)
    context: dict[str, Any] = {
        "filters": filters, "query": filters.query, "error": filters.query_error,
        "mine": mine, "sellers": sellers, "own_only": not staff.is_manager,
        "visit_classes": VisitClass.choices, "cold_choices": _cold_choices(),
        "chains": Flow.objects.order_by("name", "pk"),
    }
    if filters.query_error:
        context.update(page=Paginator([], customer_listing.PAGE_SIZE).get_page(1), rows=[])
        return render(request, "web/customers.html", context, status=400)
    listed = customer_listing.build(filters, stores)
    links = listing.links(listed)
    wants_csv = request.GET.get("csv") == "1" or request.GET.get("format") == "csv"
    if wants_csv and not filters.problems:
        return _csv(links, stores, listed.scope)
    fetch = customer_listing.fetch_by_ids(filters)
    paginator = _paginator(links, fetch=fetch)
    if listed.sort == "name" and paginator.capped:
        # Sorting by name reads every match: only as many as a page counts.
        context["notice"] = customer_listing.too_many_to_sort()
        listed = replace(listed, sort="newest")
        links = listing.links(listed)
        paginator = _paginator(links, paginator.matched, fetch)
    page = paginator.get_page(request.GET.get("page"))
    context.update(
        page=page, paginator=paginator,
        rows=customer_listing.rows_of(list(page.object_list), stores, listed.scope),
        csv_query=urlencode(filters.params(csv=1)),
    )
    return render(request, "web/customers.html", context,
                  status=400 if filters.problems else 200)


def _paginator(links: QuerySet[CustomerStore], matched: int | None = None,
               fetch: Callable[[list[Any]], Iterable[Any]] | None = None
               ) -> paging.CappedPaginator:
    return paging.CappedPaginator(links, customer_listing.PAGE_SIZE,
                                  customer_listing.COUNT_CAP, matched, fetch=fetch)


def _cold_choices() -> list[tuple[str, str]]:
    return [(Segment.BUYERS.value, _("Buyers going cold")),
            (Segment.PROSPECTS.value, _("Prospects going cold")),
            (customer_listing.COLD_ANY, _("Anyone going cold"))]


def _csv(links: QuerySet[CustomerStore], stores: visibility.Stores,
         scope: visibility.Stores) -> StreamingHttpResponse:
    lines = customer_listing.csv_lines(links, stores, scope, customer_listing.Labels.now())
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    day = clock.now().date().isoformat()
    response["Content-Disposition"] = f'attachment; filename="customers-{day}.csv"'
    return response


@login_required
@require_GET
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """404 for a customer the staff member may not see; a merged id leads to the survivor."""
    return _detail(request, pk)


@login_required
@require_POST
def customer_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Answer the customer on a channel they use; the page shows the refusal if any."""
    staff = staff_of(request)
    customer = visible_customers(staff).filter(pk=pk).first()
    if customer is None:
        raise Http404
    channel = request.POST.get("channel", "")
    text = request.POST.get("text", "")
    try:
        reply(customer, staff, channel, text, send_anyway=bool(request.POST.get("send_anyway")))
    except ToneFlagged as exc:
        # Not sent yet: the wording is shown with kinder ones; they edit, or send anyway.
        return _detail(request, pk, draft=text, tone_flags=exc.flags, channel=channel)
    except InvalidInput as exc:
        return _detail(request, pk, reply_error=message(exc), draft=text, status=400)
    return redirect(reverse("web:customer", args=[pk]) + "#timeline")


def _detail(request: HttpRequest, pk: int, reply_error: str = "", draft: str = "",
            status: int = 200, tone_flags: list[Flag] | None = None,
            channel: str = "") -> HttpResponse:
    visible = visible_customers(staff_of(request))
    customer = visible.filter(pk=pk).select_related("home_store").first()
    if customer is None:
        tombstone = Customer.objects.filter(pk=pk, merged_into__isnull=False).first()
        if tombstone is not None:
            survivor = resolve(tombstone)
            if visible.filter(pk=survivor.pk).exists():
                return redirect("web:customer", pk=survivor.pk)
        raise Http404
    staff = staff_of(request)
    stores = visibility.stores_of_staff(staff)
    view = visibility.view_of(customer, stores)
    before = _before(request.GET.get("before"))
    shown = timeline.page(customer, get_language() or "en", stores, before)
    context = {
        "customer": customer,
        "view": view,
        "stores": Store.objects.filter(pk__in=view.store_ids).order_by("name"),
        "rows": shown.rows,
        # Plain links (no script): older rows, and back to the latest, the rest of the
        # URL kept.
        "older_query": None if shown.older_than is None
        else paging.query_with(request, "before", str(shown.older_than)),
        "latest_query": None if before is None else paging.query_with(request, "before", None),
        "routes": routes(customer, staff),
        # Relationship health, only of the viewer's stores (decision 0024).
        "health": standings(customer, stores, clock.now()),
        "reply_error": reply_error,
        "draft": draft,
        "tone_flags": tone_flags or [],
        "reply_channel": channel,
    }
    return render(request, "web/customer.html", context, status=status)


def _before(raw: str | None) -> int | None:
    """The timeline row id of an "older" link; anything else shows the latest rows."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None

