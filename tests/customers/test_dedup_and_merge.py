from __future__ import annotations

import pytest

from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import (
    ConsentGrant,
    check_contact,
    find_customer,
    visible_customers,
)
from touchflow.customers.models import ConsentEvent, ContactPoint, Customer
from touchflow.funnel.customers import merge_customers, resolve_customer
from touchflow.funnel.purchases import record_purchase
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Role, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

API = Actor(source="api")


def contact(kind: str, value: str):
    return check_contact(kind, value, region="PL")


def test_same_phone_in_two_spellings_is_one_customer(store: Store) -> None:
    first, created = resolve_customer(
        store=store, actor=API, contacts=[contact("phone", "501 234 567")]
    )
    second, created_again = resolve_customer(
        store=store, actor=API, contacts=[contact("phone", "+48 (501) 234-567")]
    )
    assert (created, created_again) == (True, False)
    assert second.pk == first.pk
    assert ContactPoint.objects.count() == 1


def test_same_email_in_two_cases_is_one_customer(store: Store) -> None:
    first, _ = resolve_customer(store=store, actor=API, contacts=[contact("email", "Anna@X.pl")])
    second, _ = resolve_customer(store=store, actor=API, contacts=[contact("email", "anna@x.PL")])
    assert first.pk == second.pk


def test_new_contact_is_added_to_the_existing_customer(store: Store) -> None:
    first, _ = resolve_customer(store=store, actor=API, contacts=[contact("phone", "501234567")])
    again, _ = resolve_customer(
        store=store,
        actor=API,
        contacts=[contact("phone", "501234567"), contact("email", "anna@x.pl")],
        name="Anna",
    )
    assert again.pk == first.pk
    assert sorted(again.contacts.values_list("kind", "value")) == [
        ("email", "anna@x.pl"),
        ("phone", "+48501234567"),
    ]
    assert Customer.objects.get(pk=first.pk).name == "Anna"


def test_contacts_of_two_customers_merge_them_keeping_everything(
    store: Store, make_store, counter_actor: Actor
) -> None:
    other_store = make_store()
    by_phone, _ = log_visit(
        store=store,
        actor=counter_actor,
        bought=True,
        contact_capture="taken",
        contacts=[contact("phone", "501234567")],
        name="Anna",
        consent=ConsentGrant(marketing=True),
    )
    by_email, _ = log_visit(
        store=store,
        actor=counter_actor,
        bought=False,
        reason="price_difference",
        contact_capture="taken",
        contacts=[contact("email", "anna@x.pl")],
    )
    a, b = by_phone.customer, by_email.customer
    assert a is not None and b is not None and a.pk != b.pk
    record_purchase(store=other_store, actor=API, customer=b, amount="99.50", external_id="r-1")
    consent_before = ConsentEvent.objects.count()
    timeline_before = TimelineEvent.objects.count()

    merged, created = resolve_customer(
        store=store,
        actor=API,
        contacts=[contact("email", "anna@x.pl"), contact("phone", "501234567")],
    )

    assert not created
    assert merged.pk == a.pk  # the older customer survives
    assert sorted(Visit.objects.filter(customer=merged).values_list("pk", flat=True)) == sorted(
        [by_phone.pk, by_email.pk]
    )
    # The sale logged at the counter (amount unknown) and the other store's purchase.
    assert set(merged.purchases.values_list("visit_id", "external_id")) == {
        (by_phone.pk, None),
        (None, "r-1"),
    }
    assert ContactPoint.objects.filter(customer=merged).count() == 2
    assert ConsentEvent.objects.filter(customer=merged).count() == consent_before
    assert TimelineEvent.objects.filter(customer=merged).count() == timeline_before + 1
    assert (
        TimelineEvent.objects.filter(customer=merged, kind="merged").get().data["merged_customer"]
        == b.pk
    )
    assert sorted(merged.stores.values_list("pk", flat=True)) == sorted([store.pk, other_store.pk])
    b.refresh_from_db()
    assert b.merged_into_id == a.pk
    assert list(Customer.active.values_list("pk", flat=True)) == [a.pk]


def test_external_id_of_a_merged_customer_resolves_to_the_survivor(store: Store) -> None:
    a, _ = resolve_customer(
        store=store, actor=API, contacts=[contact("phone", "501234567")], external_id="pos-a"
    )
    b, _ = resolve_customer(store=store, actor=API, external_id="pos-b")
    merge_customers(a, b, API)
    assert find_customer(external_id="pos-b") == [a]
    again, created = resolve_customer(store=store, actor=API, external_id="pos-b")
    assert (again.pk, created) == (a.pk, False)
    assert Customer.objects.count() == 2  # survivor and tombstone, nothing new


def test_merging_a_customer_into_itself_changes_nothing(store: Store) -> None:
    a, _ = resolve_customer(store=store, actor=API, contacts=[contact("phone", "501234567")])
    assert merge_customers(a, a, API) == a
    assert TimelineEvent.objects.filter(kind="merged").count() == 0


def test_a_customer_needs_a_contact_or_external_id(store: Store) -> None:
    with pytest.raises(InvalidInput) as err:
        resolve_customer(store=store, actor=API)
    assert err.value.field == "contacts"


def test_bad_language_and_time_zone_are_named(store: Store) -> None:
    with pytest.raises(InvalidInput) as err:
        resolve_customer(store=store, actor=API, external_id="x", language="de")
    assert err.value.field == "language"
    with pytest.raises(InvalidInput) as err:
        resolve_customer(store=store, actor=API, external_id="x", time_zone="Mars/Base")
    assert err.value.field == "time_zone"
    assert Customer.objects.count() == 0


def test_consent_withdrawal_is_recorded_once(store: Store) -> None:
    from touchflow.customers.actions import record_consent

    customer, _ = resolve_customer(
        store=store,
        actor=API,
        contacts=[contact("phone", "501234567")],
        consent=ConsentGrant(marketing=True),
    )
    point = customer.contacts.get()
    first = record_consent(point, "marketing", False, Actor(source="customer"))
    second = record_consent(point, "marketing", False, Actor(source="customer"))
    assert first is not None and second is None
    point.refresh_from_db()
    assert (point.contact_consent, point.marketing_consent) == (True, False)
    assert list(point.consent_events.values_list("purpose", "granted", "source")) == [
        ("contact", True, "api"),
        ("marketing", True, "api"),
        ("marketing", False, "customer"),
    ]


def test_staff_see_only_customers_of_their_stores(
    store: Store, make_store, make_staff, admin_staff
) -> None:
    other = make_store()
    mine, _ = resolve_customer(store=store, actor=API, external_id="mine")
    theirs, _ = resolve_customer(store=other, actor=API, external_id="theirs")
    seller = make_staff(Role.SALESPERSON, [store])
    manager = make_staff(Role.MANAGER, [other])
    assert list(visible_customers(seller)) == [mine]
    assert list(visible_customers(manager)) == [theirs]
    assert sorted(c.pk for c in visible_customers(admin_staff)) == sorted([mine.pk, theirs.pk])
