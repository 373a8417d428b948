"""The counter screen: log a visit in a few taps."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from touchflow.core.errors import InvalidInput
from touchflow.customers import visibility
from touchflow.visits.classification import VisitClass
from touchflow.web import counter
from touchflow.web.current_store import current_store, pick_store, stores_for
from touchflow.web.errors import form_field, message
from touchflow.web.qr import optin_svg
from touchflow.web.staff import staff_of


def _context(request: HttpRequest, entry: counter.CounterEntry,
             errors: dict[str, str] | None = None,
             check: counter.ContactCheck | None = None) -> dict[str, Any]:
    store = current_store(request)
    language = get_language() or "en"
    context: dict[str, Any] = {
        "store": store,
        "stores": list(stores_for(staff_of(request)).order_by("name")),
        "entry": entry,
        "errors": errors or {},
        "check": check or counter.ContactCheck(),
        "reason_groups": counter.reason_groups(language),
        "categories": counter.category_choices(language),
    }
    if store is not None:
        token = counter.fresh_token(store, staff_of(request), keep=entry.token)
        context["token"] = token
        context["qr"] = optin_svg(token) if token else None
    return context


@login_required
def counter_page(request: HttpRequest) -> HttpResponse:
    """GET shows an empty form; POST logs the visit, or re-shows the form with the error."""
    if request.method != "POST":
        return render(request, "web/counter.html", _context(request, counter.CounterEntry()))
    entry = counter.CounterEntry.from_post(request.POST)
    store = pick_store(request, request.POST.get("store"))
    if store is None:
        errors = {"store": _("You do not work in this store.")}
        return render(request, "web/counter.html", _context(request, entry, errors), status=422)
    try:
        visit = counter.save(entry, store, staff_of(request))
    except InvalidInput as exc:
        errors = {form_field(exc): message(exc)}
        return render(request, "web/counter.html", _context(request, entry, errors), status=422)
    label = VisitClass(visit.visit_class).label
    if visit.customer is not None:
        # The name this store knows them by, never one another store recorded.
        stores = visibility.stores_of_staff(staff_of(request))
        customer = (visibility.names_of([visit.customer], stores)[visit.customer.pk]
                    or _("customer #%(id)s") % {"id": visit.customer.pk})
        text = _("Saved — %(class)s. Customer: %(customer)s.") % {"class": label,
                                                                 "customer": customer}
    else:
        text = _("Saved — %(class)s.") % {"class": label}
    messages.success(request, text)
    # Post/redirect/get: a reload never logs the visit twice, and the next form is empty.
    return redirect("web:home")


@login_required
@require_POST
def contact_check(request: HttpRequest) -> HttpResponse:
    """htmx: validate the contact being typed and say whose it is."""
    store = pick_store(request, request.POST.get("store")) or current_store(request)
    check = counter.ContactCheck()
    if store is not None:
        check = counter.check_typed_contact(request.POST.get("contact", ""), store,
                                            staff_of(request))
    return render(request, "web/_contact_check.html", {"check": check})


@login_required
@require_POST
def switch_store(request: HttpRequest) -> HttpResponse:
    store = pick_store(request, request.POST.get("store"))
    if store is None:
        messages.error(request, _("You do not work in this store."))
    return redirect("web:home")
