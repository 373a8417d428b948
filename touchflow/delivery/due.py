"""A claimed touch as the worker's stages see it: plain values, read once per claim.

Apart from ``batch`` (which reads them) so that the stages which only carry them —
``transitions``, ``sending`` — depend on nothing that reads chains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from touchflow.flows.models import Flow, FlowStep
from touchflow.stores.models import Staff, Store


@dataclass(slots=True)
class DueCustomer:
    pk: int
    name: str
    language: str
    time_zone: str


@dataclass(slots=True)
class DueEnrollment:
    pk: int
    state: str
    end_reason: str
    entered_at: datetime
    flow: Flow
    flow_id: int
    staff: Staff | None
    staff_id: int | None
    customer_id: int
    store_id: int


@dataclass(slots=True)
class Due:
    """A claimed touch as a worker sees it: plain values, not model instances (a model
    instance per touch, enrollment, customer and step cost more than the send)."""

    pk: int
    customer_id: int
    store_id: int
    commercial: bool
    due_at: datetime
    expires_at: datetime
    state: str
    channel: str
    attempts: int
    last_error: str
    idempotency_key: str
    reason: str
    finished_at: datetime | None
    provider_message_id: str
    failed_channels: str
    # Set when the touch was claimed while in flight: its previous worker died (or lost
    # its lease) after the request may have left (decision 0016).
    in_flight_at: datetime | None
    step: FlowStep
    enrollment: DueEnrollment
    customer: DueCustomer
    store: Store

    def failed(self) -> tuple[str, ...]:
        return tuple(self.failed_channels.split(",")) if self.failed_channels else ()
