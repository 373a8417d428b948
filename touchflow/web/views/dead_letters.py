"""Dead letters: messages that failed for good (and those not known to have been sent),
grouped by why, with the rows behind each group and a way to send one again."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from touchflow.core.errors import InvalidInput
from touchflow.customers import visibility
from touchflow.delivery import dead_letters
from touchflow.delivery.actions import dead_letters_for, retry_dead_letter
from touchflow.delivery.models import Touch
from touchflow.web.roles import manager_required
from touchflow.web.staff import staff_of

PAGE_SIZE = 25


@manager_required
@require_GET
def dead_letter_list(request: HttpRequest) -> HttpResponse:
    """One line per reason: how many, the newest, a link to the rows."""
    groups = dead_letters.groups(dead_letters_for(staff_of(request)))
    return render(request, "web/dead_letters.html", {"groups": groups})


@manager_required
@require_GET
def dead_letter_group(request: HttpRequest, key: str) -> HttpResponse:
    """The rows of one group, newest first, paged; 404 when the manager's stores have
    none in it (another store's group, or one resent meanwhile)."""
    touches = dead_letters_for(staff_of(request))
    group, ids = dead_letters.group_of(touches, key)
    if group is None:
        raise Http404
    page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = _rows(touches, list(page.object_list))
    return render(request, "web/dead_letter_group.html",
                  {"group": group, "page": page, "rows": rows})


def _rows(touches: QuerySet[Touch], ids: list[int]) -> list[Touch]:
    found = touches.filter(pk__in=ids).select_related(
        "customer", "store", "step", "enrollment__flow"
    ).in_bulk()
    rows = [found[pk] for pk in ids if pk in found]
    for touch in rows:
        # The name the touch's store recorded, never another store's (decision 0008).
        store = frozenset({touch.store_id})
        touch.shown_name = visibility.names_of([touch.customer], store)[touch.customer_id]  # type: ignore[attr-defined]
    return rows


@manager_required
@require_POST
def dead_letter_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """404 for a touch of another store; a touch no longer waiting is reported, not
    resent. Back to its group while the group has rows left, else to the list."""
    staff = staff_of(request)
    touches = dead_letters_for(staff)
    touch = touches.filter(pk=pk).first()
    if touch is None:
        raise Http404
    key = dead_letters.group_key(touch.state, touch.last_error)
    try:
        retry_dead_letter(touch, staff)
    except InvalidInput as exc:
        if exc.code == "enrollment_ended":
            messages.error(request, _("Not sent again: the customer has left this chain."))
        else:
            messages.error(request, _("This message is no longer a dead letter."))
    else:
        messages.success(request, _("The message is queued to be sent again now."))
    if dead_letters.ids_in_group(touches, key):
        return redirect(reverse("web:dead-letter-group", args=[key]))
    return redirect("web:dead-letters")
