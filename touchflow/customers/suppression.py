"""The suppression list: an erased customer's contacts, kept only as keyed hashes.

A keyed HMAC-SHA256, not a plain hash: the space of phone numbers is small enough to
hash every one of them in an afternoon, so a plain SHA-256 of a phone is as good as
the phone. Without the deployment's key the digests reveal nothing.

Erasure (``privacy.erase``) puts contacts on the list; ``actions.withhold``, called on
every path that creates contact points (``actions.add_contacts``, ``bulk.create_many``),
records consent withdrawn on a new point whose digest is listed, as the customer's own
earlier request. The key: ``TOUCHFLOW_PRIVACY_KEY``, or one derived from the secret key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.conf import settings

from touchflow.customers.models import ContactPoint, Suppression

# What the consent log says about a withdrawal the suppression list made: no contact,
# no name, only why.
NOTE = "suppressed: the customer's data was erased at their request"


def key() -> bytes:
    """``TOUCHFLOW_PRIVACY_KEY`` (settings or environment), else one derived from the
    secret key."""
    given = getattr(settings, "TOUCHFLOW_PRIVACY_KEY", None) or os.environ.get(
        "TOUCHFLOW_PRIVACY_KEY", ""
    )
    if given:
        return str(given).encode()
    return hashlib.sha256(b"touchflow-suppression:" + settings.SECRET_KEY.encode()).digest()


def digest(kind: str, network: str, value: str) -> str:
    """The keyed hash of one normalised contact (as stored on a ContactPoint)."""
    message = f"{kind}\x1f{network}\x1f{value}".encode()
    return hmac.new(key(), message, hashlib.sha256).hexdigest()


def digest_of(point: ContactPoint) -> str:
    return digest(point.kind, point.network, point.value)


def suppress(points: Iterable[ContactPoint], at: datetime) -> int:
    """Put these contacts on the list (already listed ones stay as they are)."""
    rows = [Suppression(digest=digest_of(p), created_at=at) for p in points]
    Suppression.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def suppressed(points: Sequence[ContactPoint]) -> list[ContactPoint]:
    """The points among these whose contact is on the list (one query)."""
    if not points:
        return []
    by_digest = {digest_of(p): p for p in points}
    listed = Suppression.objects.filter(digest__in=list(by_digest)).values_list(
        "digest", flat=True
    )
    return [by_digest[d] for d in listed]
