"""Dead letters: messages that failed for good, with the failure text, and a way to resend."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from touchflow.core.errors import InvalidInput
from touchflow.customers import visibility
from touchflow.delivery.actions import dead_letters_for, retry_dead_letter
from touchflow.web.roles import manager_required
from touchflow.web.staff import staff_of

PAGE_SIZE = 25


@manager_required
@require_GET
def dead_letter_list(request: HttpRequest) -> HttpResponse:
    touches = dead_letters_for(staff_of(request)).select_related(
        "customer", "store", "step", "enrollment__flow"
    )
    page = Paginator(touches, PAGE_SIZE).get_page(request.GET.get("page"))
    for touch in page.object_list:
        # The name the touch's store recorded, never another store's (decision 0008).
        store = frozenset({touch.store_id})
        touch.shown_name = visibility.names_of([touch.customer], store)[touch.customer_id]  # type: ignore[attr-defined]
    return render(request, "web/dead_letters.html", {"page": page})


@manager_required
@require_POST
def dead_letter_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """404 for a touch of another store; a touch no longer dead is reported, not resent."""
    staff = staff_of(request)
    touch = dead_letters_for(staff).filter(pk=pk).first()
    if touch is None:
        raise Http404
    try:
        retry_dead_letter(touch, staff)
    except InvalidInput as exc:
        if exc.code == "enrollment_ended":
            messages.error(request, _("Not sent again: the customer has left this chain."))
        else:
            messages.error(request, _("This message is no longer a dead letter."))
    else:
        messages.success(request, _("The message is queued to be sent again now."))
    return redirect("web:dead-letters")
