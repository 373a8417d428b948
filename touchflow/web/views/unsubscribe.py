"""The signed one-click unsubscribe link of every message (no sign-in).

GET only shows what will happen (mail scanners open links); POST does it. A POST
carrying ``List-Unsubscribe=One-Click`` (RFC 8058, sent by the mail client itself) has
no CSRF token, so the view is exempt: the signature in the URL is what authenticates.
"""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from touchflow.core import channels
from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import resolve
from touchflow.customers.models import Customer
from touchflow.delivery.render import read_unsubscribe_link
from touchflow.funnel.optout import opt_out
from touchflow.messaging.notices import stop_text
from touchflow.stores.models import Store
from touchflow.web import labels
from touchflow.web.signed_pages import page


def _read(token: str) -> tuple[Customer, str, Store | None] | None:
    """The live customer, channel and store (None: the link names none) of a valid
    token; None for anything else."""
    try:
        customer_id, channel, store_id = read_unsubscribe_link(token)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    customer = Customer.objects.filter(pk=customer_id).select_related("home_store").first()
    store = Store.objects.filter(pk=store_id).first() if store_id is not None else None
    if customer is None or channel not in channels.NAMES or (store_id and store is None):
        return None
    return resolve(customer), channel, store


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    found = _read(token)
    if found is None:
        return page(request, "web/unsubscribe.html", {"invalid": True}, status=400)
    customer, channel, store = found
    # The customer reads this page in their own language, whoever else is signed in.
    with translation.override(customer.language):
        name = (store or customer.home_store).name
        context = {"store": name, "channel": labels.channel(channel), "token": token}
        if request.method != "POST":
            return page(request, "web/unsubscribe.html", context)
        everything = request.POST.get("all") == "1"
        try:
            opt_out(customer.pk, channel, all_channels=everything,
                    store_id=store.pk if store else None, how="link")
        except InvalidInput:
            return page(request, "web/unsubscribe.html", {"invalid": True}, status=400)
        return page(request, "web/unsubscribe.html", {
            **context, "done": True, "everything": everything,
            "confirmation": stop_text(name, everything, labels.channel(channel)),
        })
