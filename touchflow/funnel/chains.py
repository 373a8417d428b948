"""Switching a chain on and off: its status, the version it runs, and what the engine
holds for it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.delivery import transitions
from touchflow.flows import checks
from touchflow.flows.actions import apply_version
from touchflow.flows.models import Flow, FlowActivation, FlowStatus, FlowVersion
from touchflow.flows.queries import forget_active_flows
from touchflow.flows.spec import parse_flow
from touchflow.stores.models import Store


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


class Unacknowledged(InvalidInput):
    """Warnings open on the version that the manager has not acknowledged."""

    def __init__(self, open_: list[checks.Warning]) -> None:
        self.open = open_
        super().__init__("acknowledged", f"{len(open_)} warning(s) to acknowledge first.",
                         "unacknowledged")


def store_caps() -> list[checks.Caps]:
    """Every store's caps: a chain runs in all of them, so it meets the strictest."""
    return [checks.Caps(m, c, timedelta(days=d)) for m, c, d in Store.objects.values_list(
        "cap_messages", "cap_commercial", "cap_period_days")]


def open_warnings(version: FlowVersion) -> list[checks.Warning]:
    """What the tone and chain checks find in ``version`` now."""
    return checks.warnings(parse_flow(version.text, version.source), store_caps(),
                           settings.TOUCHFLOW_WARMING_MAX_DAYS)


def activate(version: FlowVersion, by: int | None, acknowledged: Collection[str] = ()) -> Flow:
    """Run the chain at ``version`` and switch it on. Every open warning must be among
    the ``acknowledged`` keys (``checks.Warning.key``), or nothing changes and
    ``Unacknowledged`` lists them; the activation and what was acknowledged go on the
    chain's history. Running enrollments go on: steps are matched by key."""
    found = open_warnings(version)
    missing = [w for w in found if w.key not in acknowledged]
    if missing:
        raise Unacknowledged(missing)
    with transaction.atomic():
        flow = apply_version(version)
        FlowActivation.objects.create(flow=flow, version=version, at=clock.now(), by_id=by,
                                      acknowledged=[w.as_record() for w in found])
        set_status(flow, FlowStatus.ACTIVE)
    return flow
