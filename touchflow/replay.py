"""``touchflow replay``: a real year of purchases through Touchflow on a moving clock
(issue 10).

The store's purchases (imported from the Online Retail file, or already on file) are
met again in the order they happened: at each step of the simulated clock the purchases
of that hour enter their chains, the engine sends what is due (to the null channel),
and customers answer — simulated, from a seeded generator, so a run repeats: check-ins
answered or not, happily or not; managers resolving escalations, mostly within the
deadline; friends signing up with a referral code; review links clicked. At the end it
counts per month what happened, and checks from the messages sent that no customer ever
got more than the store's caps or a message in their quiet hours.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db.models import F

from touchflow.aftercare import actions as check_ins
from touchflow.aftercare import escalations
from touchflow.aftercare.models import CheckInAnswer, Escalation
from touchflow.core import clock
from touchflow.core.channels import NAMES
from touchflow.core.localtime import allowed, zone
from touchflow.customers import referrals
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import Customer, Referral, ReferralState
from touchflow.delivery.channels.registry import configured
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch, TouchState
from touchflow.flows import answers
from touchflow.flows.actions import load_flow_dir
from touchflow.funnel import enrollment
from touchflow.funnel.chains import set_status
from touchflow.funnel.customers import resolve_customer
from touchflow.funnel.importer import ImportOptions, import_purchases
from touchflow.integrations.actor import Actor
from touchflow.purchases.import_mapping import build_mapping
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Role, Staff, Store
from touchflow.timeline import events
from touchflow.timeline.models import EventKind, TimelineEvent

EXAMPLES = Path(__file__).resolve().parent / "flows" / "examples"
STEP = timedelta(hours=1)
TAIL = timedelta(days=35)  # after the last purchase: its check-in and follow-ups

# What simulated people do (seeded): the chance and the delay of each.
ANSWER = 0.55
SCALE_VALUES = (5, 5, 5, 5, 5, 4, 4, 4, 3, 3, 2, 1)
NO = 0.12
RESOLVED_IN_TIME = 0.85
FRIEND = 0.08
CLICK = 0.3
ASKED = ("check_in", "referral_request", "review_request")


@dataclass
class Month:
    check_ins: int = 0
    answered: int = 0
    unhappy: int = 0
    escalations: int = 0
    resolved_in_time: int = 0
    referral_requests: int = 0
    referrals: int = 0
    review_requests: int = 0
    review_clicks: int = 0


@dataclass
class Result:
    months: dict[str, Month]
    purchases: int
    sent: int
    cap_breaches: list[str] = field(default_factory=list)
    quiet_breaches: list[str] = field(default_factory=list)


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    act: Callable[[datetime], object] = field(compare=False)


class _Replay:
    """The moving clock, the engine and the simulated people of one run."""

    def __init__(self, store: Store, seed: int, step: timedelta) -> None:
        self.store, self.rng, self.step = store, random.Random(seed), step
        self.now = datetime.min
        self.pending: list[_Event] = []
        self.seq = itertools.count()
        self.seen = TimelineEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        nowhere = ";".join(f"{name}=null:" for name in NAMES)
        self.dispatcher = Dispatcher(configured(nowhere), now=lambda: self.now)

    def later(self, delay: timedelta, act: Callable[[datetime], object]) -> None:
        heapq.heappush(self.pending, _Event(self.now + delay, next(self.seq), act))

    def run(self, purchases: list[Purchase], log: Callable[[str], None]) -> None:
        if not purchases:
            return
        start = purchases[0].occurred_at.replace(minute=0, second=0, microsecond=0)
        end, queue, month = purchases[-1].occurred_at + TAIL, iter(purchases), ""
        upcoming = next(queue, None)
        with clock.simulated(lambda: self.now):
            self.now = start
            while self.now <= end:
                while upcoming is not None and upcoming.occurred_at <= self.now:
                    enrollment.on_purchase_recorded(upcoming)
                    upcoming = next(queue, None)
                while self.pending and self.pending[0].at <= self.now:
                    heapq.heappop(self.pending).act(self.now)
                self.dispatcher.drain()
                self.observe()
                if self.now.strftime("%Y-%m") != month:
                    month = self.now.strftime("%Y-%m")
                    log(f"{month} …")
                self.now += self.step
        self.dispatcher.close()

    def observe(self) -> None:
        """What went out this step: each sent check-in, referral or review request may
        get its simulated answer."""
        rows = list(TimelineEvent.objects.filter(pk__gt=self.seen, kind=EventKind.TOUCH)
                    .order_by("pk").values_list("pk", "data"))
        if not rows:
            return
        self.seen = rows[-1][0]
        sent = [data["touch"] for _pk, data in rows if data.get("outcome") == "sent"]
        touches = Touch.objects.filter(pk__in=sent, step__kind__in=ASKED).select_related(
            "step", "enrollment").order_by("pk")  # the seeded draws in a fixed order
        for touch in touches:
            getattr(self, f"_{touch.step.kind}")(touch)

    def _check_in(self, touch: Touch) -> None:
        if self.rng.random() >= ANSWER:
            return
        if touch.step.answers == answers.SCALE:
            text = str(self.rng.choice(SCALE_VALUES))
        else:
            text = "Nie" if self.rng.random() < NO else "Tak"
        delay = timedelta(minutes=self.rng.randint(20, 36 * 60))
        self.later(delay, lambda at: self._answer(touch, text, at))

    def _answer(self, touch: Touch, text: str, at: datetime) -> None:
        check_ins.answer_reply(touch.customer_id, touch.store_id, touch.channel, text, at)
        escalation = Escalation.objects.filter(touch=touch, resolved_at__isnull=True).first()
        if escalation is None:
            return
        deadline = escalation.due_at - escalation.opened_at
        share = (self.rng.uniform(0.1, 0.95) if self.rng.random() < RESOLVED_IN_TIME
                 else self.rng.uniform(1.05, 2.0))
        manager = escalation.assignee
        self.later(deadline * share, lambda when: escalations.resolve(
            escalation, manager, "called", "", when) if manager else None)

    def _referral_request(self, touch: Touch) -> None:
        if self.rng.random() >= FRIEND:
            return
        email = f"friend-{touch.pk}@replay.invalid"
        self.later(timedelta(days=self.rng.randint(1, 10)), lambda at: self._friend(
            touch, email, at))

    def _friend(self, touch: Touch, email: str, at: datetime) -> None:
        code = referrals.code_of(touch.customer_id, touch.store_id)
        if code is None:
            return
        friend, created = resolve_customer(
            store=self.store, actor=Actor(source="customer"), at=at,
            contacts=[ContactInput("email", email)], consent=ConsentGrant(contact=True))
        referrals.refer(code, friend, new=created, via="link", at=at)

    def _review_request(self, touch: Touch) -> None:
        if self.rng.random() < CLICK:
            self.later(timedelta(hours=self.rng.randint(1, 48)), lambda at: (
                events.review_link_opened(touch.customer_id, at, store_id=touch.store_id,
                                          touch=touch.pk)))


def run(file: Path, store_slug: str = "replay", seed: int = 7, step: timedelta = STEP,
        log: Callable[[str], None] = lambda line: None) -> Result:
    """Replay ``file``'s year (imported into ``store_slug`` unless it is there already)."""
    store = _store(store_slug)
    _chains()
    if not Purchase.objects.filter(store=store).exists():
        log(f"importing {file} …")
        _import(file, store)
        if not Purchase.objects.filter(store=store).exists():
            raise ValueError(f"{file}: no purchase could be imported; see "
                             "`touchflow import purchases` for why, line by line")
    _contacts(store, random.Random(seed))
    purchases = list(Purchase.objects.filter(store=store).select_related("customer", "store")
                     .order_by("occurred_at", "pk"))
    _Replay(store, seed, step).run(purchases, log)
    return Result(months=_months(store), purchases=len(purchases),
                  sent=_sent(store).count(), cap_breaches=_caps(store),
                  quiet_breaches=_quiet(store))


def _store(slug: str) -> Store:
    store, _created = Store.objects.get_or_create(slug=slug, defaults={
        "name": "Replay (Online Retail)", "country": "GB", "time_zone": "Europe/London",
        "language": "en", "currency": "GBP", "review_url": "https://reviews.example/replay",
    })
    if not Staff.objects.filter(role=Role.MANAGER, stores=store).exists():
        manager = Staff.objects.create_user(username=f"{slug}-manager", role=Role.MANAGER,
                                            email=f"manager@{slug}.invalid")
        manager.stores.add(store)
    return store


def _chains() -> None:
    """Every example chain, the category check-ins too, switched on."""
    for directory in (EXAMPLES, EXAMPLES / "check-ins"):
        results, errors = load_flow_dir(directory)
        if errors:
            raise ValueError("; ".join(str(e) for e in errors))
        for result in results:
            set_status(result.flow, "active")


def _import(file: Path, store: Store) -> None:
    """The file as ``touchflow import purchases`` would, with the clock after its last
    line: history enters no chain (the replay enters each purchase in its hour)."""
    with clock.simulated(lambda: datetime.fromisoformat("2012-01-01T00:00:00+00:00")):
        import_purchases(file, build_mapping(), ImportOptions(store=store))


def _contacts(store: Store, rng: random.Random) -> None:
    """The file has customer ids but no contacts: each customer gets a made-up e-mail
    (``.invalid``: nothing could ever reach it) with consent, half of them to offers."""
    missing = Customer.objects.filter(store_links__store=store,
                                      contacts__isnull=True).order_by("pk")
    for customer in missing:
        resolve_customer(
            store=store, actor=Actor.system("import"), at=customer.created_at,
            external_id=customer.external_ids.filter(store=store).values_list(
                "value", flat=True).first(),
            contacts=[ContactInput("email", f"customer-{customer.pk}@replay.invalid")],
            consent=ConsentGrant(contact=True, marketing=rng.random() < 0.5))


def _sent(store: Store) -> Any:
    return Touch.objects.filter(store=store, state=TouchState.SENT).exclude(channel="call")


def _months(store: Store) -> dict[str, Month]:
    months: dict[str, Month] = defaultdict(Month)

    def add(rows: Iterable[datetime | None], name: str) -> None:
        for at in rows:
            if at is not None:
                setattr(months[at.strftime("%Y-%m")], name,
                        getattr(months[at.strftime("%Y-%m")], name) + 1)

    sent = _sent(store)
    for kind, name in (("check_in", "check_ins"), ("referral_request", "referral_requests"),
                       ("review_request", "review_requests")):
        add(sent.filter(step__kind=kind).values_list("finished_at", flat=True), name)
    answers = CheckInAnswer.objects.filter(store=store)
    add(answers.values_list("answered_at", flat=True), "answered")
    add(answers.filter(mood="unhappy").values_list("answered_at", flat=True), "unhappy")
    raised = Escalation.objects.filter(store=store)
    add(raised.values_list("opened_at", flat=True), "escalations")
    add(raised.filter(resolved_at__lte=F("due_at")).values_list("opened_at", flat=True),
        "resolved_in_time")
    add(Referral.objects.filter(store=store, state=ReferralState.COUNTED)
        .values_list("at", flat=True), "referrals")
    add(TimelineEvent.objects.filter(store=store, kind=EventKind.REVIEW_CLICK)
        .values_list("at", flat=True), "review_clicks")
    return dict(sorted(months.items()))


def _caps(store: Store) -> list[str]:
    """Customers who got more within a cap period than the store allows."""
    period = timedelta(days=store.cap_period_days)
    breaches = []
    by_customer: dict[int, list[tuple[datetime, bool]]] = defaultdict(list)
    for customer_id, at, commercial in _sent(store).values_list(
            "customer_id", "finished_at", "commercial"):
        by_customer[customer_id].append((at, commercial))
    for customer_id, sends in by_customer.items():
        sends.sort()
        for limit, only in ((store.cap_messages, False), (store.cap_commercial, True)):
            times = [at for at, commercial in sends if commercial or not only]
            worst = max((_within(times, i, period) for i in range(len(times))), default=0)
            if worst > limit:
                breaches.append(f"customer {customer_id}: {worst} "
                                f"{'offers' if only else 'messages'} within {period.days} days")
    return breaches


def _within(times: list[datetime], i: int, period: timedelta) -> int:
    """How many of the sorted ``times`` fall in the period ending at ``times[i]``."""
    return sum(1 for at in times[: i + 1] if at > times[i] - period)


def _quiet(store: Store) -> list[str]:
    """Messages sent in their customer's quiet hours."""
    quiet = (store.quiet_hours_start, store.quiet_hours_end)
    zones = dict(Customer.objects.filter(store_links__store=store)
                 .values_list("pk", "time_zone"))
    return [f"touch {pk} at {at.isoformat()}"
            for pk, customer_id, at in _sent(store).values_list("pk", "customer_id",
                                                                "finished_at")
            if not allowed(at.astimezone(zone(zones.get(customer_id) or store.time_zone)),
                           quiet, None)]


def totals(result: Result) -> Month:
    """Every month added up."""
    counter: Counter[str] = Counter()
    for month in result.months.values():
        counter.update(vars(month))
    return Month(**counter)
