from __future__ import annotations

from datetime import timedelta

import pytest

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import ConsentGrant, check_contact, create_optin_token
from touchflow.customers.models import ConsentEvent, ContactPoint, Customer, OptInToken
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging.optin_links import link
from touchflow.stores.models import Category, Role, Store
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit


def phone(raw: str = "501 234 567") -> list:
    return [check_contact("phone", raw, region="PL")]


def test_bought_contacts_taken_is_type_1_with_customer_consent_and_timeline(
    store: Store, counter_actor: Actor, categories: list[Category]
) -> None:
    visit, created = log_visit(
        store=store,
        actor=counter_actor,
        bought=True,
        contact_capture="taken",
        contacts=phone(),
        name="Anna Nowak",
        consent=ConsentGrant(contact=True, marketing=True),
        categories=["sofas"],
        note="  wants grey  ",
    )
    assert created
    assert visit.visit_class == "type1"
    assert visit.staff == counter_actor.staff
    assert visit.categories == ["sofas"]
    assert visit.note == "wants grey"
    customer = visit.customer
    assert customer is not None
    assert (customer.name, customer.language, customer.time_zone) == (
        "Anna Nowak",
        "pl",
        "Europe/Warsaw",
    )
    point = ContactPoint.objects.get(customer=customer)
    assert (point.kind, point.value) == ("phone", "+48501234567")
    assert (point.contact_consent, point.marketing_consent) == (True, True)
    consents = list(
        ConsentEvent.objects.filter(customer=customer).values_list(
            "purpose", "granted", "source", "staff__username"
        )
    )
    assert consents == [
        ("contact", True, "counter", "sam"),
        ("marketing", True, "counter", "sam"),
    ]
    kinds = list(customer.timeline.values_list("kind", flat=True))
    assert kinds == ["customer_created", "contact_added", "consent", "consent", "visit"]
    assert list(customer.stores.all()) == [store]


def test_just_looking_refused_is_type_4_without_customer(
    store: Store, counter_actor: Actor
) -> None:
    visit, _ = log_visit(
        store=store,
        actor=counter_actor,
        bought=False,
        reason="just_looking",
        contact_capture="refused",
    )
    assert (visit.visit_class, visit.reason.code, visit.customer) == ("type4", "just_looking", None)
    assert Customer.objects.count() == 0
    assert TimelineEvent.objects.count() == 0


def test_not_asked_is_grey(store: Store, counter_actor: Actor) -> None:
    visit, _ = log_visit(
        store=store, actor=counter_actor, bought=True, contact_capture="not_attempted"
    )
    assert visit.visit_class == "grey"


def test_type_3_without_marketing_consent(store: Store, counter_actor: Actor) -> None:
    visit, _ = log_visit(
        store=store,
        actor=counter_actor,
        bought=False,
        reason="price_difference",
        contact_capture="taken",
        contacts=phone(),
    )
    assert visit.visit_class == "type3"
    point = ContactPoint.objects.get()
    assert (point.contact_consent, point.marketing_consent) == (True, None)
    assert ConsentEvent.objects.filter(purpose="marketing").count() == 0


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"bought": False, "contact_capture": "refused"}, "reason", "required"),
        (
            {"bought": False, "contact_capture": "refused", "reason": "nope"},
            "reason",
            "invalid_choice",
        ),
        (
            {"bought": True, "contact_capture": "refused", "reason": "just_looking"},
            "reason",
            "not_allowed",
        ),
        ({"bought": True, "contact_capture": "taken"}, "contacts", "required"),
        ({"bought": True, "contact_capture": "maybe"}, "contact_capture", "invalid_choice"),
        (
            {"bought": True, "contact_capture": "refused", "categories": ["boats"]},
            "categories",
            "invalid_choice",
        ),
        (
            {
                "bought": True,
                "contact_capture": "refused",
                "occurred_at": clock.now() + timedelta(days=1),
            },
            "occurred_at",
            "in_future",
        ),
    ],
)
def test_bad_visits_are_refused_and_nothing_is_written(
    store: Store, counter_actor: Actor, fields: dict, field: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        log_visit(store=store, actor=counter_actor, **fields)
    assert (err.value.field, err.value.code) == (field, code)
    assert Visit.objects.count() == 0


def test_contacts_given_for_a_refusal_are_refused(store: Store, counter_actor: Actor) -> None:
    with pytest.raises(InvalidInput) as err:
        log_visit(
            store=store,
            actor=counter_actor,
            bought=True,
            contact_capture="refused",
            contacts=phone(),
        )
    assert err.value.field == "contacts"
    assert Customer.objects.count() == 0


def test_staff_of_another_store_is_refused(
    store: Store, make_store, make_staff, counter_actor: Actor
) -> None:
    other = make_store()
    stranger = make_staff(Role.SALESPERSON, [other])
    with pytest.raises(InvalidInput) as err:
        log_visit(
            store=store,
            actor=counter_actor,
            staff=stranger,
            bought=True,
            contact_capture="not_attempted",
        )
    assert err.value.field == "staff"
    assert Visit.objects.count() == 0


def test_external_id_makes_logging_idempotent(store: Store, counter_actor: Actor) -> None:
    first, created = log_visit(
        store=store,
        actor=counter_actor,
        bought=True,
        contact_capture="taken",
        contacts=phone(),
        external_id="pos-1",
    )
    again, created_again = log_visit(
        store=store,
        actor=counter_actor,
        bought=True,
        contact_capture="taken",
        contacts=phone(),
        external_id="pos-1",
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Visit.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="visit").count() == 1


def test_same_external_id_in_two_stores_is_two_visits(
    store: Store, make_store, counter_actor: Actor, admin_staff
) -> None:
    other = make_store()
    actor = Actor(source="api", staff=admin_staff)
    log_visit(
        store=store, actor=actor, bought=True, contact_capture="not_attempted", external_id="1"
    )
    log_visit(
        store=other, actor=actor, bought=True, contact_capture="not_attempted", external_id="1"
    )
    assert Visit.objects.count() == 2


def test_optin_token_is_tied_to_the_visit_and_its_customer(
    store: Store, counter_actor: Actor
) -> None:
    token = create_optin_token(store, counter_actor.staff)
    assert link(token) == f"https://t.me/touchflow_demo_bot?start={token.token}"
    assert token.expires_at > token.created_at
    visit, _ = log_visit(
        store=store,
        actor=counter_actor,
        bought=False,
        reason="just_looking",
        contact_capture="taken",
        contacts=phone(),
        optin_token=token.token,
    )
    token.refresh_from_db()
    assert (token.visit_id, token.customer_id) == (visit.pk, visit.customer_id)
    # Single use: a second visit cannot take over the same token.
    second, _ = log_visit(
        store=store,
        actor=counter_actor,
        bought=True,
        contact_capture="not_attempted",
        optin_token=token.token,
    )
    assert OptInToken.objects.get().visit_id == visit.pk != second.pk
