"""The privacy log: one row per export, erasure and retention run, without personal data."""

from __future__ import annotations

from datetime import datetime

from touchflow.core import clock
from touchflow.privacy.actor import Requester
from touchflow.privacy.models import AuditEntry


def log(action: str, requester: Requester, *, customer_id: int | None = None,
        counts: dict[str, int] | None = None, at: datetime | None = None) -> AuditEntry:
    return AuditEntry.objects.create(
        action=action,
        customer_id=customer_id,
        actor_kind=requester.kind,
        staff=requester.staff,
        integration=requester.integration,
        at=at or clock.now(),
        counts=counts or {},
    )
