"""Demo data: two stores, staff of every role, a few hundred customers with history.

Everything goes through the domain actions, so the demo obeys the same rules as
real use (classification, de-duplication, consent, timeline). Loading is
deterministic for a seed and does nothing when the demo is already there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import phonenumbers
from django.db import transaction
from rich.console import Console
from rich.progress import Progress

from touchflow.core import clock
from touchflow.core.actor import Actor
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.flows.actions import load_flow_dir, set_status
from touchflow.flows.models import FlowStatus
from touchflow.purchases.actions import record_purchase
from touchflow.stores.models import Category, Role, Staff, Store
from touchflow.visits.actions import log_visit
from touchflow.visits.classification import ContactCapture
from touchflow.visits.models import Reason

PASSWORD = "touchflow-demo"
EXAMPLE_FLOWS = Path(__file__).resolve().parent / "flows" / "examples"
DAYS = 150


@dataclass(frozen=True)
class DemoStore:
    slug: str
    name: str
    country: str
    time_zone: str
    language: str
    currency: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


STORES = (
    DemoStore(
        "warsaw",
        "Meble Nowak — Warszawa",
        "PL",
        "Europe/Warsaw",
        "pl",
        "PLN",
        (
            "Anna",
            "Piotr",
            "Katarzyna",
            "Tomasz",
            "Magdalena",
            "Michał",
            "Agnieszka",
            "Paweł",
            "Olga",
            "Dmitrij",
            "Irina",
            "Sergiej",
        ),
        (
            "Nowak",
            "Kowalska",
            "Wiśniewski",
            "Wójcik",
            "Kamińska",
            "Lewandowski",
            "Zielińska",
            "Szymański",
            "Petrova",
            "Ivanov",
        ),
    ),
    DemoStore(
        "london",
        "London Sofa Company",
        "GB",
        "Europe/London",
        "en",
        "GBP",
        (
            "Oliver",
            "Amelia",
            "Harry",
            "Isla",
            "Jack",
            "Ava",
            "George",
            "Mia",
            "Noah",
            "Emily",
            "Natalia",
            "Alexei",
        ),
        (
            "Smith",
            "Jones",
            "Taylor",
            "Brown",
            "Williams",
            "Wilson",
            "Evans",
            "Thomas",
            "Roberts",
            "Volkova",
        ),
    ),
)

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
    # The shipped chains, active, so the demo's visits and purchases enter them.
    results, errors = load_flow_dir(EXAMPLE_FLOWS)
    assert not errors, errors
    for result in results:
        set_status(result.flow, FlowStatus.ACTIVE)
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
    reasons = {r.code: r for r in Reason.objects.all()}
    objective = ["just_looking", "just_looking", "price_difference", "credit_refused"]
    seller_errors = ["too_pushy", "too_passive", "wrong_sales_tool", "weak_product_knowledge"]
    now = clock.now()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Loading demo visits", total=visitors_per_store * len(STORES))
        for spec in STORES:
            store = stores[spec.slug]
            sellers = list(Staff.objects.filter(stores=store, role=Role.SALESPERSON))
            for _ in range(visitors_per_store):
                seller = rng.choice(sellers)
                habits = SELLER_HABITS[seller.username]
                first = rng.choice(spec.first_names)
                name = f"{first} {rng.choice(spec.last_names)}"
                language = (
                    "ru"
                    if first in ("Olga", "Dmitrij", "Irina", "Sergiej", "Natalia", "Alexei")
                    else spec.language
                )
                phone = _phone(rng, spec.country)
                email = f"{name.lower().replace(' ', '.')}.{rng.randint(1, 9999)}@example.com"
                contacts = [ContactInput("phone", phone)]
                if rng.random() < 0.5:
                    contacts.append(ContactInput("email", email.encode("ascii", "ignore").decode()))
                first_visit = now - timedelta(days=rng.uniform(1, DAYS), hours=rng.uniform(0, 8))
                visits = 1 + (rng.random() < 0.35) + (rng.random() < 0.15)
                at = first_visit
                customer = None
                for n in range(visits):
                    bought = rng.random() < (0.45 if n == 0 else 0.7)
                    asked = rng.random() < habits["ask"]
                    capture = (
                        ContactCapture.NOT_ATTEMPTED
                        if not asked
                        else ContactCapture.TAKEN
                        if customer is None and rng.random() < habits["taken"]
                        else ContactCapture.REFUSED
                        if customer is None
                        else ContactCapture.TAKEN
                    )
                    code = (
                        None
                        if bought
                        else rng.choice(objective if rng.random() < 0.75 else seller_errors)
                    )
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
                        contacts=contacts
                        if capture == ContactCapture.TAKEN and customer is None
                        else (),
                        name=name,
                        language=language,
                        consent=ConsentGrant(contact=True, marketing=rng.random() < 0.4),
                        reason=reasons[code].code if code else None,
                        categories=[category[0]],
                    )
                    customer = visit.customer or customer
                    if bought and customer is not None:
                        amount = (category[4] * Decimal(rng.uniform(0.6, 1.8))).quantize(
                            Decimal("1")
                        )
                        record_purchase(
                            store=store,
                            actor=actor,
                            customer=customer,
                            amount=amount,
                            occurred_at=at,
                            categories=[category[0]],
                            visit=visit,
                        )
                    if customer is None:
                        break  # an anonymous visitor: no history to continue
                    at = at + timedelta(days=rng.uniform(3, 40))
                    if at >= now:
                        break
                progress.advance(task)
