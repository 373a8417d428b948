"""The dispatcher: claim due touches, apply the policies, render, send, record, schedule.

One round handles one batch: a claim statement, a handful of set-shaped reads for
the batch's context, the sends, and one transaction that records every outcome and
schedules what comes next. The cost of a round follows the number of due touches,
never the size of the customer base.
"""

from __future__ import annotations

import logging
import os
import socket
import time as walltime
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Max, Q

from touchflow.core import clock
from touchflow.core.bulk import insert_many
from touchflow.customers.models import ContactPoint
from touchflow.delivery import queries, readiness
from touchflow.delivery.channels.base import Channel, OutgoingMessage, SendResult, accepts, serves
from touchflow.delivery.models import Attempt, AttemptOutcome, CallTask, Touch, TouchState
from touchflow.delivery.policies import (
    CHANNEL_CONTACT,
    NO_CHANNEL,
    Contact,
    Defer,
    Drop,
    MakeTask,
    Recent,
    Send,
    judge,
)
from touchflow.delivery.render import Renderer, first_name, unsubscribe_url
from touchflow.delivery.retry import RetryPolicy
from touchflow.flows import enrollment as flow_enrollment
from touchflow.flows.models import Enrollment, EnrollmentState, Flow, FlowStatus, FlowStep
from touchflow.flows.schedule import Policy, due_and_expiry, new_idempotency_key, next_step
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline.events import TOUCH_ROW_COLUMNS, left_flow_row, touch_data
from touchflow.timeline.models import EventKind, TimelineEvent

# A touch's timeline row as plain values, in TOUCH_ROW_COLUMNS order.
TimelineRow = tuple[int, str, datetime, int, dict[str, Any]]


log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class RoundStats:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Touches that wait because their store has none of their step's channels, and
    # which channels each store lacks.
    waiting: int = 0
    missing: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, other: RoundStats) -> None:
        self.claimed += other.claimed
        for key, value in other.outcomes.items():
            self.outcomes[key] += value
        self.waiting += other.waiting
        for store, names in other.missing.items():
            self.missing[store] |= names


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
    """A claimed touch as a round sees it: plain values, not model instances (a model
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
    step: FlowStep
    enrollment: DueEnrollment
    customer: DueCustomer
    store: Store


def _position(step: FlowStep) -> tuple[int, int]:
    return (step.position, step.pk)


@dataclass
class _Batch:
    """Everything one round needs, read once."""

    touches: list[Due]
    contacts: dict[int, list[Contact]]
    recent: dict[int, Recent]
    last_purchase: dict[int, datetime]
    steps_by_flow: dict[int, list[FlowStep]]
    policies: dict[int, Policy]
    managers: dict[int, int]


@dataclass
class _Outcome:
    touch: Due
    update: queries.TouchUpdate
    attempt: Attempt | None = None
    timeline: TimelineRow | None = None
    task: CallTask | None = None
    advance: bool = False
    exit_reason: str = ""


class Dispatcher:
    def __init__(
        self,
        channels: Mapping[str, Channel],
        *,
        owner: str | None = None,
        batch_size: int = 500,
        lease: timedelta = timedelta(minutes=2),
        retry: RetryPolicy | None = None,
        now: Callable[[], datetime] = clock.now,
        recheck_every: float = 0.2,
    ) -> None:
        self.channels = dict(channels)
        self.owner = owner or worker_name()
        self.batch_size = batch_size
        self.lease = lease
        self.retry = retry or RetryPolicy()
        self.now = now
        self.recheck_every = recheck_every
        self.renderer = Renderer()
        self._claimed_at = walltime.monotonic()
        self._steps_seen: set[FlowStep] = set()

    # -- the round ---------------------------------------------------------------

    def run_round(self) -> RoundStats:
        now = self.now()
        with transaction.atomic():
            ids = queries.claim(now, self.owner, now + self.lease, self.batch_size)
        self._claimed_at = walltime.monotonic()  # the lease runs from here
        stats = RoundStats(claimed=len(ids))
        if not ids:
            return stats
        batch = self._load(ids, now)
        outcomes = self._decide_and_send(batch, now)
        self._record(outcomes, batch, now, stats)
        if stats.waiting:
            # Once a round, not once a touch: what the deployment lacks, not the customers.
            log.warning(readiness.waiting_summary(stats.waiting, stats.missing))
        return stats

    def drain(self, max_rounds: int | None = None) -> RoundStats:
        """Rounds until nothing is due (``worker --once``)."""
        total = RoundStats()
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            stats = self.run_round()
            rounds += 1
            total.add(stats)
            if stats.claimed == 0:
                break
        return total

    def run_forever(
        self, idle_sleep: float = 1.0, stop: Callable[[], bool] = lambda: False,
        chores: Callable[[], object] = lambda: None,
    ) -> None:
        """Rounds until ``stop``; ``chores`` runs before each round (it must not raise)."""
        while not stop():
            chores()
            try:
                stats = self.run_round()
            except Exception:  # noqa: BLE001 - a worker survives a bad round and retries
                log.exception("dispatch round failed")
                walltime.sleep(idle_sleep)
                continue
            if stats.claimed < self.batch_size:
                walltime.sleep(idle_sleep)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()

    # -- reading the batch's context ------------------------------------------------

    def _load(self, ids: list[int], now: datetime) -> _Batch:
        touches = self._read_touches(ids)
        stores = {t.store_id: t.store for t in touches}
        customer_ids = {t.customer_id for t in touches}
        contacts: dict[int, list[Contact]] = defaultdict(list)
        for cid, kind, value, contact, marketing, network, bounced in (
            ContactPoint.objects.filter(customer_id__any=customer_ids).values_list(
                "customer_id", "kind", "value", "contact_consent", "marketing_consent",
                "network", "undeliverable_at",
            )
        ):
            contacts[cid].append(
                Contact(kind, value, contact, marketing, network, bounced is not None)
            )
        policies = {sid: flow_enrollment.store_policy(s) for sid, s in stores.items()}
        longest = max(p.cap_period for p in policies.values())
        sent: dict[int, list[tuple[datetime, bool]]] = defaultdict(list)
        for customer_id, finished_at, commercial in Touch.objects.filter(
            customer_id__any=customer_ids, state=TouchState.SENT, finished_at__gt=now - longest
        ).values_list("customer_id", "finished_at", "commercial"):
            if finished_at is not None:
                sent[customer_id].append((finished_at, commercial))
        recent = {
            cid: Recent(
                sent=tuple(at for at, _c in rows),
                commercial=tuple(at for at, c in rows if c),
            )
            for cid, rows in sent.items()
        }
        purchase_exit = {t.customer_id for t in touches if "purchase" in t.enrollment.flow.exit_on}
        last_purchase = dict(
            Purchase.objects.filter(customer_id__any=purchase_exit)
            .values("customer_id")
            .annotate(last=Max("occurred_at"))
            .values_list("customer_id", "last")
        )
        steps_by_flow: dict[int, list[FlowStep]] = defaultdict(list)
        for step in sorted(self._steps_seen, key=_position):
            steps_by_flow[step.flow_id].append(step)
        managers: dict[int, int] = {}
        if any(t.step.kind == "call" for t in touches):
            for staff in Staff.objects.filter(
                Q(role=Role.MANAGER) & Q(stores__in=stores.keys()), is_active=True
            ).values_list("id", "stores"):
                managers.setdefault(staff[1], staff[0])
        return _Batch(touches, contacts, recent, last_purchase, steps_by_flow, policies, managers)

    def _read_touches(self, ids: list[int]) -> list[Due]:
        """The claimed touches as plain records: one query for the touches with their
        enrollment and customer columns, and the few chains, steps, stores and staff
        they share read by id (a batch of 500 touches has a handful of each)."""
        rows = list(
            Touch.objects.filter(id__any=ids).order_by("due_at", "id").values_list(
                "id", "customer_id", "store_id", "commercial", "due_at", "expires_at", "state",
                "channel", "attempts", "last_error", "idempotency_key", "reason",
                "finished_at", "provider_message_id", "failed_channels", "step_id",
                "enrollment_id", "enrollment__state", "enrollment__end_reason",
                "enrollment__entered_at", "enrollment__flow_id", "enrollment__staff_id",
                "customer__name", "customer__language", "customer__time_zone",
            )
        )
        flows = Flow.objects.in_bulk({r[20] for r in rows})
        # Every live step of those chains: the next step is scheduled from them.
        steps = {s.pk: s for s in FlowStep.objects.filter(flow_id__in=flows.keys())}
        self._steps_seen = set(steps.values())
        stores = Store.objects.in_bulk({r[2] for r in rows})
        staff = Staff.objects.in_bulk({r[21] for r in rows if r[21] is not None})
        touches = []
        for r in rows:
            flow = flows[r[20]]
            step = steps[r[15]]
            step.flow = flow  # shared instance: no query for step.flow
            enrollment = DueEnrollment(
                pk=r[16], state=r[17], end_reason=r[18], entered_at=r[19], flow=flow,
                flow_id=r[20], staff=staff.get(r[21]) if r[21] else None, staff_id=r[21],
                customer_id=r[1], store_id=r[2],
            )
            touches.append(Due(
                pk=r[0], customer_id=r[1], store_id=r[2], commercial=r[3], due_at=r[4],
                expires_at=r[5], state=r[6], channel=r[7], attempts=r[8], last_error=r[9],
                idempotency_key=r[10], reason=r[11], finished_at=r[12],
                provider_message_id=r[13], failed_channels=r[14], step=step,
                enrollment=enrollment,
                customer=DueCustomer(pk=r[1], name=r[22], language=r[23], time_zone=r[24]),
                store=stores[r[2]],
            ))
        return touches

    # -- deciding and sending ---------------------------------------------------------

    def _decide_and_send(self, batch: _Batch, now: datetime) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        to_send: dict[str, list[tuple[Due, OutgoingMessage]]] = defaultdict(list)
        available = {
            store_id: [n for n, ch in self.channels.items() if serves(ch, store_id)]
            for store_id in batch.policies
        }
        recent = dict(batch.recent)
        for touch in batch.touches:
            enrollment = touch.enrollment
            if enrollment.state != EnrollmentState.ACTIVE:
                outcomes.append(
                    self._drop(touch, now, "cancelled", enrollment.end_reason or "ended")
                )
                continue
            if enrollment.flow.status != FlowStatus.ACTIVE:
                outcomes.append(self._park(touch))
                continue
            purchased = batch.last_purchase.get(touch.customer_id)
            if purchased is not None and purchased > enrollment.entered_at:
                outcome = self._drop(touch, now, "cancelled", "purchase")
                outcome.exit_reason = "purchase"
                outcomes.append(outcome)
                continue
            step = touch.step
            verdict = judge(
                now=now,
                kind=step.kind,
                expires_at=touch.expires_at,
                tz_name=touch.customer.time_zone,
                policy=batch.policies[touch.store_id],
                window_start=step.window_start,
                window_end=step.window_end,
                preferences=step.channels,
                contacts=batch.contacts.get(touch.customer_id, ()),
                available=available[touch.store_id],
                commercial=touch.commercial,
                when_capped=step.when_capped,
                recent=recent.get(touch.customer_id, Recent()),
                failed=touch.failed_channels.split(",") if touch.failed_channels else (),
                accepts=partial(self._accepts, touch.store_id),
            )
            if isinstance(verdict, Send):
                touch.channel = verdict.channel
                message = self._message(touch, verdict)
                if message is None:
                    outcomes.append(self._fail(touch, now, "template error", final=True))
                    continue
                to_send[verdict.channel].append((touch, message))
                r = recent.get(touch.customer_id, Recent())
                recent[touch.customer_id] = Recent(
                    sent=(*r.sent, now),
                    commercial=(*r.commercial, now) if touch.commercial else r.commercial,
                )
            elif isinstance(verdict, Defer):
                outcomes.append(self._defer(touch, verdict))
            elif isinstance(verdict, Drop):
                outcomes.append(self._drop(touch, now, verdict.state, verdict.reason))
            elif isinstance(verdict, MakeTask):
                outcomes.append(self._task(touch, now, batch))
        outcomes.extend(self._send_held(to_send, now))
        return outcomes

    def _send_held(
        self, to_send: Mapping[str, list[tuple[Due, OutgoingMessage]]], now: datetime
    ) -> list[_Outcome]:
        """Send one message at a time, as long as this worker still holds the touch and
        the customer still consents.

        Right before the first send, and again whenever ``recheck_every`` has passed,
        the batch is re-read: a touch cancelled meanwhile (the customer bought, said
        STOP everywhere) is not sent; one whose contact lost consent (STOP on this
        channel) goes back to the queue to be judged again, e.g. for another channel.
        Whenever a third of the lease has passed it is renewed: a slow provider must not
        let it run out mid-batch, or another worker would send the touches a second time.
        """
        queue = [
            (name, touch, message) for name, items in to_send.items() for touch, message in items
        ]
        if not queue:
            return []
        ids = [t.pk for _n, t, _m in queue]  # sent but unrecorded count too: record needs them
        outcomes: list[_Outcome] = []
        renew_every = self.lease.total_seconds() / 3
        renewed = self._claimed_at
        checked = float("-inf")
        held: set[int] = set()
        allowed: set[tuple[int, str, str, bool]] = set()
        for channel_name, touch, message in queue:
            moment = walltime.monotonic()
            if moment - renewed > renew_every:
                held = queries.renew(ids, self.owner, self.now() + self.lease)
                renewed = checked = moment
                allowed = self._consenting(queue)
            elif moment - checked > self.recheck_every:
                held = queries.held(ids, self.owner)
                checked = moment
                allowed = self._consenting(queue)
            if touch.pk not in held:
                continue
            key = (touch.customer_id, CHANNEL_CONTACT[channel_name], message.address)
            if (*key, touch.commercial) not in allowed:
                outcomes.append(self._requeue(touch, now, "consent_changed"))
                continue
            result = self._send(channel_name, [message])[0]
            outcomes.append(self._result(touch, now, result))
        return outcomes

    @staticmethod
    def _consenting(
        queue: list[tuple[str, Due, OutgoingMessage]],
    ) -> set[tuple[int, str, str, bool]]:
        """(customer, kind, value, commercial) for each contact of the queue's customers
        that may receive a message now (for offers, with marketing consent too)."""
        allowed: set[tuple[int, str, str, bool]] = set()
        for cid, kind, value, contact, marketing in ContactPoint.objects.filter(
            customer_id__any={t.customer_id for _n, t, _m in queue},
            contact_consent=True,
            undeliverable_at__isnull=True,
        ).values_list("customer_id", "kind", "value", "contact_consent", "marketing_consent"):
            allowed.add((cid, kind, value, False))
            if contact and marketing:
                allowed.add((cid, kind, value, True))
        return allowed

    def _accepts(self, store_id: int, channel_name: str, contact: Contact) -> bool:
        return accepts(self.channels[channel_name], contact, store_id)

    def _send(self, channel_name: str, messages: list[OutgoingMessage]) -> list[SendResult]:
        try:
            results = self.channels[channel_name].send(messages)
        except Exception as exc:  # noqa: BLE001 - a broken adapter must not lose the batch
            log.exception("channel %s failed", channel_name)
            return [SendResult.retry(f"{type(exc).__name__}: {exc}") for _m in messages]
        if len(results) != len(messages):
            return [SendResult.retry("channel returned a wrong number of results")] * len(messages)
        return results

    def _context(self, touch: Due, channel: str) -> dict[str, object]:
        customer = touch.customer
        seller = touch.enrollment.staff
        seller_name = (seller.get_full_name() or seller.username) if seller else ""
        return {
            "customer": {"name": customer.name, "first_name": first_name(customer.name)},
            "store": {"name": touch.store.name},
            "seller": {"name": seller_name, "first_name": first_name(seller_name)},
            "unsubscribe_url": unsubscribe_url(customer.pk, channel),
        }

    def _message(self, touch: Due, route: Send) -> OutgoingMessage | None:
        context = self._context(touch, route.channel)
        try:
            rendered = self.renderer.render(
                touch.step.messages,
                touch.customer.language,
                touch.store.language,
                context,
                route.channel,
            )
        except Exception as exc:  # noqa: BLE001 - reported on the touch, never a crash
            touch.last_error = f"template: {exc}"
            return None
        return OutgoingMessage(
            touch_id=touch.pk,
            idempotency_key=touch.idempotency_key,
            channel=route.channel,
            address=route.address,
            text=rendered.text,
            subject=rendered.subject,
            language=rendered.language,
            store_id=touch.store_id,
            unsubscribe_url=str(context["unsubscribe_url"]),
        )

    # -- outcomes ---------------------------------------------------------------------

    def _update(self, touch: Due, **changes: object) -> queries.TouchUpdate:
        fields = {
            "id": touch.pk,
            "state": touch.state,
            "due_at": touch.due_at,
            "channel": touch.channel,
            "attempts": touch.attempts,
            "last_error": touch.last_error,
            "reason": touch.reason,
            "finished_at": touch.finished_at,
            "provider_message_id": touch.provider_message_id,
        }
        fields.update(changes)
        for name, value in changes.items():
            setattr(touch, name, value)
        return queries.TouchUpdate(**fields)  # type: ignore[arg-type]

    def _timeline(self, touch: Due, at: datetime, outcome: str, error: str = "") -> TimelineRow:
        data = touch_data(touch, outcome, touch.enrollment.flow.slug, touch.step.key, error)
        return (touch.customer_id, EventKind.TOUCH, at, touch.store_id, data)

    def _park(self, touch: Due) -> _Outcome:
        return _Outcome(touch, self._update(touch, state=TouchState.PAUSED, reason="flow_paused"))

    def _requeue(self, touch: Due, now: datetime, reason: str) -> _Outcome:
        """Back to the queue, due now: the next round judges it afresh."""
        return _Outcome(touch, self._update(touch, state=TouchState.QUEUED, due_at=now,
                                            reason=reason))

    def _defer(self, touch: Due, verdict: Defer) -> _Outcome:
        update = self._update(
            touch, state=TouchState.QUEUED, due_at=verdict.until, reason=verdict.reason
        )
        return _Outcome(touch, update)

    def _drop(self, touch: Due, now: datetime, state: str, reason: str) -> _Outcome:
        update = self._update(touch, state=state, reason=reason, finished_at=now)
        return _Outcome(
            touch,
            update,
            timeline=self._timeline(touch, now, state),
            advance=state != TouchState.CANCELLED,
        )

    def _task(self, touch: Due, now: datetime, batch: _Batch) -> _Outcome:
        enrollment = touch.enrollment
        assignee = enrollment.staff_id if touch.step.assignee == "seller" else None
        assignee = assignee or batch.managers.get(touch.store_id)
        phone = next(
            (
                c.value
                for c in batch.contacts.get(touch.customer_id, ())
                if c.kind == "phone" and c.contact_consent is True
            ),
            "",
        )
        context = self._context(touch, "call")
        try:
            script = self.renderer.render(
                touch.step.messages,
                touch.customer.language,
                touch.store.language,
                {**context, "unsubscribe_url": ""},
                "call",
            ).text
        except Exception as exc:  # noqa: BLE001
            script = f"(script could not be rendered: {exc})"
        task = CallTask(
            touch_id=touch.pk,
            customer_id=touch.customer_id,
            store_id=touch.store_id,
            assignee_id=assignee,
            phone=phone,
            script=script,
            due_at=now,
        )
        update = self._update(
            touch, state=TouchState.TASK, channel="call", finished_at=now, reason=""
        )
        return _Outcome(
            touch, update, task=task, timeline=self._timeline(touch, now, "task"), advance=True
        )

    def _fail(self, touch: Due, now: datetime, error: str, final: bool) -> _Outcome:
        return self._result(touch, now, SendResult(ok=False, error=error, transient=not final))

    def _result(self, touch: Due, now: datetime, result: SendResult) -> _Outcome:
        attempts = touch.attempts + 1
        if result.ok:
            update = self._update(
                touch,
                state=TouchState.SENT,
                attempts=attempts,
                finished_at=now,
                last_error="",
                reason="",
                provider_message_id=result.provider_id,
            )
            # The touch row itself records the success (attempts, channel, finished_at)
            # and the timeline shows it: Attempt rows are kept for failed attempts.
            return _Outcome(
                touch,
                update,
                timeline=self._timeline(touch, now, "sent"),
                advance=True,
            )
        error = result.error or "unknown error"
        if result.transient and not self.retry.gives_up_after(attempts):
            retry_at = now + self.retry.delay(attempts, result.retry_after)
            if retry_at > touch.expires_at:
                update = self._update(
                    touch,
                    state=TouchState.EXPIRED,
                    attempts=attempts,
                    finished_at=now,
                    last_error=error,
                    reason="expired_retrying",
                )
                outcome = AttemptOutcome.FAILED
                advance, label = True, "expired"
            else:
                update = self._update(
                    touch,
                    state=TouchState.QUEUED,
                    attempts=attempts,
                    due_at=retry_at,
                    last_error=error,
                    reason="retry",
                )
                outcome, advance, label = AttemptOutcome.RETRY, False, "retry"
        else:
            update = self._update(
                touch,
                state=TouchState.DEAD,
                attempts=attempts,
                finished_at=now,
                last_error=error,
                reason="gave_up" if result.transient else "rejected",
            )
            outcome, advance, label = AttemptOutcome.FAILED, True, "dead"
        attempt = Attempt(
            touch_id=touch.pk,
            number=attempts,
            at=now,
            channel=touch.channel,
            outcome=outcome,
            error=error,
        )
        return _Outcome(
            touch,
            update,
            attempt=attempt,
            timeline=self._timeline(touch, now, label, error),
            advance=advance,
        )

    # -- recording ----------------------------------------------------------------------

    def _record(
        self, outcomes: list[_Outcome], batch: _Batch, now: datetime, stats: RoundStats
    ) -> None:
        with transaction.atomic():
            written = queries.record([o.update for o in outcomes], self.owner)
            mine = [o for o in outcomes if o.touch.pk in written]
            Attempt.objects.bulk_create([o.attempt for o in mine if o.attempt])
            CallTask.objects.bulk_create([o.task for o in mine if o.task])
            insert_many(TimelineEvent._meta.db_table, TOUCH_ROW_COLUMNS,
                        [o.timeline for o in mine if o.timeline], json_columns=("data",),
                        datetime_columns=("at",))
            self._advance([o for o in mine if o.advance], batch, now)
        for o in mine:
            stats.outcomes[o.update.state] += 1
            if o.update.state == TouchState.QUEUED and o.update.reason == NO_CHANNEL:
                stats.waiting += 1
                stats.missing[o.touch.store.slug].update(o.touch.step.channels)
            if o.exit_reason:
                flow_enrollment.leave(
                    o.touch.customer_id, o.exit_reason, now, only_rule=o.exit_reason
                )
        lost = len(outcomes) - len(mine)
        if lost:
            stats.outcomes["lease_lost"] += lost

    def _advance(self, finished: Iterable[_Outcome], batch: _Batch, now: datetime) -> None:
        """Schedule each enrollment's next step, or complete it."""
        new_touches: list[queries.NewTouch] = []
        completed: list[int] = []
        for outcome in finished:
            touch = outcome.touch
            enrollment = touch.enrollment
            steps = batch.steps_by_flow[enrollment.flow_id]
            step = next_step(steps, touch.step)
            if step is None:
                completed.append(enrollment.pk)
                continue
            base = enrollment.entered_at if step.anchor == "entry" else now
            due, expires = due_and_expiry(
                step, base, touch.customer.time_zone, batch.policies[touch.store_id]
            )
            new_touches.append(queries.NewTouch(
                enrollment.pk, step.pk, enrollment.customer_id, enrollment.store_id,
                step.commercial, due, expires, new_idempotency_key(),
            ))
        queries.insert_touches(new_touches, now)
        if completed:
            Enrollment.objects.filter(pk__in=completed, state=EnrollmentState.ACTIVE).update(
                state=EnrollmentState.COMPLETED, ended_at=now, end_reason="completed"
            )
            ended = Enrollment.objects.filter(pk__in=completed).select_related("flow")
            TimelineEvent.objects.bulk_create([left_flow_row(e) for e in ended])
