"""The signed one-click unsubscribe link of every message (no sign-in).

GET only shows what will happen (mail scanners open links); POST does it. A POST
carrying ``List-Unsubscribe=One-Click`` (RFC 8058, sent by the mail client itself) has
no CSRF token, so the view is exempt: the signature in the URL is what authenticates.
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from touchflow.core import channels
from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import resolve
from touchflow.customers.models import Customer
from touchflow.customers.optout import opt_out
from touchflow.delivery.render import read_unsubscribe_link
from touchflow.messaging.notices import stop_text
from touchflow.stores.models import Store
from touchflow.web import labels


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


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    response = render(request, template, context, status=status)
    # The token is a credential: keep it out of other sites' logs and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    found = _read(token)
    if found is None:
        return _page(request, "web/unsubscribe.html", {"invalid": True}, status=400)
    customer, channel, store = found
    # The customer reads this page in their own language, whoever else is signed in.
    with translation.override(customer.language):
        name = (store or customer.home_store).name
        context = {"store": name, "channel": labels.channel(channel), "token": token}
        if request.method != "POST":
            return _page(request, "web/unsubscribe.html", context)
        everything = request.POST.get("all") == "1"
        try:
            opt_out(customer.pk, channel, all_channels=everything,
                    store_id=store.pk if store else None, how="link")
        except InvalidInput:
            return _page(request, "web/unsubscribe.html", {"invalid": True}, status=400)
        return _page(request, "web/unsubscribe.html", {
            **context, "done": True, "everything": everything,
            "confirmation": stop_text(name, everything, labels.channel(channel)),
        })
