"""Each staff member sees the UI in the language they picked, and times in their store's zone;
every response carries the Content-Security-Policy."""

from __future__ import annotations

import contextlib
import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from touchflow.web.current_store import current_store


class StaffLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "language", None):
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
            _activate_store_time_zone(request)
        try:
            return self.get_response(request)
        finally:
            # Threads are reused between requests; the next one must not inherit this zone.
            timezone.deactivate()


def _activate_store_time_zone(request: HttpRequest) -> None:
    """Show times as the clock on the shop wall shows them: in the current store's zone."""
    store = current_store(request)
    if store is None:
        return
    # A bad zone in the database is the admin's to fix; UTC is still correct meanwhile.
    with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
        timezone.activate(zoneinfo.ZoneInfo(store.time_zone))


# No inline scripts or styles anywhere, nothing from other hosts: an injected
# ``<script>`` or ``onclick=`` does not run. htmx is told not to add its inline indicator
# style (base.html's htmx-config); the QR code is inline SVG without style attributes.
# ``data:`` images: the admin's and Swagger UI's stylesheets draw icons with them.
POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class ContentSecurityPolicyMiddleware:
    """Sets ``POLICY`` on every response that has none of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
