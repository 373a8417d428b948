"""The judge stage: what becomes of each touch a worker is about to let go.

For a touch whose customer is locked and whose consent and recent sends were just
read (``batch.fresh``): an outcome (cancelled, parked, left on purchase, uncertain
after a crash, deferred, dropped, a call task, a dead letter for a template that does
not render) or a ``Flight`` — the rendered message and the route it leaves by. The
verdict itself is the pure ``policies.judge``; this module feeds it and carries it out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from touchflow.core import channels
from touchflow.customers import referrals
from touchflow.delivery import batch as context
from touchflow.delivery import transitions
from touchflow.delivery.batch import Fresh
from touchflow.delivery.channels.base import Channel, OutgoingMessage, accepts, serves
from touchflow.delivery.channels.base import route as channel_route
from touchflow.delivery.due import Due
from touchflow.delivery.models import CallTask, TouchState
from touchflow.delivery.policies import (
    Contact,
    Defer,
    Drop,
    Recent,
    Send,
    Verdict,
    judge,
)
from touchflow.delivery.render import (
    Links,
    Rendered,
    Renderer,
    message_context,
)
from touchflow.delivery.sending import Flight
from touchflow.delivery.transitions import Outcome, Reason
from touchflow.flows import answers
from touchflow.flows.models import EnrollmentState, FlowStatus, FlowStep
from touchflow.flows.schedule import Policy, ended_by_purchase


@dataclass
class Known:
    """What the worker read once about the touches it holds (merged across claims)."""

    last_purchase: dict[int, datetime] = field(default_factory=dict)
    steps_by_flow: dict[int, list[FlowStep]] = field(default_factory=dict)
    policies: dict[int, Policy] = field(default_factory=dict)
    managers: dict[int, int] = field(default_factory=dict)

    def longest_cap_period(self) -> timedelta:
        """How far back the caps of the stores held look."""
        return max((p.cap_period for p in self.policies.values()), default=timedelta(0))

    def add(self, loaded: context.Batch) -> None:
        self.last_purchase.update(loaded.last_purchase)
        self.steps_by_flow.update(loaded.steps_by_flow)
        self.policies.update(loaded.policies)
        self.managers.update(loaded.managers)


class Judge:
    def __init__(self, channels: Mapping[str, Channel], known: Known) -> None:
        self.channels = channels
        self.known = known
        self.renderer = Renderer()
        self._serving: dict[int, list[str]] = {}
        # Each store's ``accepts`` (made once per store, not per touch).
        self._accepting: dict[int, Callable[[str, Contact], bool]] = {}
        self._links = Links()

    def new_group(self) -> None:
        """A store's new account is seen from the next group on, and so are the links'
        settings (read once a group, not per message)."""
        self._serving = {}
        self._links = Links()

    def can_fall_back(self, touch: Due, now: datetime) -> bool:
        """Whether another of the step's channels could carry the touch once this one
        refused the address."""
        contacts = context.contacts_of([touch.customer_id])
        verdict = self._verdict(
            touch, contacts.get(touch.customer_id, []), Recent(), now,
            failed=(*touch.failed(), touch.channel),
        )
        return not isinstance(verdict, Drop)

    def decide(
        self, touch: Due, fresh: Fresh, recent: Mapping[int, Recent], now: datetime
    ) -> Outcome | Flight:
        """What becomes of one touch now: an outcome to write, or a flight to let go."""
        enrollment = touch.enrollment
        flow = enrollment.flow
        if enrollment.state != EnrollmentState.ACTIVE:
            return transitions.drop(touch, now, TouchState.CANCELLED,
                                    enrollment.end_reason or "ended")
        if flow.status != FlowStatus.ACTIVE:
            return transitions.park(touch)
        purchased = self.known.last_purchase.get(touch.customer_id)
        if purchased is not None and ended_by_purchase(
            flow.exit_on, enrollment.entered_at, purchased
        ):
            return transitions.left_on_purchase(touch, now, purchased)
        if touch.in_flight_at is not None and not self._may_repeat(touch):
            return transitions.uncertain(
                touch, now, touch.last_error or "in flight when its worker stopped",
                Reason.IN_FLIGHT_AT_CRASH,
            )
        contacts = fresh.contacts.get(touch.customer_id, [])
        verdict = self._verdict(touch, contacts, recent.get(touch.customer_id, Recent()), now,
                                held=touch.customer_id in fresh.held)
        if isinstance(verdict, Send):
            return self._flight(touch, verdict, now)
        if isinstance(verdict, Defer):
            return transitions.requeue(touch, verdict.until, verdict.reason)
        if isinstance(verdict, Drop):
            return transitions.drop(touch, now, verdict.state, verdict.reason)
        return transitions.task(touch, now, self._call_task(touch, contacts, now))

    def _verdict(
        self, touch: Due, contacts: Sequence[Contact], recent: Recent, now: datetime,
        failed: tuple[str, ...] | None = None, held: bool = False,
    ) -> Verdict:
        step = touch.step
        store_id = touch.store_id
        accepting = self._accepting.get(store_id)
        if accepting is None:
            accepting = self._accepting[store_id] = partial(self._accepts, store_id)
        return judge(
            now=now,
            kind=step.kind,
            expires_at=touch.expires_at,
            tz_name=touch.customer.time_zone,
            policy=self.known.policies[touch.store_id],
            window_start=step.window_start,
            window_end=step.window_end,
            preferences=step.channels,
            contacts=contacts,
            available=self._available(store_id),
            commercial=touch.commercial,
            when_capped=step.when_capped,
            recent=recent,
            failed=touch.failed() if failed is None else failed,
            accepts=accepting,
            held=held,
        )

    def _available(self, store_id: int) -> list[str]:
        """The channels a store can send on (asked once per store and group)."""
        found = self._serving.get(store_id)
        if found is None:
            found = self._serving[store_id] = [
                n for n, ch in self.channels.items() if serves(ch, store_id)
            ]
        return found

    def _accepts(self, store_id: int, channel_name: str, contact: Contact) -> bool:
        return accepts(self.channels[channel_name], contact, store_id)

    def _may_repeat(self, touch: Due) -> bool:
        """A touch claimed while in flight may go again only where its provider drops
        a repeat of the same idempotency key."""
        channel = self.channels.get(touch.channel)
        if channel is None:
            return False
        probe = OutgoingMessage(touch.pk, touch.idempotency_key, touch.channel, "", "",
                                store_id=touch.store_id)
        return channel_route(channel, probe).honours_keys

    def _flight(self, touch: Due, verdict: Send, now: datetime) -> Outcome | Flight:
        touch.channel = verdict.channel
        try:
            message = self._message(touch, verdict)
        except Exception as exc:  # noqa: BLE001 - reported on the touch, never a crash
            return transitions.dead(touch, now, f"template: {exc}", Reason.TEMPLATE)
        route = channel_route(self.channels[verdict.channel], message)
        return Flight(touch, route, message)

    @staticmethod
    def _seller_name(touch: Due) -> str:
        seller = touch.enrollment.staff
        return (seller.get_full_name() or seller.username) if seller else ""

    def _links_of(self, touch: Due, channel: str) -> tuple[str, str, str, str, str]:
        """The touch's own values of its message: unsubscribe and rating links, referral
        code and link, review link (``message_context``'s last five)."""
        kind = touch.step.kind
        links = self._links
        code = (referrals.code_of(touch.customer.pk, touch.store_id)
                if kind == "referral_request" else None)
        return (
            links.unsubscribe(touch.customer.pk, channel, touch.store_id),
            links.rating(touch.pk) if touch.step.answers else "",
            code.code if code else "",
            referrals.link(code) if code else "",
            links.review(touch.pk) if kind == "review_request" else "",
        )

    def _context(self, touch: Due, channel: str) -> dict[str, object]:
        """What the touch's templates see: the one definition validation also uses."""
        unsubscribe, rating, code, referral, review = self._links_of(touch, channel)
        return message_context(
            touch.customer.name, touch.store.name, self._seller_name(touch), unsubscribe,
            rating, referral_code=code, referral_url=referral, review_url=review,
        )

    def _render(self, touch: Due, channel: str) -> tuple[Rendered, str]:
        """The touch's message and its unsubscribe link. A plain template is filled in
        from its store's and seller's ``Form`` (made once for all their customers);
        any other is rendered with the whole context."""
        step = touch.step
        customer = touch.customer
        lang = self.renderer.pick_language(step.messages, customer.language,
                                           touch.store.language)
        form = self.renderer.form(step.messages[lang], touch.store.name,
                                  self._seller_name(touch))
        if form is None:
            context_ = self._context(touch, channel)
            rendered = self.renderer.render(step.messages, customer.language,
                                            touch.store.language, context_, channel,
                                            step.answers)
            return rendered, str(context_["unsubscribe_url"])
        links = self._links_of(touch, channel)
        return form.render(lang, customer.name, links, channel, step.answers), links[0]

    def _message(self, touch: Due, route: Send) -> OutgoingMessage:
        rendered, unsubscribe = self._render(touch, route.channel)
        return OutgoingMessage(
            touch_id=touch.pk,
            idempotency_key=touch.idempotency_key,
            channel=route.channel,
            address=route.address,
            text=rendered.text,
            subject=rendered.subject,
            language=rendered.language,
            store_id=touch.store_id,
            unsubscribe_url=unsubscribe,
            quick_replies=(answers.labels(touch.step.answers, rendered.language)
                           if channels.get(route.channel).buttons else ()),
        )

    def _call_task(self, touch: Due, contacts: Iterable[Contact], now: datetime) -> CallTask:
        enrollment = touch.enrollment
        assignee = enrollment.staff_id if touch.step.assignee == "seller" else None
        assignee = assignee or self.known.managers.get(touch.store_id)
        phone = next(
            (c.value for c in contacts if c.kind == "phone" and c.contact_consent is True), ""
        )
        try:
            script = self.renderer.render(
                touch.step.messages, touch.customer.language, touch.store.language,
                {**self._context(touch, "call"), "unsubscribe_url": ""}, "call",
            ).text
        except Exception as exc:  # noqa: BLE001
            script = f"(script could not be rendered: {exc})"
        return CallTask(
            touch_id=touch.pk, customer_id=touch.customer_id, store_id=touch.store_id,
            assignee_id=assignee, phone=phone, script=script, due_at=now,
        )
