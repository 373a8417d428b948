"""A referral code's landing page ``/ref/<code>``: a newcomer a customer sent leaves a
phone or e-mail with their consent, and is linked to whoever sent them (issue 10).

The answer is the same whoever fills it in: it never says whether the contact was
already on file (that would tell a stranger who shops where)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from touchflow.core import clock, text
from touchflow.core.errors import InvalidInput
from touchflow.core.text import check_text
from touchflow.customers import referrals
from touchflow.customers.actions import ConsentGrant
from touchflow.customers.models import ReferralCode
from touchflow.funnel.customers import resolve_customer
from touchflow.integrations.actor import Actor
from touchflow.web.counter import parse_contact
from touchflow.web.errors import form_field, message

TEMPLATE = "web/referral.html"


@require_http_methods(["GET", "POST"])
def referral_landing(request: HttpRequest, code: str) -> HttpResponse:
    try:
        found = referrals.find(code)
    except InvalidInput:
        return render(request, TEMPLATE, {"unknown": True}, status=404)
    context = {"store": found.store.name, "code": found.code, "entry": request.POST}
    if request.method != "POST":
        return render(request, TEMPLATE, context)
    try:
        _join(found, request)
    except InvalidInput as exc:
        errors = {form_field(exc): message(exc)}
        return render(request, TEMPLATE, {**context, "errors": errors}, status=422)
    return render(request, TEMPLATE, {**context, "done": True})


def _join(code: ReferralCode, request: HttpRequest) -> None:
    """Find or create the newcomer with the contact and consent they gave; link them."""
    name = check_text("name", request.POST.get("name", "").strip(), text.NAME)
    raw = check_text("contact", request.POST.get("contact", "").strip(), text.EMAIL)
    if not raw:
        raise InvalidInput("contact", "Type your phone number or e-mail address.", "required")
    if request.POST.get("consent") != "1":
        raise InvalidInput("consent", "Tick the box so that we may contact you.", "required")
    contact = parse_contact(raw, code.store)
    now = clock.now()
    with transaction.atomic():
        customer, created = resolve_customer(
            store=code.store, actor=Actor(source="customer"), contacts=[contact], name=name,
            consent=ConsentGrant(contact=True), at=now,
        )
        referrals.refer(code, customer, new=created, via="link", at=now)
