"""An erased person's contact that comes back (import, API, counter) arrives withdrawn."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.test import Client

from touchflow.customers import suppression
from touchflow.customers.actions import ConsentGrant, check_contact
from touchflow.customers.models import ConsentEvent, ContactPoint
from touchflow.funnel.importer import ImportOptions, import_purchases
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actions import create_token
from touchflow.integrations.actor import Actor
from touchflow.privacy.actor import Requester
from touchflow.privacy.erase import erase_customer
from touchflow.purchases.import_mapping import build_mapping
from touchflow.stores.models import Staff, Store

from .conftest import EMAIL, PHONE, Seeded


def _withdrawn(value: str) -> tuple[bool | None, bool | None, list[tuple[str, bool, str, str]]]:
    point = ContactPoint.objects.get(value=value)
    events = list(ConsentEvent.objects.filter(contact_point=point).order_by("id")
                  .values_list("purpose", "granted", "source", "note"))
    return point.contact_consent, point.marketing_consent, events


def test_the_digest_is_keyed_not_a_plain_hash(settings: Any) -> None:
    settings.TOUCHFLOW_PRIVACY_KEY = "key-one"
    first = suppression.digest("phone", "", PHONE)
    assert first != hashlib.sha256(PHONE.encode()).hexdigest()
    assert first == suppression.digest("phone", "", PHONE)
    assert first != suppression.digest("phone", "", "+48501999889")
    settings.TOUCHFLOW_PRIVACY_KEY = "key-two"
    assert suppression.digest("phone", "", PHONE) != first


def test_a_contact_back_through_the_api_is_withdrawn_even_with_consent(
        seeded: Seeded, store: Store) -> None:
    erase_customer(seeded.customer.pk, Requester.cli())
    _token, secret = create_token("crm", store=None)
    response = Client().post(
        "/api/v1/customers", {"store": store.slug, "phone": PHONE,
                              "consent": {"contact": True, "marketing": True}},
        content_type="application/json", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 201, response.content
    contact, marketing, events = _withdrawn(PHONE)
    assert (contact, marketing) == (False, False)
    assert events[-2:] == [("contact", False, "customer", suppression.NOTE),
                           ("marketing", False, "customer", suppression.NOTE)]
    consent = response.json()["contacts"][0]["consent"]  # the caller is told so
    assert (consent["contact"], consent["marketing"]) == (False, False)


def test_a_contact_back_at_the_counter_is_withdrawn(seeded: Seeded, store: Store,
                                                    salesperson: Staff) -> None:
    erase_customer(seeded.customer.pk, Requester.cli())
    visit, _ = log_visit(store=store, actor=Actor(source="counter", staff=salesperson),
                         bought=False, reason="just_looking", contact_capture="taken",
                         contacts=[check_contact("email", EMAIL, region=None)],
                         consent=ConsentGrant(contact=True, marketing=False))
    assert visit.customer_id != seeded.customer.pk
    assert _withdrawn(EMAIL)[:2] == (False, False)


def test_a_contact_back_in_an_import_is_withdrawn(seeded: Seeded, store: Store,
                                                  tmp_path: Path) -> None:
    erase_customer(seeded.customer.pk, Requester.cli())
    path = tmp_path / "old.csv"
    path.write_text("Order,Client,Phone,Date,Total\n"
                    "A-1,C-1,+48 501 999 888,2026-05-01 10:00,10.00\n"
                    "A-2,C-2,+48 501 000 222,2026-05-01 11:00,12.00\n", encoding="utf-8")
    report = import_purchases(path, build_mapping({
        "invoice": "Order", "customer_id": "Client", "phone": "Phone", "occurred_at": "Date",
        "amount": "Total"}), ImportOptions(store=store))
    assert report.customers_created == 2
    assert _withdrawn(PHONE)[:2] == (False, False)
    # Someone never erased is imported as before: consent not asked.
    assert _withdrawn("+48501000222") == (None, None, [])


def test_without_erasure_nothing_is_withheld(store: Store, salesperson: Staff) -> None:
    log_visit(store=store, actor=Actor(source="counter", staff=salesperson), bought=False,
              reason="just_looking", contact_capture="taken",
              contacts=[check_contact("phone", PHONE, region="PL")],
              consent=ConsentGrant(contact=True, marketing=True))
    assert _withdrawn(PHONE)[:2] == (True, True)
