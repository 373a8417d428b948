"""Switching a chain on and off: its status, and what the engine holds for it."""

from __future__ import annotations

from django.db import transaction

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.delivery import transitions
from touchflow.flows.models import Flow, FlowStatus
from touchflow.flows.queries import forget_active_flows


def set_status(flow: Flow, status: str) -> Flow:
    """Activate, pause or return a chain to draft. Pausing keeps enrollments and touches
    waiting; nothing is sent from a paused chain."""
    if status not in FlowStatus.values:
        raise InvalidInput(
            "status", f"Must be one of: {', '.join(FlowStatus.values)}.", "invalid_choice"
        )
    if flow.status == status:
        return flow
    with transaction.atomic():
        flow.status = status
        flow.updated_at = clock.now()
        flow.save(update_fields=["status", "updated_at"])
        transaction.on_commit(forget_active_flows)
        if status == FlowStatus.ACTIVE:
            # Touches the dispatcher parked while the chain was paused wait no more; one
            # whose time ran out meanwhile will expire rather than go out late.
            transitions.resume_parked(flow.pk)
    return flow
