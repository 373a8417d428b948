"""A customer seeded into every table that can hold something about them, with a
distinctive marker in every free-text field, and a scan of the whole database for it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.db import models
from django.db.models.functions import Cast

from touchflow.customers.actions import (
    ConsentGrant,
    check_contact,
    create_optin_token,
    record_consent,
)
from touchflow.customers.models import ContactPoint, Customer
from touchflow.delivery.models import Attempt, CallTask, Touch, TouchState
from touchflow.flows.actions import load_flow_dir
from touchflow.funnel.chains import set_status
from touchflow.funnel.customers import merge_customers, resolve_customer
from touchflow.funnel.purchases import record_purchase
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff, Store
from touchflow.timeline.models import EventKind, TimelineEvent

EXAMPLES = Path(__file__).resolve().parents[2] / "touchflow" / "flows" / "examples"
START = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
# In every free-text field of the seeded customer; ASCII, so JSON stores it as is.
MARKER = "Zqxw7Marker"
PHONE = "+48501999888"
TOMBSTONE_PHONE = "+48501999777"
EMAIL = "zqxw7marker@example.com"


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as t:
        yield t


@pytest.fixture
def chains(db: None) -> None:
    results, errors = load_flow_dir(EXAMPLES)
    assert errors == []
    for result in results:
        set_status(result.flow, "active")


@dataclass
class Seeded:
    customer: Customer
    tombstone: Customer
    bystander: Customer


def _text_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)]


def scan(needle: str) -> list[tuple[str, str, int]]:
    """Every (table, column, rows) whose text or JSON contains ``needle`` in any case
    (contacts are stored lower-cased), in every installed model: a table added later
    is scanned without anyone listing it."""
    found = []
    for model in apps.get_models():
        for name in _text_fields(model):
            rows = (model._default_manager.annotate(_t=Cast(name, models.TextField()))
                    .filter(_t__icontains=needle).count())
            if rows:
                found.append((model._meta.label, name, rows))
    return sorted(found)


@pytest.fixture
def seeded(store: Store, salesperson: Staff, chains: None,
           traveller: time_machine.Coordinates) -> Seeded:
    actor = Actor(source="counter", staff=salesperson)
    contacts = [check_contact("phone", PHONE, region="PL"),
                check_contact("email", EMAIL, region=None),
                check_contact("telegram", f"@{MARKER}_tg", region=None)]
    visit, _ = log_visit(
        store=store, actor=actor, bought=False, reason="just_looking", contact_capture="taken",
        contacts=contacts, name=f"{MARKER} Kowalska", note=f"asked about {MARKER}",
        consent=ConsentGrant(contact=True, marketing=True),
    )
    customer = visit.customer
    assert customer is not None
    Customer.objects.filter(pk=customer.pk).update(tags=[MARKER], country=MARKER)
    other, _ = resolve_customer(
        store=store, actor=actor, contacts=[check_contact("phone", TOMBSTONE_PHONE, region="PL")],
        external_id=f"{MARKER}-ext", name=f"{MARKER} Old Record")
    traveller.shift(timedelta(minutes=5))
    customer = merge_customers(customer, other, actor)
    point = ContactPoint.objects.get(value=PHONE)
    record_consent(point, "marketing", False, actor, note=f"said {MARKER} at the till")
    ContactPoint.objects.filter(value=EMAIL).update(undeliverable_reason=f"{MARKER} bounced")
    record_purchase(store=store, actor=actor, customer=customer, amount="120.00",
                    categories=[], external_id="INV-1",
                    items=[{"sku": "S-1", "name": f"engraved {MARKER}", "quantity": 1,
                            "unit_price": "120.00"}])
    _messages(customer, store, salesperson)
    token = create_optin_token(store, salesperson)
    token.customer = customer
    token.save()
    bystander, _ = resolve_customer(
        store=store, actor=actor, contacts=[check_contact("phone", "+48501000111", region="PL")],
        name="Bystander Person", consent=ConsentGrant())
    customer.refresh_from_db()
    other.refresh_from_db()
    return Seeded(customer=customer, tombstone=other, bystander=bystander)


def _messages(customer: Customer, store: Store, staff: Staff) -> None:
    """What a touch, a failed attempt, a call task and replies leave behind."""
    touch = Touch.objects.filter(customer=customer).first()
    assert touch is not None, "the warming chain queued a first touch"
    Touch.objects.filter(pk=touch.pk).update(
        last_error=f"550 {EMAIL} rejected", provider_message_id=f"{MARKER}-msg",
        channel="email")
    Attempt.objects.create(touch=touch, number=1, at=touch.due_at, channel="email",
                           outcome="retry", error=f"mailbox {EMAIL} full")
    call_touch = Touch.objects.create(
        enrollment=touch.enrollment, step=touch.step, round=1, customer=customer, store=store,
        due_at=touch.due_at, expires_at=touch.expires_at, state=TouchState.TASK,
        idempotency_key="k-call", created_at=touch.created_at)
    CallTask.objects.create(touch=call_touch, customer=customer, store=store, assignee=staff,
                            phone=PHONE, script=f"Call {MARKER} about the sofa",
                            due_at=touch.due_at, note=f"{MARKER} was busy")
    at = touch.due_at
    TimelineEvent.objects.create(customer=customer, kind=EventKind.MESSAGE_IN, at=at,
                                 store=store, data={"channel": "sms", "text": f"hi, {MARKER} here",
                                                    "from": PHONE})
    TimelineEvent.objects.create(customer=customer, kind=EventKind.MESSAGE_OUT, at=at,
                                 store=store, staff=staff,
                                 data={"channel": "sms", "text": f"Hello {MARKER}!", "to": PHONE,
                                       "provider_id": f"{MARKER}-p"})
    TimelineEvent.objects.create(customer=customer, kind=EventKind.BOUNCE, at=at, store=store,
                                 data={"contact": EMAIL, "hard": True, "error": f"{MARKER} gone"})
