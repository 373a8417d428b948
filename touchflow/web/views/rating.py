"""A check-in's one-tap rating page, linked from SMS and e-mail (no sign-in: the signed
link is the key). Phone-sized, in the customer's language; answering again changes the
answer (``aftercare.actions``). GET only shows the question: mail scanners open links.

No CSRF token: the page is sent with ``Referrer-Policy: no-referrer`` (the token in its
URL is a credential), so a browser posts its form with ``Origin: null``, which Django's
CSRF check refuses; and nothing is gained from the check here: whoever holds the link
may answer, there is no session to ride on."""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from touchflow.aftercare.actions import answer_on_page
from touchflow.aftercare.models import CheckInAnswer
from touchflow.aftercare.queries import answerable
from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.delivery.models import Touch, TouchState
from touchflow.delivery.render import read_rating_token
from touchflow.flows import answers
from touchflow.web.signed_pages import page

TEMPLATE = "web/rating.html"


def _read(token: str) -> Touch | None:
    """The check-in touch of a valid link; None for a forged, changed or unknown one."""
    try:
        touch_id = read_rating_token(token)
    except signing.BadSignature:
        return None
    return (
        Touch.objects.select_related("step__flow", "store", "customer")
        .exclude(step__answers="")
        .filter(pk=touch_id)
        .first()
    )


def _choices(kind: str, language: str) -> list[tuple[int, str]]:
    return list(zip(answers.choices(kind), answers.labels(kind, language), strict=True))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def rating(request: HttpRequest, token: str) -> HttpResponse:
    touch = _read(token)
    if touch is None:
        return page(request, TEMPLATE, {"problem": "invalid"}, status=400)
    # The customer reads this page in their own language, whoever else is signed in.
    with translation.override(touch.customer.language):
        context: dict[str, Any] = {"store": touch.store.name, "token": token}
        now = clock.now()
        if touch.state != TouchState.SENT:
            return page(request, TEMPLATE, {**context, "problem": "not_sent"}, status=404)
        if not answerable(touch, now):
            return page(request, TEMPLATE, {**context, "problem": "expired"}, status=410)
        kind = touch.step.answers
        current = CheckInAnswer.objects.filter(touch=touch).values_list("value", flat=True)
        context.update(kind=kind, choices=_choices(kind, touch.customer.language),
                       current=current.first())
        if request.method != "POST":
            return page(request, TEMPLATE, context)
        try:
            recorded = answer_on_page(touch, _value(request.POST.get("value", "")), now)
        except InvalidInput as exc:
            return page(request, TEMPLATE, {**context, "error": exc.field}, status=400)
        return page(request, TEMPLATE, {**context, "done": True, "changed": recorded.changed,
                                         "current": recorded.answer.value})


def _value(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput("value", "Choose one of the answers shown.") from None
