"""API tokens: created by an admin (CLI), checked on every API request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.core.ttlcache import TTLCache
from touchflow.integrations.models import ApiToken
from touchflow.stores.models import Store

TOKEN_PREFIX = "tf_"
# How stale ``last_used_at`` may get: writing it on every request would add a write
# to the hottest path of the API for information nobody needs to the second.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(name: str, store: Store | None = None) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is shown once and never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput("name", "A token needs a name.", "required")
    if ApiToken.objects.filter(name=name).exists():
        raise InvalidInput("name", f"A token named {name!r} already exists.", "duplicate")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            name=name,
            prefix=secret[:10],
            secret_hash=_digest(secret),
            store=store,
            created_at=clock.now(),
        )
    return token, secret


_live_tokens: TTLCache[str, ApiToken | None] = TTLCache()


def authenticate(secret: str) -> ApiToken | None:
    """The live token this secret belongs to, or None.

    Read once per ``TOUCHFLOW_CACHE_SECONDS`` per process: a revocation reaches other
    processes within that time (at once in the process that revoked).
    """
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    digest = _digest(secret)
    return _live_tokens.get(
        digest,
        lambda: (
            ApiToken.objects.select_related("store")
            .filter(secret_hash=digest, revoked_at__isnull=True)
            .first()
        ),
    )


def mark_used(token: ApiToken, at: datetime | None = None) -> bool:
    """Record that ``token`` was used at ``at``; returns whether a row was written.

    Writes at most once per ``LAST_USED_RESOLUTION`` per token, even across
    processes: the conditional UPDATE lets only one of several racing requests win.
    """
    at = at or clock.now()
    if token.last_used_at is not None and at - token.last_used_at < LAST_USED_RESOLUTION:
        return False
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=at - LAST_USED_RESOLUTION)
    written = ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=at)
    token.last_used_at = at
    return written == 1


def revoke_token(name: str) -> ApiToken:
    token = ApiToken.objects.filter(name=name, revoked_at__isnull=True).first()
    if token is None:
        raise InvalidInput("name", f"No live token named {name!r}.", "not_found")
    token.revoked_at = clock.now()
    token.save(update_fields=["revoked_at"])
    _live_tokens.clear()
    return token
