"""The replay of issue 13: weeks of a shop's life on a driven clock, then the rules are
checked against what the providers actually received.

Three stores in three time zones, each with its own quiet hours and caps; 200
customers in five time zones (most in their store's, some in another store's, in
Sydney or in Tokyo) with a phone, an e-mail address or both. Customers enter the
example chains and a commercial one through visits and purchases spread over the
replay; a few send STOP on SMS along the way. The clock moves in STEP increments and
two dispatchers (two owners, small batches, so one customer's touches land in
different hands) drain the queue at every step: at the same time on their own threads
and connections on PostgreSQL, taking turns on SQLite.

Two windows, 37 and 42 days (79 replayed days in all), each crossing a daylight-saving
change of every zone that has one: the
spring window the American (8 March), European (29 March) and Australian (5 April)
changes, the autumn window the Australian (4 October), European (25 October) and
American (1 November) ones.

Then, from the sends (touch rows, cross-checked one to one with the two recording
sinks, whose arrivals are stamped with the driven clock's value at the step they came
in), no customer got more than a store's cap within its period, nothing went out in
quiet hours on the customer's own wall clock (computed here with zoneinfo, not with
the engine's code), nothing went out of a step's send window, and nothing went on SMS
to a customer after their STOP there.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection

from tests.delivery.conftest import EXAMPLES, Clock
from tests.servers import Sink, http_sink
from touchflow.customers.actions import ConsentGrant, ContactInput, check_contact
from touchflow.customers.models import ContactPoint, Customer
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch, TouchState
from touchflow.flows.actions import load_flow_dir, load_flow_text
from touchflow.funnel.chains import set_status
from touchflow.funnel.optout import opt_out
from touchflow.funnel.purchases import record_purchase
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging.outbound import from_settings
from touchflow.stores.models import Staff, Store

STEP = timedelta(minutes=30)
CUSTOMERS = 200

# (first instant, days, seed): each window crosses every daylight-saving change of the
# year's half, in all the zones below that have one, with sends on both sides of each.
WINDOWS = {
    "spring": (datetime(2026, 3, 3, tzinfo=UTC), 37, 13),
    "autumn": (datetime(2026, 9, 24, tzinfo=UTC), 42, 31),
}


@dataclass(frozen=True)
class StoreSpec:
    slug: str
    time_zone: str
    country: str
    currency: str
    language: str
    phone: str  # a format for a valid local mobile number, from a serial number
    quiet: tuple[time, time]
    cap_messages: int
    cap_commercial: int
    cap_period_days: int


STORES = (
    StoreSpec("warsaw", "Europe/Warsaw", "PL", "PLN", "pl", "+48501{:06d}",
              (time(21, 0), time(9, 0)), 2, 1, 7),
    StoreSpec("london", "Europe/London", "GB", "GBP", "en", "+447400{:06d}",
              (time(20, 0), time(10, 0)), 3, 1, 5),
    StoreSpec("new-york", "America/New_York", "US", "USD", "en", "+1201555{:04d}",
              (time(22, 30), time(8, 30)), 3, 2, 10),
)
# The customers' own zones: most live by their store, some far from it.
ZONES = ("Europe/Warsaw", "Europe/London", "America/New_York", "Australia/Sydney",
         "Asia/Tokyo")

# A commercial chain entered on any visit or purchase: an offer soon after, a second
# one (deferred, not skipped, when capped) and a plain message in between, so that
# customers in several chains at once press against both caps.
OFFERS = """\
slug: spring-offers
name: Offers
audience:
  trigger: [visit, purchase]
  visit_class: [type1, type3]
exit_on: [opt_out]
steps:
  - key: new-arrivals
    kind: info
    after: 5h
    channels: [sms, email]
    expires: 4d
    message:
      en: {subject: New arrivals, text: "New arrivals at {{ store.name }}."}
  - key: first-offer
    kind: offer
    after: 1d
    at: "18:00"
    channels: [sms, email]
    expires: 10d
    message:
      en: {subject: An offer, text: "10% off this week. Unsubscribe: {{ unsubscribe_url }}"}
  - key: last-call
    kind: offer
    after: 2d
    at: "09:30"
    channels: [email, sms]
    expires: 10d
    message:
      en: {subject: Last days, text: "Last days of the offer. Unsubscribe: {{ unsubscribe_url }}"}
"""

# Two chains whose only step falls due at the same instant for a customer who enters
# both: on PostgreSQL the two touches may be judged by both dispatchers at once, and the
# caps must still count one against the other.
SALE_DAY = """\
slug: sale-day-{n}
name: Sale day {n}
audience:
  trigger: [visit, purchase]
  visit_class: [type1, type3]
steps:
  - key: sale-day-{n}
    kind: info
    after: 1d
    at: "10:00"
    channels: [sms, email]
    expires: 2d
    message:
      en: {{subject: Sale day, text: "Sale day {n} at {{{{ store.name }}}}."}}
"""


# -- the plan: who does what when, decided up front from a seed --------------------------


@dataclass(frozen=True)
class Person:
    number: int
    store: StoreSpec
    time_zone: str
    phone: str | None
    email: str | None
    marketing: bool


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # "visit" (did not buy), "bought" (a visit with a sale), "purchase", "stop"
    person: Person
    store: StoreSpec


def on_grid(moment: datetime, start: datetime) -> datetime:
    """The first step of the clock at or after ``moment``."""
    steps = -(-(moment - start) // STEP)
    return start + steps * STEP


def store_hours(rng: random.Random, day: datetime, store: StoreSpec) -> datetime:
    """A moment between 10:00 and 19:00 on the store's own clock on ``day``'s date."""
    local = datetime.combine(day.date(), time(rng.randint(10, 18), rng.choice((0, 20, 40))),
                             ZoneInfo(store.time_zone))
    return local.astimezone(UTC)


def make_people(rng: random.Random) -> list[Person]:
    people = []
    for n in range(CUSTOMERS):
        store = STORES[n % len(STORES)]
        zone = store.time_zone if rng.random() < 0.7 else rng.choice(ZONES)
        reach = n % 3  # 0: a phone, 1: an e-mail address, 2: both
        phone = store.phone.format(n) if reach != 1 else None
        email = f"client{n}@example.com" if reach != 0 else None
        people.append(Person(n, store, zone, phone, email, rng.random() < 0.6))
    return people


def person_events(rng: random.Random, person: Person, start: datetime, days: int) -> list[Event]:
    """A first visit in the first two thirds of the window, then perhaps a purchase at
    the same store, one at another store, and a STOP on SMS."""
    first = store_hours(rng, start + timedelta(days=rng.randint(0, days * 2 // 3)), person.store)
    bought = rng.random() < 0.3
    events = [Event(first, "bought" if bought else "visit", person, person.store)]
    if not bought and rng.random() < 0.35:
        later = start + timedelta(days=(first - start).days + rng.randint(1, 10))
        events.append(Event(store_hours(rng, later, person.store), "purchase", person,
                            person.store))
    if rng.random() < 0.15:
        other = rng.choice([s for s in STORES if s != person.store])
        later = start + timedelta(days=(first - start).days + rng.randint(1, 8))
        events.append(Event(store_hours(rng, later, other), "purchase", person, other))
    if person.phone and rng.random() < 0.12:
        stop = first + timedelta(days=rng.randint(1, 12), minutes=rng.randint(0, 1440))
        events.append(Event(stop, "stop", person, person.store))
    return events


def make_plan(start: datetime, days: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    events = [
        e for p in make_people(rng) for e in person_events(rng, p, start, days)
    ]
    end = start + timedelta(days=days)
    return sorted(
        (Event(on_grid(e.at, start), e.kind, e.person, e.store) for e in events
         if e.at < end),
        key=lambda e: (e.at, e.person.number, e.kind),
    )


# -- the world: stores, staff, chains -----------------------------------------------------


@dataclass
class World:
    stores: dict[str, Store]
    staff: dict[str, Staff]
    customers: dict[int, int] = field(default_factory=dict)  # person → customer id
    stops: dict[int, datetime] = field(default_factory=dict)  # customer id → STOP at


def build_world(make_staff: Callable[..., Staff]) -> World:
    stores = {
        s.slug: Store.objects.create(
            name=f"Store {s.slug}", slug=s.slug, country=s.country, time_zone=s.time_zone,
            language=s.language, currency=s.currency, quiet_hours_start=s.quiet[0],
            quiet_hours_end=s.quiet[1], cap_messages=s.cap_messages,
            cap_commercial=s.cap_commercial, cap_period_days=s.cap_period_days,
        )
        for s in STORES
    }
    staff = {slug: make_staff(stores=[store]) for slug, store in stores.items()}
    results, errors = load_flow_dir(EXAMPLES)
    assert errors == []
    for result in results:
        set_status(result.flow, "active")
    for n, text in enumerate((OFFERS, SALE_DAY.format(n=1), SALE_DAY.format(n=2))):
        set_status(load_flow_text(text, f"chain-{n}.yaml").flow, "active")
    return World(stores, staff)


def contacts_of(person: Person) -> list[ContactInput]:
    region = person.store.country
    found = []
    if person.phone:
        found.append(check_contact("phone", person.phone, region=region))
    if person.email:
        found.append(check_contact("email", person.email, region=None))
    return found


def happen(event: Event, world: World) -> None:
    """Carry out one event of the plan at the clock's present moment."""
    person, store = event.person, world.stores[event.store.slug]
    staff = world.staff[event.store.slug]
    actor = Actor(source="counter", staff=staff)
    if event.kind in ("visit", "bought"):
        bought = event.kind == "bought"
        visit, _ = log_visit(
            store=store, actor=actor, bought=bought,
            reason=None if bought else "just_looking", contact_capture="taken",
            contacts=contacts_of(person), name=f"Client {person.number}",
            consent=ConsentGrant(contact=True, marketing=person.marketing),
            # The counter gives a zone only for a customer who lives away from the store.
            time_zone=None if person.time_zone == store.time_zone else person.time_zone,
        )
        assert visit.customer_id is not None  # contacts were taken: a customer is on file
        world.customers[person.number] = visit.customer_id
    elif event.kind == "purchase":
        customer = Customer.objects.get(pk=world.customers[person.number])
        record_purchase(store=store, actor=actor, customer=customer, amount="120.00")
    elif event.kind == "stop":
        customer_id = world.customers[person.number]
        opt_out(customer_id, "sms", all_channels=False, at=event.at)
        world.stops[customer_id] = event.at


# -- the replay ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """A request a sink accepted, stamped with the driven clock at its step."""

    channel: str
    address: str
    key: str
    at: datetime


@dataclass
class Recorder:
    sinks: dict[str, Sink]
    seen: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    arrivals: list[Arrival] = field(default_factory=list)

    def collect(self, at: datetime) -> None:
        """Stamp what arrived since the last step with this step's moment: the clock
        does not move while the dispatchers drain."""
        for channel, sink in self.sinks.items():
            with sink.lock:
                new = list(zip(sink.received[self.seen[channel]:],
                               sink.keys[self.seen[channel]:], strict=True))
            self.seen[channel] += len(new)
            self.arrivals.extend(Arrival(channel, body["to"], key, at) for body, key in new)


def drain_in_turns(dispatchers: Sequence[Dispatcher]) -> Counter[str]:
    """Rounds in turn until no dispatcher finds anything due (SQLite: one writer).
    Returns how many messages each dispatcher sent."""
    sent: Counter[str] = Counter()
    busy = True
    while busy:
        busy = False
        for dispatcher in dispatchers:
            stats = dispatcher.run_round()
            sent[dispatcher.owner] += stats.outcomes["sent"]
            busy = stats.claimed > 0 or busy
    return sent


class Together:
    """Every dispatcher drains at once, each on a thread and database connection of its
    own for the whole replay, as worker processes do: one customer's touches may be in
    two hands at the same time, and only the per-customer lock keeps the caps."""

    def __init__(self, dispatchers: Sequence[Dispatcher]) -> None:
        parties = len(dispatchers) + 1
        self._go, self._done = threading.Barrier(parties), threading.Barrier(parties)
        self._stopping = False
        self._errors: list[BaseException] = []
        self._sent: Counter[str] = Counter()
        self._threads = [threading.Thread(target=self._serve, args=(d,)) for d in dispatchers]
        for thread in self._threads:
            thread.start()

    def _serve(self, dispatcher: Dispatcher) -> None:
        try:
            while True:
                self._go.wait()
                if self._stopping:
                    return
                try:
                    self._sent[dispatcher.owner] = dispatcher.drain().outcomes["sent"]
                except BaseException as exc:  # noqa: BLE001 - raised on the test's thread
                    self._errors.append(exc)
                self._done.wait()
        finally:
            connection.close()

    def __call__(self, dispatchers: Sequence[Dispatcher]) -> Counter[str]:
        self._sent.clear()
        self._go.wait()
        self._done.wait()
        if self._errors:
            raise self._errors[0]
        return Counter(self._sent)

    def close(self) -> None:
        self._stopping = True
        self._go.wait()
        for thread in self._threads:
            thread.join()


# Drains the queue with the dispatchers; says how many messages each one sent.
Drain = Callable[[Sequence[Dispatcher]], Counter[str]]


def replay(plan: list[Event], world: World, dispatchers: Sequence[Dispatcher], drain: Drain,
           recorder: Recorder, clock: Clock, start: datetime, days: int) -> Counter[str]:
    """Step the clock through the window; returns how many messages each dispatcher sent."""
    sent: Counter[str] = Counter()
    pending = iter(plan)
    upcoming = next(pending, None)
    moment, end = start, start + timedelta(days=days)
    while moment <= end:
        clock.move_to(moment)
        while upcoming is not None and upcoming.at <= moment:
            happen(upcoming, world)
            upcoming = next(pending, None)
        sent += drain(dispatchers)
        recorder.collect(moment)
        moment += STEP
    return sent


# -- what was sent ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    customer_id: int
    store_id: int
    channel: str
    key: str
    at: datetime
    commercial: bool
    time_zone: str
    window: tuple[time, time] | None
    step: str


def sent_touches() -> list[Sent]:
    rows = Touch.objects.filter(state=TouchState.SENT).values_list(
        "customer_id", "store_id", "channel", "idempotency_key", "finished_at", "commercial",
        "customer__time_zone", "step__window_start", "step__window_end", "step__key",
    )
    sent = []
    for c, s, ch, k, at, com, tz, ws, we, step in rows:
        assert at is not None, f"touch {k} is sent but has no finished_at"
        sent.append(Sent(c, s, ch, k, at, com, tz, (ws, we) if ws and we else None, step))
    return sent


def addresses() -> dict[tuple[str, str], int]:
    """(contact kind, value) → customer id."""
    return {(k, v): c for c, k, v in ContactPoint.objects.values_list("customer_id", "kind",
                                                                       "value")}


# -- the checks: each returns the breaches it found, as readable lines ---------------------


def mismatches_with_sinks(sent: Sequence[Sent], arrivals: Sequence[Arrival]) -> list[str]:
    """Every sent touch arrived exactly once, on its channel, at its finished_at, at an
    address of its customer; and nothing arrived that no sent touch accounts for."""
    kinds = {"sms": "phone", "email": "email"}
    owner = addresses()
    by_key = {s.key: s for s in sent}
    counted = Counter(a.key for a in arrivals)
    problems = [f"{key} arrived {n} times" for key, n in counted.items() if n > 1]
    problems += [f"touch {s.key} sent but never arrived" for s in sent if s.key not in counted]
    for a in arrivals:
        s = by_key.get(a.key)
        if s is None:
            problems.append(f"{a} arrived but no sent touch has its key")
        elif (a.channel, a.at, owner.get((kinds[a.channel], a.address))) != (
            s.channel, s.at, s.customer_id
        ):
            problems.append(f"{a} does not match {s}")
    return problems


def in_range(t: time, start: time, end: time) -> bool:
    """Is ``t`` in [start, end)? A range that ends before it starts wraps midnight."""
    if start <= end:
        return start <= t < end
    return t >= start or t < end


def quiet_hour_breaches(sent: Iterable[Sent], stores: dict[int, Store]) -> list[str]:
    breaches = []
    for s in sent:
        store = stores[s.store_id]
        local = s.at.astimezone(ZoneInfo(s.time_zone))
        if in_range(local.time(), store.quiet_hours_start, store.quiet_hours_end):
            breaches.append(f"{s.step} to customer {s.customer_id} at {local.isoformat()} "
                            f"({store.slug} is quiet from {store.quiet_hours_start})")
    return breaches


def window_breaches(sent: Iterable[Sent]) -> list[str]:
    return [
        f"{s.step} to customer {s.customer_id} at {s.at.astimezone(ZoneInfo(s.time_zone))}"
        for s in sent
        if s.window is not None
        and not in_range(s.at.astimezone(ZoneInfo(s.time_zone)).time(), *s.window)
    ]


def over_cap(times: Sequence[datetime], at: datetime, period: timedelta, cap: int) -> bool:
    """More than ``cap`` of ``times`` in the period that ends at ``at`` (a message
    leaves the count ``period`` after it was sent)."""
    return sum(1 for t in times if at - period < t <= at) > cap


def cap_breaches(sent: Sequence[Sent], stores: dict[int, Store]) -> list[str]:
    """Caps count a customer's messages across all chains and stores; the limit is that
    of the store whose touch went out."""
    everything: dict[int, list[datetime]] = defaultdict(list)
    offers: dict[int, list[datetime]] = defaultdict(list)
    for s in sent:
        everything[s.customer_id].append(s.at)
        if s.commercial:
            offers[s.customer_id].append(s.at)
    breaches = []
    for s in sent:
        store = stores[s.store_id]
        period = timedelta(days=store.cap_period_days)
        if over_cap(everything[s.customer_id], s.at, period, store.cap_messages):
            breaches.append(f"customer {s.customer_id}: {s.step} at {s.at} over "
                            f"{store.cap_messages} messages in {period.days} days")
        if s.commercial and over_cap(offers[s.customer_id], s.at, period,
                                     store.cap_commercial):
            breaches.append(f"customer {s.customer_id}: {s.step} at {s.at} over "
                            f"{store.cap_commercial} offers in {period.days} days")
    return breaches


def sends_after_stop(sent: Iterable[Sent], arrivals: Iterable[Arrival],
                     stops: dict[int, datetime]) -> list[str]:
    """Nothing on SMS at or after the customer's STOP there: neither in the touch rows
    nor at the SMS sink (by the phone numbers of the customers who stopped)."""
    breaches = [
        f"{s.step} on sms to customer {s.customer_id} at {s.at}, STOP at {stops[s.customer_id]}"
        for s in sent
        if s.channel == "sms" and s.customer_id in stops and s.at >= stops[s.customer_id]
    ]
    owner = addresses()
    for a in arrivals:
        customer_id = owner.get(("phone", a.address))
        if a.channel == "sms" and customer_id in stops and a.at >= stops[customer_id]:
            breaches.append(f"the SMS sink got {a.address} at {a.at} after its STOP")
    return breaches


# -- that the replay tested something ------------------------------------------------------


def offsets_seen(sent: Iterable[Sent]) -> dict[str, set[timedelta | None]]:
    """The UTC offsets of the customers' wall clocks at the moments they were sent to."""
    seen: dict[str, set[timedelta | None]] = defaultdict(set)
    for s in sent:
        seen[s.time_zone].add(s.at.astimezone(ZoneInfo(s.time_zone)).utcoffset())
    return seen


def capped() -> int:
    """Touches the caps held back for good (skipped, or expired while deferred) or still
    hold back; a deferred touch that went later no longer says so."""
    return Touch.objects.filter(reason="capped").count()


# -- the test -----------------------------------------------------------------------------


@pytest.fixture
def sinks() -> Iterator[dict[str, tuple[Sink, str]]]:
    with ExitStack() as stack:
        yield {name: stack.enter_context(http_sink()) for name in ("sms", "email")}


@pytest.fixture
def dispatchers(
    sinks: dict[str, tuple[Sink, str]], clock: Clock
) -> Iterator[list[Dispatcher]]:
    spec = ";".join(f"{name}={url}" for name, (_sink, url) in sinks.items())
    made = [
        Dispatcher(from_settings(spec), owner=f"replay-{n}", now=clock.now, batch_size=4,
                   tick=0.002)
        for n in ("a", "b")
    ]
    yield made
    for dispatcher in made:
        dispatcher.close()


@pytest.fixture
def drain(dispatchers: list[Dispatcher]) -> Iterator[Drain]:
    """Several workers share one queue at the same time only on PostgreSQL."""
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        yield drain_in_turns
        return
    together = Together(dispatchers)
    try:
        yield together
    finally:
        together.close()


@pytest.mark.parametrize("window", list(WINDOWS))
def test_weeks_of_visits_break_no_cap_quiet_hours_or_stop(
    window: str,
    transactional_db: None,
    clock: Clock,
    make_staff: Callable[..., Staff],
    sinks: dict[str, tuple[Sink, str]],
    dispatchers: list[Dispatcher],
    drain: Drain,
) -> None:
    start, days, seed = WINDOWS[window]
    clock.move_to(start)
    world = build_world(make_staff)
    recorder = Recorder({name: sink for name, (sink, _url) in sinks.items()})
    by_worker = replay(make_plan(start, days, seed), world, dispatchers, drain, recorder,
                       clock, start, days)

    sent = sent_touches()
    stores = {s.pk: s for s in world.stores.values()}
    assert mismatches_with_sinks(sent, recorder.arrivals) == []
    assert cap_breaches(sent, stores) == []
    assert quiet_hour_breaches(sent, stores) == []
    assert window_breaches(sent) == []
    assert sends_after_stop(sent, recorder.arrivals, world.stops) == []

    # Not vacuous: plenty went out on both channels, through both dispatchers, on both
    # sides of each daylight-saving change, the caps held touches back, and customers
    # who sent STOP had received SMS before it.
    assert len(sent) > 400
    assert sum(by_worker.values()) == len(sent)
    assert min(by_worker[d.owner] for d in dispatchers) > 50, by_worker
    assert {s.channel for s in sent} == {"sms", "email"}
    for zone in ("Europe/Warsaw", "Europe/London", "America/New_York", "Australia/Sydney"):
        assert len(offsets_seen(sent)[zone]) == 2, zone
    assert capped() > 20
    stopped_had_sms = {s.customer_id for s in sent if s.channel == "sms"} & set(world.stops)
    assert len(stopped_had_sms) >= 3
