"""A manager's referrals: how many counted, held and refused in their stores, and the
held ones to count or refuse (issue 10; ``customers.referrals``)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.customers import referrals, visibility
from touchflow.customers.models import Referral, ReferralState
from touchflow.web.roles import manager_required
from touchflow.web.staff import staff_of

PERIOD = timedelta(days=30)
SHOWN = 50


def _mine(request: HttpRequest) -> tuple[visibility.Stores, QuerySet[Referral]]:
    staff = staff_of(request)
    stores = visibility.stores_of_staff(staff)
    rows = Referral.objects.select_related("referrer", "referred", "store", "code")
    return stores, rows if stores is None else rows.filter(store_id__in=stores)


@manager_required
@require_GET
def referral_list(request: HttpRequest) -> HttpResponse:
    stores, rows = _mine(request)
    since = clock.now() - PERIOD
    counts = dict(rows.filter(at__gte=since).values_list("state").annotate(n=Count("id")))
    held = list(rows.filter(state=ReferralState.HELD).order_by("at", "pk")[:SHOWN])
    people = [r.referrer for r in held] + [r.referred for r in held]
    names = visibility.names_of(people, stores)
    shown = [(row, names.get(row.referrer_id, ""), names.get(row.referred_id, ""),
              REASONS.get(row.reason, row.reason)) for row in held]
    return render(request, "web/referrals.html", {
        "counts": {state: counts.get(state, 0) for state in ReferralState.values},
        "held": shown,
    })


@manager_required
@require_POST
def referral_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """404 for a referral outside the manager's stores."""
    _stores, rows = _mine(request)
    found = rows.filter(pk=pk).first()
    if found is None:
        raise Http404
    try:
        referrals.decide(found, staff_of(request), request.POST.get("count") == "1",
                         clock.now())
    except InvalidInput:
        messages.error(request, _("This referral is not waiting for a decision."))
    else:
        messages.success(request, _("Referral decided."))
    return redirect("web:referrals")


REASONS = {
    referrals.BURSTING: gettext_lazy("many referrals with this code in a day"),
    referrals.SAME_NAME: gettext_lazy("the newcomer has the referrer's name"),
}
