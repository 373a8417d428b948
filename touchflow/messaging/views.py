"""The webhook endpoint of every provider account: ``/hooks/<provider>/<key>/``.

The key in the path picks the account (and is the only secret for providers that sign
nothing); the provider module checks the signature. Forged: 401/403 and nothing
changes. Unreadable: 400. Never a 500 for what a caller sent.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from touchflow.messaging import accounts, inbound
from touchflow.messaging.providers.base import MalformedWebhook, WebhookRefused

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message}, status=status)


@csrf_exempt
def hook(request: HttpRequest, provider: str, key: str) -> HttpResponse:
    cfg = accounts.by_webhook(provider, key)
    if cfg is None:
        return _error(404, "no such webhook")
    live = accounts.provider(cfg)
    if request.method == "GET" and not live.takes_get(request):
        answer = live.handshake(request)
        return answer if answer is not None else _error(405, "POST webhooks here")
    if request.method not in ("GET", "POST"):
        return _error(405, "POST webhooks here")
    try:
        items = live.parse_webhook(request)
    except WebhookRefused as exc:
        log.warning("%s webhook refused: %s", provider, exc)
        return _error(exc.status, str(exc) or "signature check failed")
    except MalformedWebhook as exc:
        return _error(400, str(exc))
    applied = inbound.apply(cfg, items)
    return live.acknowledge(applied.applied, applied.duplicates)
