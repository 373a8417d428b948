"""API tokens: created by an admin (CLI), checked on every API request."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.integrations.models import ApiToken
from touchflow.stores.models import Store

TOKEN_PREFIX = "tf_"


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


def authenticate(secret: str) -> ApiToken | None:
    """The live token this secret belongs to, or None."""
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("store")
        .filter(secret_hash=_digest(secret), revoked_at__isnull=True)
        .first()
    )
    return token


def revoke_token(name: str) -> ApiToken:
    token = ApiToken.objects.filter(name=name, revoked_at__isnull=True).first()
    if token is None:
        raise InvalidInput("name", f"No live token named {name!r}.", "not_found")
    token.revoked_at = clock.now()
    token.save(update_fields=["revoked_at"])
    return token
