"""Demo data: two stores, staff of every role, a few hundred customers with history.

Everything goes through the domain actions, so the demo obeys the same rules as
real use (classification, de-duplication, consent, timeline). The history ends at the
moment of loading, the delivery engine is replayed over its last weeks, and the day's
last visitors are thanked minutes after loading (docs/decisions/0011). Loading is
deterministic for a seed and a load time, and does nothing when the demo is there.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import phonenumbers
from django.db import transaction
from django.db.models import Min
from rich.console import Console
from rich.progress import Progress

from touchflow.core import clock
from touchflow.core.channels import NAMES
from touchflow.core.localtime import at_local, zone
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import Customer
from touchflow.delivery.dispatcher import Dispatcher
from touchflow.delivery.models import Touch, TouchState
from touchflow.flows.actions import load_flow_dir
from touchflow.flows.models import Flow, FlowStatus
from touchflow.flows.queries import forget_active_flows
from touchflow.funnel.chains import set_status
from touchflow.funnel.purchases import record_purchase
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging.outbound import from_settings
from touchflow.stores.models import Category, Role, Staff, Store
from touchflow.visits.classification import ContactCapture

PASSWORD = "touchflow-demo"
EXAMPLE_FLOWS = Path(__file__).resolve().parent / "flows" / "examples"
DAYS = 150
# Minutes after loading when the thank-yous to the day's last visitors fall due.
TODAY = (2, 3, 5, 8, 12, 17, 23, 30, 38, 47)
REPLAY_STEP = timedelta(minutes=1)
# The shipped chains went live this many days before the demo is loaded: older visits
# are history without messages (else months of call tasks would wait in the inbox).
CHAINS_DAYS = 21
OBJECTIVE = ("just_looking", "just_looking", "price_difference", "credit_refused")
SELLER_ERRORS = ("too_pushy", "too_passive", "wrong_sales_tool", "weak_product_knowledge")
# The demo stores' opening hours, on their own clocks: visits three hours before a
# thank-you due at 10:00 (the warming chain's window opens then) fall inside them.
OPEN, CLOSE = time(7, 0), time(20, 0)


@dataclass(frozen=True)
class Names:
    """A language's given names by gender and its surnames as (a man's, a woman's) form:
    Kowalski/Kowalska, Иванов/Иванова; English surnames have one form."""

    language: str
    women: tuple[str, ...]
    men: tuple[str, ...]
    surnames: tuple[tuple[str, str], ...]

    def pick(self, rng: random.Random) -> str:
        woman = rng.random() < 0.5
        first = rng.choice(self.women if woman else self.men)
        surname = rng.choice(self.surnames)[1 if woman else 0]
        return f"{first} {surname}"


POLISH = Names(
    "pl",
    ("Anna", "Katarzyna", "Magdalena", "Agnieszka", "Małgorzata", "Zofia"),
    ("Piotr", "Tomasz", "Michał", "Paweł", "Krzysztof", "Łukasz"),
    (
        ("Nowak", "Nowak"),
        ("Kowalski", "Kowalska"),
        ("Wiśniewski", "Wiśniewska"),
        ("Wójcik", "Wójcik"),
        ("Kamiński", "Kamińska"),
        ("Lewandowski", "Lewandowska"),
        ("Zieliński", "Zielińska"),
        ("Szymański", "Szymańska"),
        ("Dąbrowski", "Dąbrowska"),
        ("Żak", "Żak"),
    ),
)
RUSSIAN = Names(
    "ru",
    ("Ольга", "Ирина", "Наталья", "Юлия"),
    ("Дмитрий", "Сергей", "Алексей", "Андрей"),
    (
        ("Иванов", "Иванова"),
        ("Петров", "Петрова"),
        ("Волков", "Волкова"),
        ("Смирнов", "Смирнова"),
        ("Соколов", "Соколова"),
    ),
)
ENGLISH = Names(
    "en",
    ("Amelia", "Isla", "Ava", "Mia", "Emily", "Grace"),
    ("Oliver", "Harry", "Jack", "George", "Noah", "Charlie"),
    tuple(
        (s, s)
        for s in ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Roberts")
    ),
)


@dataclass(frozen=True)
class DemoStore:
    slug: str
    name: str
    country: str
    time_zone: str
    language: str
    currency: str
    names: Names
    # The share of Russian-speaking customers, who get their messages in Russian.
    russian: float


STORES = (
    DemoStore("warsaw", "Meble Nowak — Warszawa", "PL", "Europe/Warsaw", "pl", "PLN", POLISH, 0.2),
    DemoStore("london", "London Sofa Company", "GB", "Europe/London", "en", "GBP", ENGLISH, 0.1),
)

# Latin letters that do not decompose into a base letter and a mark, and Russian
# Cyrillic, spelled the way e-mail addresses spell them (a passport-style table).
_LATIN = {"ł": "l", "Ł": "L", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe"}
_CYRILLIC = {
    **dict(zip("абвгдеёзийклмнопрстуфыэ", "abvgdeeziyklmnoprstufye", strict=True)),
    **{"ж": "zh", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ю": "yu", "я": "ya"},
    **{"ъ": "", "ь": ""},
}


def transliterate(text: str) -> str:
    """ASCII for an e-mail address: ł→l, ż→z, ą→a, Иванова→ivanova."""
    out = []
    for char in text.lower():
        char = _LATIN.get(char, char)
        char = _CYRILLIC.get(char, char)
        out.append(unicodedata.normalize("NFKD", char))
    return "".join(out).encode("ascii", "ignore").decode()


def email_for(name: str, number: int) -> str:
    local = ".".join(transliterate(part) for part in name.split())
    return f"{local or 'customer'}.{number}@example.com"


# username, first name, role, store slugs, language
STAFF = (
    ("admin", "Ada", Role.ADMIN, (), "en"),
    ("maria", "Maria", Role.MANAGER, ("warsaw",), "pl"),
    ("mark", "Mark", Role.MANAGER, ("london",), "en"),
    ("piotr", "Piotr", Role.SALESPERSON, ("warsaw",), "pl"),
    ("ola", "Ola", Role.SALESPERSON, ("warsaw",), "pl"),
    ("ivan", "Ivan", Role.SALESPERSON, ("warsaw", "london"), "ru"),
    ("sam", "Sam", Role.SALESPERSON, ("london",), "en"),
    ("sofia", "Sofia", Role.SALESPERSON, ("london",), "en"),
)

CATEGORIES = (
    ("sofas", "Sofas", "Диваны", "Sofy", Decimal("1400")),
    ("tables", "Tables", "Столы", "Stoły", Decimal("600")),
    ("chairs", "Chairs", "Стулья", "Krzesła", Decimal("150")),
    ("beds", "Beds", "Кровати", "Łóżka", Decimal("1100")),
    ("kitchens", "Kitchens", "Кухни", "Kuchnie", Decimal("5200")),
    ("lighting", "Lighting", "Освещение", "Oświetlenie", Decimal("120")),
)

# How often each salesperson gets each result: the demo shows one careful seller,
# and one who often forgets to ask for contacts (grey visits) — coaching material.
SELLER_HABITS = {
    "piotr": {"ask": 0.92, "taken": 0.7},
    "ola": {"ask": 0.75, "taken": 0.55},
    "ivan": {"ask": 0.55, "taken": 0.6},
    "sam": {"ask": 0.9, "taken": 0.65},
    "sofia": {"ask": 0.7, "taken": 0.5},
}


def _phone(rng: random.Random, country: str) -> str:
    while True:
        if country == "PL":
            raw = (
                f"+48 5{rng.randint(0, 99):02d} {rng.randint(0, 999):03d} {rng.randint(0, 999):03d}"
            )
        else:
            raw = f"+44 79{rng.randint(0, 99):02d} {rng.randint(0, 999999):06d}"
        number = phonenumbers.parse(raw)
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _make_setup() -> dict[str, Store]:
    stores = {}
    for spec in STORES:
        stores[spec.slug] = Store.objects.create(
            name=spec.name,
            slug=spec.slug,
            country=spec.country,
            time_zone=spec.time_zone,
            language=spec.language,
            currency=spec.currency,
            telegram_bot=f"touchflow_{spec.slug}_bot",
        )
    for username, first_name, role, slugs, language in STAFF:
        staff = Staff.objects.create_user(
            username=username,
            password=PASSWORD,
            first_name=first_name,
            role=role,
            language=language,
        )
        staff.stores.set([stores[s] for s in slugs])
    for position, (slug, en, ru, pl, _price) in enumerate(CATEGORIES):
        Category.objects.create(slug=slug, name_en=en, name_ru=ru, name_pl=pl, position=position)
    # The shipped chains, activated CHAINS_DAYS ago (``_activate_chains``).
    results, errors = load_flow_dir(EXAMPLE_FLOWS)
    assert not errors, errors
    return stores


def load(
    seed: int = 7, visitors_per_store: int = 320, console: Console | None = None
) -> list[tuple[str, str, str]]:
    """Load the demo unless it is there; return (username, role, stores) of the logins."""
    console = console or Console()
    if Store.objects.filter(slug__in=[s.slug for s in STORES]).exists():
        console.print("Demo data is already loaded.")
    else:
        _load(seed, visitors_per_store, console)
    return [
        (
            s.username,
            s.get_role_display(),
            ", ".join(st.name for st in s.stores.all()) or "all stores",
        )
        for s in Staff.objects.filter(username__in=[row[0] for row in STAFF]).order_by("id")
    ]


def _load(seed: int, visitors_per_store: int, console: Console) -> None:
    rng = random.Random(seed)
    with transaction.atomic():
        stores = _make_setup()
    now = clock.now()
    sellers = {
        slug: list(Staff.objects.filter(stores=store, role=Role.SALESPERSON).order_by("username"))
        for slug, store in stores.items()
    }
    visitors = [
        _plan(rng, spec, stores[spec.slug], sellers[spec.slug], now)
        for spec in STORES
        for _ in range(visitors_per_store)
    ]
    visits = sorted(
        (at, index, n) for index, v in enumerate(visitors) for n, at in enumerate(v.times)
    )
    live = now - timedelta(days=CHAINS_DAYS)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Loading demo visits", total=len(visits))
        active = False
        for at, index, n in visits:
            if at >= live and not active:
                _activate_chains()
                active = True
            _history_visit(rng, visitors[index], at, n)
            progress.advance(task)
        _activate_chains()
        for spec in STORES:
            _today(rng, spec, stores[spec.slug], sellers[spec.slug], now)
        progress.add_task("Replaying the chains up to now", total=None)
        replay(now)


def _activate_chains() -> None:
    """The shipped chains go live (the demo's business started them CHAINS_DAYS ago)."""
    for flow in Flow.objects.exclude(status=FlowStatus.ACTIVE):
        set_status(flow, FlowStatus.ACTIVE)
    forget_active_flows()


@dataclass
class Visitor:
    """One person of the demo's past and the times they came in."""

    store: Store
    seller: Staff
    person: Person
    times: list[datetime]
    customer: Customer | None = None
    anonymous: bool = False


def _plan(
    rng: random.Random, spec: DemoStore, store: Store, sellers: list[Staff], now: datetime
) -> Visitor:
    """A visitor of the last DAYS days with up to three visits."""
    seller = rng.choice(sellers)
    at = now - timedelta(days=rng.uniform(1, DAYS), hours=rng.uniform(0, 8))
    times = [at]
    for _ in range((rng.random() < 0.35) + (rng.random() < 0.15)):
        at = at + timedelta(days=rng.uniform(3, 40))
        if at >= now:
            break
        times.append(at)
    return Visitor(store, seller, _person(rng, spec), times)


def _history_visit(rng: random.Random, visitor: Visitor, at: datetime, n: int) -> None:
    """The ``n``-th visit of ``visitor``; an anonymous first visit has no sequel."""
    if visitor.anonymous:
        return
    habits = SELLER_HABITS[visitor.seller.username]
    bought = rng.random() < (0.45 if n == 0 else 0.7)
    asked = rng.random() < habits["ask"]
    known = visitor.customer is not None
    capture = (
        ContactCapture.NOT_ATTEMPTED
        if not asked
        else ContactCapture.TAKEN
        if known or rng.random() < habits["taken"]
        else ContactCapture.REFUSED
    )
    reason = None if bought else rng.choice(OBJECTIVE if rng.random() < 0.75 else SELLER_ERRORS)
    visitor.customer = _visit(
        rng, visitor.store, visitor.seller, visitor.person, at, bought=bought, capture=capture,
        customer=visitor.customer, reason=reason,
    )
    visitor.anonymous = visitor.customer is None


@dataclass(frozen=True)
class Person:
    name: str
    language: str
    contacts: tuple[ContactInput, ...]


def _person(rng: random.Random, spec: DemoStore) -> Person:
    names = RUSSIAN if rng.random() < spec.russian else spec.names
    # Some people give a number at the counter and no name: the messages still read well.
    name = "" if rng.random() < 0.05 else names.pick(rng)
    contacts = [ContactInput("phone", _phone(rng, spec.country))]
    if rng.random() < 0.5:
        contacts.append(ContactInput("email", email_for(name, rng.randint(1, 9999))))
    language = "ru" if names is RUSSIAN else spec.language
    return Person(name, language, tuple(contacts))


def _visit(
    rng: random.Random,
    store: Store,
    seller: Staff,
    person: Person,
    at: datetime,
    *,
    bought: bool,
    capture: str,
    customer: Customer | None = None,
    reason: str | None = None,
) -> Customer | None:
    """One visit, and the purchase when they bought; returns the visit's customer."""
    category = rng.choice(CATEGORIES)
    actor = Actor(source="demo", staff=seller)
    visit, _ = log_visit(
        store=store,
        actor=actor,
        bought=bought,
        contact_capture=capture,
        occurred_at=at,
        staff=seller,
        customer=customer,
        contacts=person.contacts if capture == ContactCapture.TAKEN and customer is None else (),
        name=person.name,
        language=person.language,
        consent=ConsentGrant(contact=True, marketing=rng.random() < 0.4),
        reason=reason,
        categories=[category[0]],
    )
    customer = visit.customer or customer
    if bought and customer is not None:
        amount = (category[4] * Decimal(rng.uniform(0.6, 1.8))).quantize(Decimal("1"))
        record_purchase(
            store=store,
            actor=actor,
            customer=customer,
            amount=amount,
            occurred_at=at,
            categories=[category[0]],
            visit=visit,
        )
    return customer


def replay(until: datetime) -> int:
    """Run the delivery engine over the demo's past, due time after due time, as a
    worker running all along would have: messages due before ``until`` are sent (to
    nowhere: the null channel), call tasks are created, and each chain moves on to its
    next step. Returns the number of rounds. Without this every past message would
    expire when the real worker starts, and the demo would stand still."""
    at = {"now": until}
    nowhere = ";".join(f"{name}=null:" for name in NAMES)
    dispatcher = Dispatcher(from_settings(nowhere, accounts=False), now=lambda: at["now"])
    queued = Touch.objects.filter(state=TouchState.QUEUED, due_at__lte=until)
    rounds = 0
    try:
        while (due := queued.aggregate(due=Min("due_at"))["due"]) is not None:
            # A touch sent back "due now" must not hold the replay on one instant.
            at["now"] = due if rounds == 0 or due > at["now"] else at["now"] + REPLAY_STEP
            if at["now"] > until:
                break
            dispatcher.drain(max_rounds=10)
            rounds += 1
    finally:
        dispatcher.close()
    return rounds


def _opening(store: Store, moment: datetime, minutes: int) -> datetime:
    """``moment`` when the store was open then, else ``minutes`` past the last hour
    before closing (a demo visit at 3 a.m. would look odd)."""
    tz = zone(store.time_zone)
    local = moment.astimezone(tz)
    if OPEN <= local.time() < CLOSE:
        return moment
    day = local.date() if local.time() >= CLOSE else local.date() - timedelta(days=1)
    return at_local(day, time(CLOSE.hour - 1), tz) + timedelta(minutes=minutes)


def _today(
    rng: random.Random, spec: DemoStore, store: Store, sellers: list[Staff], now: datetime
) -> None:
    """Visitors of the last hours: the warming chain thanks each of them three hours
    after the visit, so while the stores' customers are awake, thank-yous fall due
    minutes after the demo starts (at night they wait for the morning)."""
    thank_you = Flow.objects.get(slug="warming").steps.order_by("position").first()
    assert thank_you is not None
    for minutes in TODAY:
        at = now - timedelta(seconds=thank_you.delay_seconds) + timedelta(minutes=minutes)
        at = _opening(store, at, minutes)
        seller = rng.choice(sellers)
        person = _person(rng, spec)
        bought = minutes % 3 == 0  # most did not buy (Type 3), a few bought (Type 1)
        _visit(
            rng, store, seller, person, at, bought=bought, capture=ContactCapture.TAKEN,
            reason=None if bought else "just_looking",
        )
