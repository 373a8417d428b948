"""The context stage: what a worker reads about the touches it claimed.

Two reads with different lifetimes. ``load`` reads, once per claim, what does not
change while a touch waits its turn: the touch, its enrollment, chain, steps, store,
the customer's language and time zone, their last purchase. ``fresh`` reads, right
before a group of touches is let go, what may change meanwhile: the customers' contact
points and consent, and what they received or have in flight (the caps).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q

from touchflow.delivery import queries
from touchflow.delivery.due import Due, DueCustomer, DueEnrollment
from touchflow.delivery.policies import Contact, Recent
from touchflow.flows.models import Flow, FlowStep
from touchflow.flows.schedule import Policy, store_policy
from touchflow.stores.models import Role, Staff, Store


@dataclass
class Batch:
    """What ``load`` read for a set of claimed touches."""

    touches: list[Due]
    last_purchase: dict[int, datetime]
    steps_by_flow: dict[int, list[FlowStep]]
    policies: dict[int, Policy]
    managers: dict[int, int]


@dataclass
class Fresh:
    """What ``fresh`` read for a group of customers, right before their sends."""

    contacts: dict[int, list[Contact]]
    recent: dict[int, Recent]
    # Customers whose commercial messages are held (an open complaint: aftercare).
    held: frozenset[int] = frozenset()


def _position(step: FlowStep) -> tuple[int, int]:
    return (step.position, step.pk)


@dataclass
class Shared:
    """The chains, steps, stores and sellers a worker's touches share, kept between its
    claims (each claim used to read them again: four ORM queries, a fifth of a claim's
    cost). A chain is read again as soon as it changed — its status, version and update
    time are read with every claim; stores and sellers at most ``max_age`` seconds after
    they were read (a change of a store's quiet hours or caps reaches a worker within
    that; a touch claimed before it was judged by the older settings anyway)."""

    max_age: float = 5.0
    monotonic: Callable[[], float] = time.monotonic
    flows: dict[int, Flow] = field(default_factory=dict)
    stamps: dict[int, tuple[Any, ...] | None] = field(default_factory=dict)
    steps: dict[int, FlowStep] = field(default_factory=dict)
    stores: dict[int, Store] = field(default_factory=dict)
    staff: dict[int, Staff] = field(default_factory=dict)
    read_at: float = float("-inf")

    def chains(self, flow_ids: set[int]) -> tuple[dict[int, Flow], list[FlowStep]]:
        """These chains (as they are now) and every step of them."""
        stamps = {row[0]: row[1:] for row in queries.flow_stamps(flow_ids)}
        stale = {pk for pk in flow_ids if self.stamps.get(pk) != stamps.get(pk)}
        if stale:
            fresh = Flow.objects.in_bulk(stale)
            self.flows.update(fresh)
            self.stamps.update({pk: stamps.get(pk) for pk in stale})
            self.steps = {pk: s for pk, s in self.steps.items() if s.flow_id not in stale}
            for step in FlowStep.objects.filter(flow_id__in=fresh.keys()):
                step.flow = fresh[step.flow_id]  # shared instance: no query for step.flow
                self.steps[step.pk] = step
        flows = {pk: self.flows[pk] for pk in flow_ids if pk in self.flows}
        return flows, [s for s in self.steps.values() if s.flow_id in flows]

    def people(self, store_ids: set[int], staff_ids: set[int]) -> None:
        """Have these stores and sellers, none older than ``max_age``."""
        if self.monotonic() - self.read_at > self.max_age:
            self.stores, self.staff, self.read_at = {}, {}, self.monotonic()
        if missing := store_ids - self.stores.keys():
            self.stores.update(Store.objects.in_bulk(missing))
        if missing := staff_ids - self.staff.keys():
            self.staff.update(Staff.objects.in_bulk(missing))


def load(ids: list[int], shared: Shared) -> Batch:
    touches, steps = _read_touches(ids, shared)
    stores = {t.store_id: t.store for t in touches}
    policies = {sid: store_policy(s) for sid, s in stores.items()}
    purchase_exit = {t.customer_id for t in touches if "purchase" in t.enrollment.flow.exit_on}
    last_purchase = dict(queries.last_purchases(purchase_exit)) if purchase_exit else {}
    steps_by_flow: dict[int, list[FlowStep]] = defaultdict(list)
    for step in sorted(steps, key=_position):
        steps_by_flow[step.flow_id].append(step)
    managers: dict[int, int] = {}
    if any(t.step.kind == "call" for t in touches):
        for staff_id, store_id in Staff.objects.filter(
            Q(role=Role.MANAGER) & Q(stores__in=stores.keys()), is_active=True
        ).values_list("id", "stores"):
            managers.setdefault(store_id, staff_id)
    return Batch(touches, last_purchase, steps_by_flow, policies, managers)


def _read_touches(ids: list[int], shared: Shared) -> tuple[list[Due], list[FlowStep]]:
    """The claimed touches as plain records: one query for the touches with their
    enrollment and customer columns; the few chains, steps, stores and staff they share
    come from ``shared``."""
    rows = queries.claimed(ids)
    flows, step_list = shared.chains({r[20] for r in rows})
    steps = {s.pk: s for s in step_list}
    shared.people({r[2] for r in rows}, {r[21] for r in rows if r[21] is not None})
    stores, staff = shared.stores, shared.staff
    touches = []
    for r in rows:
        flow = flows[r[20]]
        step = steps[r[15]]
        enrollment = DueEnrollment(
            pk=r[16], state=r[17], end_reason=r[18], entered_at=r[19], flow=flow,
            flow_id=r[20], staff=staff.get(r[21]) if r[21] else None, staff_id=r[21],
            customer_id=r[1], store_id=r[2],
        )
        touches.append(Due(
            pk=r[0], customer_id=r[1], store_id=r[2], commercial=r[3], due_at=r[4],
            expires_at=r[5], state=r[6], channel=r[7], attempts=r[8], last_error=r[9],
            idempotency_key=r[10], reason=r[11], finished_at=r[12],
            provider_message_id=r[13], failed_channels=r[14], in_flight_at=r[25], step=step,
            enrollment=enrollment,
            customer=DueCustomer(pk=r[1], name=r[22], language=r[23], time_zone=r[24]),
            store=stores[r[2]],
        ))
    return touches, step_list


def contacts_of(customer_ids: Collection[int]) -> dict[int, list[Contact]]:
    """The customers' contact points, with their consent as it is now."""
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for cid, kind, value, contact, marketing, network, bounced in queries.contact_points(
        customer_ids
    ):
        contacts[cid].append(Contact(kind, value, contact, marketing, network, bounced is not None))
    return contacts


def fresh(customer_ids: Collection[int], since: datetime, exclude: Iterable[int]) -> Fresh:
    """The customers' contact points, and what they received since ``since`` or have
    in flight now, from any worker (touches in ``exclude`` — those being judged — are
    not counted). A touch in flight counts as sent from the moment it left; one that
    ended "uncertain" counts as sent too: it may have been."""
    contacts = contacts_of(customer_ids)
    skip = set(exclude)
    sent: dict[int, list[tuple[datetime, bool]]] = defaultdict(list)
    for pk, customer_id, finished_at, in_flight_at, commercial in queries.sends_of(
        customer_ids, since
    ):
        at = finished_at or in_flight_at
        if pk not in skip and at is not None:
            sent[customer_id].append((at, commercial))
    recent = {
        cid: Recent(
            sent=tuple(sorted(at for at, _c in rows)),
            commercial=tuple(sorted(at for at, c in rows if c)),
        )
        for cid, rows in sent.items()
    }
    return Fresh(contacts, recent, frozenset(queries.commercial_held(customer_ids)))
