"""Erasure: the person's data is gone from every table; the business's numbers stay."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from touchflow.core.errors import InvalidInput
from touchflow.customers.models import (
    ConsentEvent,
    ContactPoint,
    Customer,
    CustomerStore,
    OptInToken,
    Suppression,
)
from touchflow.delivery.models import FINAL_STATES, CallTask, TaskState, Touch, TouchState
from touchflow.flows.models import Enrollment, EnrollmentState
from touchflow.privacy.actor import Requester
from touchflow.privacy.erase import erase_customer, scrub
from touchflow.privacy.models import AuditEntry, Erasure
from touchflow.purchases.models import Purchase
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

from .conftest import EMAIL, MARKER, PHONE, TOMBSTONE_PHONE, Seeded, scan


def numbers() -> dict[str, Any]:
    """What the dashboard counts, per store and day."""
    return {
        "customers": Customer.objects.count(),
        "visits": sorted(Visit.objects.annotate(day=TruncDate("occurred_at"))
                         .values_list("store_id", "day", "visit_class", "bought")
                         .annotate(n=Count("id"))),
        "purchases": sorted(Purchase.objects.annotate(day=TruncDate("occurred_at"))
                            .values_list("store_id", "day", "currency")
                            .annotate(n=Count("id"), total=Sum("amount"))),
        "categories": sorted(Purchase.objects.values_list("id", "categories")),
        "enrollments": Enrollment.objects.count(),
        "timeline": Counter(TimelineEvent.objects.exclude(kind=EventKind.LEFT_FLOW)
                            .values_list("kind", flat=True)),
    }


def test_the_seed_reaches_every_kind_of_record(seeded: Seeded) -> None:
    """The scan finds the marker where the seed put it: it can fail."""
    tables = {(table, column) for table, column, _ in scan(MARKER)}
    assert {
        ("customers.Customer", "name"), ("customers.Customer", "tags"),
        ("customers.Customer", "country"), ("customers.CustomerExternalId", "value"),
        ("customers.ContactPoint", "value"), ("customers.ContactPoint", "undeliverable_reason"),
        ("customers.ConsentEvent", "note"), ("visits.Visit", "note"),
        ("purchases.Purchase", "items"), ("delivery.Touch", "provider_message_id"),
        ("delivery.CallTask", "script"), ("delivery.CallTask", "note"),
        ("timeline.TimelineEvent", "data"),
    } <= tables
    assert scan(PHONE) and scan(EMAIL)


def test_erasure_leaves_no_trace_of_the_person(seeded: Seeded) -> None:
    report = erase_customer(seeded.customer.pk, Requester.cli())

    assert scan(MARKER) == []
    assert scan(PHONE) == []
    assert scan(TOMBSTONE_PHONE) == []
    assert scan(EMAIL) == []
    assert sorted(report.customer_ids) == sorted([seeded.customer.pk, seeded.tombstone.pk])
    assert ContactPoint.objects.filter(customer_id__in=report.customer_ids).count() == 0
    assert ConsentEvent.objects.filter(customer_id__in=report.customer_ids).count() == 0
    assert OptInToken.objects.filter(customer_id__in=report.customer_ids).count() == 0


def finished_touches() -> dict[int, tuple[int, str, str, int]]:
    return {pk: rest for pk, *rest in Touch.objects.filter(state__in=FINAL_STATES)
            .values_list("id", "store_id", "state", "channel", "attempts")}


def test_erasure_keeps_the_numbers_of_the_past(seeded: Seeded) -> None:
    before, touches = numbers(), finished_touches()
    erase_customer(seeded.customer.pk, Requester.cli())
    assert numbers() == before
    after = finished_touches()
    assert {pk: after[pk] for pk in touches} == touches  # what happened stays as it was
    assert Visit.objects.filter(customer=seeded.customer).count() == 1
    purchase = Purchase.objects.get(customer=seeded.customer)
    assert (purchase.amount, purchase.items) == (
        purchase.amount, [{"sku": "S-1", "quantity": 1, "unit_price": "120.00"}])


def test_the_customer_becomes_an_anonymous_tombstone_and_leaves_everything(
        seeded: Seeded) -> None:
    erase_customer(seeded.customer.pk, Requester.cli())
    customer = Customer.objects.get(pk=seeded.customer.pk)
    assert (customer.name, customer.tags, customer.country) == ("", [], "")
    assert not customer.external_ids.exists()
    assert not CustomerStore.objects.filter(customer=customer).exclude(name="").exists()
    assert Erasure.objects.filter(customer_id__in=[seeded.customer.pk, seeded.tombstone.pk]
                                  ).count() == 2
    assert not Enrollment.objects.filter(customer=customer, state=EnrollmentState.ACTIVE).exists()
    assert not Touch.objects.filter(customer=customer, state=TouchState.QUEUED).exists()
    assert set(CallTask.objects.filter(customer=customer).values_list("state", flat=True)) == {
        TaskState.CANCELLED}


def test_someone_else_is_untouched(seeded: Seeded) -> None:
    erase_customer(seeded.customer.pk, Requester.cli())
    bystander = Customer.objects.get(pk=seeded.bystander.pk)
    assert bystander.name == "Bystander Person"
    assert list(bystander.contacts.values_list("value", flat=True)) == ["+48501000111"]
    assert not Erasure.objects.filter(customer=bystander).exists()


def test_a_merged_id_erases_the_survivor_and_every_tombstone(seeded: Seeded) -> None:
    report = erase_customer(seeded.tombstone.pk, Requester.cli())
    assert report.customer_id == seeded.customer.pk
    assert scan(MARKER) == []


def test_who_erased_whom_is_logged_without_personal_data(seeded: Seeded, admin_staff: Any
                                                         ) -> None:
    erase_customer(seeded.customer.pk, Requester.of_staff(admin_staff))
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.customer_id, entry.actor_kind, entry.staff_id) == (
        "erase", seeded.customer.pk, "staff", admin_staff.pk)
    assert all(isinstance(v, int) for v in entry.counts.values())
    assert entry.counts["contacts"] == 4
    assert entry.counts["suppressed"] == 4


def test_erasing_twice_changes_nothing_more(seeded: Seeded) -> None:
    erase_customer(seeded.customer.pk, Requester.cli())
    before = numbers()
    report = erase_customer(seeded.customer.pk, Requester.cli())
    assert numbers() == before
    assert (report.counts["contacts"], report.counts["timeline_rows"],
            report.counts["purchases"]) == (0, 0, 0)
    assert Suppression.objects.count() == 4


def test_without_suppression_nothing_goes_on_the_list(seeded: Seeded) -> None:
    erase_customer(seeded.customer.pk, Requester.cli(), suppress=False)
    assert Suppression.objects.count() == 0


def test_an_unknown_customer_is_an_error_naming_the_field(db: None) -> None:
    with pytest.raises(InvalidInput) as caught:
        erase_customer(999_999, Requester.cli())
    assert caught.value.field == "customer_id"
    assert AuditEntry.objects.count() == 0


def test_scrub_keeps_codes_and_drops_words_and_unknown_keys() -> None:
    data = {"kind": "phone", "value": PHONE, "source": "counter", "text": "hi",
            "new_feature_free_text": "words", "amount": "1.00"}
    assert scrub(data) == {"kind": "phone", "source": "counter", "amount": "1.00"}
