"""Who a customer is: the contacts given at the counter, in the API, on a referral page
or in a chat found on a customer or making a new one, and two records found to be one
person merged (the duplicate's overlapping chains end, everything else moves)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, models, transaction

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import (
    ConsentGrant,
    ContactInput,
    VisitMark,
    add_contacts,
    add_external_id,
    apply_consent,
    check_profile,
    create_customer,
    find_customer,
    link_contacts,
    link_store,
    unique_contacts,
    update_profile,
)
from touchflow.customers.models import Customer, CustomerStore
from touchflow.delivery.enrollments import end_overlap
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Store
from touchflow.timeline import events
from touchflow.timeline.models import TimelineEvent


def resolve_customer(
    *,
    store: Store,
    actor: Actor,
    contacts: Sequence[ContactInput] = (),
    external_id: str | None = None,
    name: str = "",
    language: str | None = None,
    time_zone: str | None = None,
    country: str = "",
    tags: Sequence[str] = (),
    consent: ConsentGrant | None = None,
    at: datetime | None = None,
    timeline: list[TimelineEvent] | None = None,
    visit: VisitMark | None = None,
) -> tuple[Customer, bool]:
    """Find the customer these contacts belong to, or create them.

    Contacts that match two different customers prove they are one person: they are
    merged. Missing contacts are added, consent is recorded, the store is linked (with
    ``visit``, the visit this is part of: the link keeps the latest, decision 0027).
    Returns ``(customer, created)``.

    Inside the caller's transaction (``timeline`` given: the caller writes the rows),
    a concurrent insert of the same contact surfaces as IntegrityError for the caller
    to retry its whole unit; called on its own, it retries by itself.
    """
    if not contacts and not external_id:
        raise InvalidInput("contacts", "Give at least one contact or an external id.", "required")
    check_profile(language, time_zone)
    at = at or clock.now()
    args = (
        store,
        actor,
        contacts,
        external_id,
        name,
        language,
        time_zone,
        country,
        tags,
        consent,
        at,
        visit,
    )
    if timeline is not None:
        return _resolve_once(*args, timeline)
    for attempt in range(3):
        try:
            with transaction.atomic():
                rows: list[TimelineEvent] = []
                result = _resolve_once(*args, rows)
                events.write_rows(rows)
                return result
        except IntegrityError:
            # A concurrent request created the same contact or external id first;
            # the next round finds it.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _resolve_once(
    store: Store,
    actor: Actor,
    contacts: Sequence[ContactInput],
    external_id: str | None,
    name: str,
    language: str | None,
    time_zone: str | None,
    country: str,
    tags: Sequence[str],
    consent: ConsentGrant | None,
    at: datetime,
    visit: VisitMark | None,
    timeline: list[TimelineEvent],
) -> tuple[Customer, bool]:
    matches = find_customer(contacts, external_id, store)
    created = not matches
    if created:
        customer = create_customer(
            store, actor, at, timeline, name=name, language=language, time_zone=time_zone,
            country=country, tags=tags, visit=visit,
        )
        add_contacts(customer, unique_contacts(contacts), consent, actor, at, timeline, store)
    else:
        customer = matches[0]
        for other in matches[1:]:
            customer = merge_customers(customer, other, actor, at)
        _keep_home_name(customer, name)
        update_profile(customer, name, language, time_zone, country, tags)
        existing = {(p.kind, p.network, p.value): p for p in customer.contacts.all()}
        missing = [
            c for c in unique_contacts(contacts) if (c.kind, c.network, c.value) not in existing
        ]
        add_contacts(customer, missing, consent, actor, at, timeline, store)
        known = [
            existing[k]
            for k in dict.fromkeys((c.kind, c.network, c.value) for c in contacts)
            if k in existing
        ]
        # Typed again here: this store now knows the contact too (its earlier consent,
        # recorded elsewhere, stays that store's).
        link_contacts(known, store, at)
        apply_consent(known, consent, actor, at, timeline, store)
    if external_id:
        add_external_id(customer, store, external_id, new=created)
    if not created:
        link_store(customer, store, at, name=name, visit=visit)
    return customer, created


def _keep_home_name(customer: Customer, name: str) -> None:
    """Before another store's name replaces the customer's, pin the name the home store
    gave on its link when the link does not say (a link the importer wrote)."""
    if name.strip() and name.strip() != customer.name:
        CustomerStore.objects.filter(
            customer=customer, store_id=customer.home_store_id, name__isnull=True
        ).update(name=customer.name)



def merge_customers(
    survivor: Customer, other: Customer, actor: Actor, at: datetime | None = None
) -> Customer:
    """Fold ``other`` into ``survivor``: every visit, purchase, contact, consent and
    external id moves (the survivor answers to the ids of both, in every store).

    ``other`` stays as a tombstone pointing at the survivor, so its id keeps resolving.
    """
    if survivor.pk == other.pk:
        return survivor
    at = at or clock.now()
    with transaction.atomic():
        for link in CustomerStore.objects.filter(customer=other):
            link_store(survivor, link.store, link.first_seen_at)
            link_store(survivor, link.store, link.last_seen_at, visit=_visit_of(link))
            _merge_link_name(survivor, other, link)
        CustomerStore.objects.filter(customer=other).delete()
        end_overlap(survivor.pk, other.pk, at)
        for relation in Customer._meta.related_objects:
            if not relation.one_to_many or relation.related_model in (CustomerStore, Customer):
                continue
            relation.related_model._default_manager.filter(**{relation.field.name: other}).update(
                **{relation.field.name: survivor}
            )
        Customer.objects.filter(merged_into=other).update(merged_into=survivor)
        if other.commercial_held and not survivor.commercial_held:
            # The duplicate's open complaints moved above: their hold on offers comes too.
            Customer.objects.filter(pk=survivor.pk).update(commercial_held=True)
            survivor.commercial_held = True
        update_profile(
            survivor,
            other.name if not survivor.name else "",
            None,
            None,
            other.country,
            other.tags,
        )
        other.merged_into = survivor
        other.save(update_fields=["merged_into", "updated_at"])
        events.customers_merged(survivor, other, at, actor)
    return survivor


def _visit_of(link: CustomerStore) -> VisitMark | None:
    """The duplicate's last visit to a store, which the survivor's link keeps if later
    (the visits themselves move to the survivor below)."""
    if link.last_visit_at is None:
        return None
    return VisitMark(link.last_visit_at, link.last_visit_class, link.last_visit_staff_id)


def _merge_link_name(survivor: Customer, other: Customer, link: CustomerStore) -> None:
    """The name a store knew the duplicate by stays that store's, unless it already
    knows the survivor by one."""
    name = link.name
    if name is None and link.store_id == other.home_store_id:
        name = other.name
    if name:
        blank = models.Q(name="") | (
            models.Q(name__isnull=True) & ~models.Q(store_id=survivor.home_store_id)
        )
        CustomerStore.objects.filter(customer=survivor, store_id=link.store_id).filter(
            blank
        ).update(name=name)

