"""The customer list and a customer's page, limited to the customers the staff member may see."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_POST

from touchflow.core import clock
from touchflow.core import text as limits
from touchflow.core.errors import InvalidInput
from touchflow.core.text import check_text
from touchflow.customers import visibility
from touchflow.customers.actions import resolve, visible_customers
from touchflow.customers.models import ContactPoint, Customer
from touchflow.health.card import standings
from touchflow.messaging.replies import reply, routes
from touchflow.stores.models import Store
from touchflow.web.errors import message
from touchflow.web.staff import staff_of
from touchflow.web.timeline import rows

PAGE_SIZE = 25
_PHONE_NOISE = re.compile(r"[\s().\-/]")


def search(customers: QuerySet[Customer], query: str,
           stores: visibility.Stores = None) -> QuerySet[Customer]:
    """Customers whose name or any contact contains ``query``, as far as ``stores``
    recorded them (a name or contact another store recorded finds nobody).

    Phone numbers are stored in E.164, so the typed digits are also matched without
    spaces, dashes and brackets ("501 234-567" finds +48501234567).
    """
    query = query.strip()
    if not query:
        return customers
    contact = Q(value__icontains=query)
    digits = _PHONE_NOISE.sub("", query)
    if digits and digits != query and digits.lstrip("+").isdigit():
        contact |= Q(value__contains=digits)
    by_contact = visibility.visible_point_ids(stores).filter(contact).values("customer_id")
    if stores is None:
        by_name = Q(name__icontains=query)
    else:
        by_name = Q(pk__in=visibility.named_links(stores, query).values("customer_id"))
    return customers.filter(Q(pk__in=by_contact) | by_name)


@login_required
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    try:
        check_text("q", query, limits.SEARCH)
    except InvalidInput as exc:
        context = {"page": Paginator([], PAGE_SIZE).get_page(1), "rows": [], "query": query,
                   "error": message(exc)}
        return render(request, "web/customers.html", context, status=400)
    stores = visibility.stores_of_staff(staff_of(request))
    customers = search(visible_customers(staff_of(request)), query, stores)
    customers = customers.select_related("home_store").order_by("-id").prefetch_related(
        Prefetch("contacts", queryset=ContactPoint.objects.order_by("kind", "id"))
    )
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = visibility.summaries(page.object_list, stores)
    return render(request, "web/customers.html", {"page": page, "rows": rows, "query": query,
                                                  "stores": stores})


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
        reply(customer, staff, channel, text)
    except InvalidInput as exc:
        return _detail(request, pk, reply_error=message(exc), draft=text, status=400)
    return redirect(reverse("web:customer", args=[pk]) + "#timeline")


def _detail(request: HttpRequest, pk: int, reply_error: str = "", draft: str = "",
            status: int = 200) -> HttpResponse:
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
    context = {
        "customer": customer,
        "view": view,
        "stores": Store.objects.filter(pk__in=view.store_ids).order_by("name"),
        "rows": rows(customer, get_language() or "en", stores),
        "routes": routes(customer, staff),
        # Relationship health, only of the viewer's stores (decision 0024).
        "health": standings(customer, stores, clock.now()),
        "reply_error": reply_error,
        "draft": draft,
    }
    return render(request, "web/customer.html", context, status=status)
