"""The suppression list: an erased customer's contacts, kept only as keyed hashes.

A keyed HMAC-SHA256, not a plain hash: the space of phone numbers is small enough to
hash every one of them in an afternoon, so a plain SHA-256 of a phone is as good as
the phone. Without the deployment's key the digests reveal nothing.

``withhold`` is the hook of every path that creates contact points (the actions'
``_add_contacts`` and the importer): a new point whose digest is on the list gets its
consent recorded as withdrawn, as the customer's own earlier request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from touchflow.integrations.actor import Actor
from touchflow.privacy import conf
from touchflow.privacy.models import Suppression

if TYPE_CHECKING:
    from touchflow.customers.models import ContactPoint
    from touchflow.timeline.models import TimelineEvent

# What the consent log says about a withdrawal the suppression list made: no contact,
# no name, only why.
NOTE = "suppressed: the customer's data was erased at their request"


def digest(kind: str, network: str, value: str) -> str:
    """The keyed hash of one normalised contact (as stored on a ContactPoint)."""
    message = f"{kind}\x1f{network}\x1f{value}".encode()
    return hmac.new(conf.privacy_key(), message, hashlib.sha256).hexdigest()


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


def withhold(points: Sequence[ContactPoint], at: datetime,
             timeline: list[TimelineEvent] | None = None) -> int:
    """Record consent withdrawn on every new point whose contact is suppressed; how many.

    With ``timeline``, the consent rows go there for the caller to write."""
    from touchflow.customers.actions import record_consent
    from touchflow.customers.models import ConsentPurpose, ConsentSource

    found = suppressed(points)
    actor = Actor.system(ConsentSource.CUSTOMER)
    for point in found:
        for purpose in (ConsentPurpose.CONTACT, ConsentPurpose.MARKETING):
            record_consent(point, purpose, False, actor, at, note=NOTE, timeline=timeline)
    return len(found)
