"""A review request's link ``/go/<token>``: counted, then on to the store's review page
(issue 10). Signed per touch, so a count is a real customer's click; a forged link goes
nowhere."""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET

from touchflow.core import clock
from touchflow.delivery.models import Touch
from touchflow.delivery.render import read_review_token
from touchflow.timeline import events
from touchflow.web.signed_pages import page

TEMPLATE = "web/review_link.html"


@require_GET
def review_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        touch_id = read_review_token(token)
    except signing.BadSignature:
        return page(request, TEMPLATE, {}, status=400)
    touch = Touch.objects.select_related("store").filter(
        pk=touch_id, step__kind="review_request").first()
    if touch is None or not touch.store.review_url:
        return page(request, TEMPLATE, {}, status=404)
    events.review_link_opened(touch.customer_id, clock.now(), store_id=touch.store_id,
                              touch=touch.pk)
    response = HttpResponseRedirect(touch.store.review_url)
    response["Referrer-Policy"] = "no-referrer"  # the review site learns nothing of ours
    response["Cache-Control"] = "no-store"  # every click is counted
    return response
