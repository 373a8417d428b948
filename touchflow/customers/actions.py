"""Every write to customers, contact points and consent goes through here, or through
``funnel.customers`` where it touches chains too (finding a customer by the contacts
given, merging two records of one person).

``check_*`` functions validate and normalise; the others write, and write the
timeline row of what they did in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest, Least

from touchflow.core import clock
from touchflow.core.contacts import (
    normalize_email,
    normalize_handle,
    normalize_phone,
    normalize_telegram,
)
from touchflow.core.errors import InvalidInput
from touchflow.customers import suppression
from touchflow.customers.models import (
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    ContactKind,
    ContactPoint,
    ContactPointStore,
    Customer,
    CustomerExternalId,
    CustomerStore,
    OptInToken,
)
from touchflow.integrations.actor import Actor
from touchflow.stores.models import LANGUAGE_CHOICES, Staff, Store, validate_time_zone
from touchflow.timeline import events
from touchflow.timeline.models import TimelineEvent

LANGUAGES = {code for code, _ in LANGUAGE_CHOICES}


@dataclass(frozen=True)
class ContactInput:
    """A contact point after normalisation."""

    kind: str
    value: str
    network: str = ""


@dataclass(frozen=True)
class ConsentGrant:
    """What the customer agreed to when giving their contacts."""

    contact: bool = True
    marketing: bool = False


def check_contact(
    kind: str, value: str, *, region: str | None, network: str = "", field: str | None = None
) -> ContactInput:
    """Validate and normalise one contact point; raise InvalidInput naming ``field``."""
    name = field or kind
    if kind in (ContactKind.PHONE, ContactKind.VIBER, ContactKind.WHATSAPP):
        return ContactInput(kind, normalize_phone(value, region, field=name))
    if kind == ContactKind.EMAIL:
        return ContactInput(kind, normalize_email(value, field=name))
    if kind == ContactKind.TELEGRAM:
        return ContactInput(kind, normalize_telegram(value, field=name))
    if kind == ContactKind.OTHER:
        if not network.strip():
            raise InvalidInput(f"{name}.network", "Say which social network this is.", "required")
        return ContactInput(kind, normalize_handle(value, field=name), network.strip().casefold())
    raise InvalidInput(f"{name}.kind", f"Unknown contact kind {kind!r}.", "invalid_choice")


def check_profile(language: str | None, time_zone: str | None) -> None:
    if language is not None and language not in LANGUAGES:
        raise InvalidInput(
            "language", f"Language must be one of {sorted(LANGUAGES)}.", "invalid_choice"
        )
    if time_zone is not None:
        try:
            validate_time_zone(time_zone)
        except Exception as exc:
            raise InvalidInput(
                "time_zone", f"Unknown time zone {time_zone!r}.", "invalid_choice"
            ) from exc


def resolve(customer: Customer) -> Customer:
    """Follow merge tombstones to the customer that lives on."""
    seen = 0
    while customer.merged_into_id is not None and seen < 50:
        customer = Customer.objects.get(pk=customer.merged_into_id)
        seen += 1
    return customer


def find_customer(
    contacts: Iterable[ContactInput] = (),
    external_id: str | None = None,
    store: Store | None = None,
) -> list[Customer]:
    """Every live customer that owns one of these contacts or this external id, oldest first.

    External ids are scoped per store (decision 0010): ``external_id`` is looked up
    among ``store``'s ids only; without a store (an admin's or an unbound token's
    search), among every store's.
    """
    found: dict[int, Customer] = {}
    if external_id:
        owners = CustomerExternalId.objects.filter(value=external_id)
        if store is not None:
            owners = owners.filter(store=store)
        owner_ids = list(owners.values_list("customer_id", flat=True))
        for c in Customer.objects.filter(pk__in=owner_ids):
            live = resolve(c)
            found[live.pk] = live
    query = models.Q()
    for contact in contacts:
        query |= models.Q(kind=contact.kind, network=contact.network, value=contact.value)
    if query:
        ids = ContactPoint.objects.filter(query).values_list("customer_id", flat=True)
        for c in Customer.objects.filter(pk__in=list(ids)):
            live = resolve(c)
            found[live.pk] = live
    return [found[pk] for pk in sorted(found)]


@dataclass(frozen=True)
class VisitMark:
    """A visit as its store's link to the customer keeps it (decision 0027): when, its
    class (a ``visits.classification.VisitClass`` value) and who served it."""

    at: datetime
    visit_class: str
    staff_id: int | None


def link_store(
    customer: Customer, store: Store, at: datetime, *, new: bool = False, name: str = "",
    visit: VisitMark | None = None,
) -> None:
    """Record that the customer dealt with this store at ``at`` (and, with ``name``,
    that this store knows them by that name: decision 0008; with ``visit``, that this
    was a visit, which the link keeps if it is the latest: decision 0027).

    ``new`` says the customer was created in this transaction, so no link can exist yet.
    One statement either way: the visit rides on the update every link gets.
    """
    name = name.strip()[:200]
    if not new:
        change: dict[str, object] = {
            "first_seen_at": Least("first_seen_at", Value(at)),
            "last_seen_at": Greatest("last_seen_at", Value(at)),
        }
        if name:
            change["name"] = name
        if visit is not None:
            change.update(_latest_visit(visit))
        if CustomerStore.objects.filter(customer=customer, store=store).update(**change):
            return
    CustomerStore.objects.create(
        customer=customer, store=store, first_seen_at=at, last_seen_at=at, name=name,
        last_visit_at=visit.at if visit else None,
        last_visit_class=visit.visit_class if visit else "",
        last_visit_staff_id=visit.staff_id if visit else None,
    )


def _latest_visit(visit: VisitMark) -> dict[str, Case]:
    """The link's visit columns, replaced by ``visit`` unless the link knows a later one.

    At the same instant the visit written last wins, as its higher id would: the
    recount in migration 0013 orders by (time, id). Every right-hand side reads the row
    as it was before the update, on PostgreSQL and SQLite alike."""
    later = Q(last_visit_at__isnull=True) | Q(last_visit_at__lte=visit.at)

    def newest(value: object, column: str, field: models.Field[Any, Any]) -> Case:
        return Case(When(later, then=Value(value, output_field=field)),
                    default=F(column), output_field=field)

    return {
        "last_visit_at": newest(visit.at, "last_visit_at", models.DateTimeField()),
        "last_visit_class": newest(visit.visit_class, "last_visit_class", models.CharField()),
        "last_visit_staff_id": newest(visit.staff_id, "last_visit_staff_id",
                                      models.IntegerField()),
    }


def link_contacts(points: Iterable[ContactPoint], store: Store | int, at: datetime) -> None:
    """Record that ``store`` recorded these contact points, so its staff see them.

    A point no store is linked to (written by the importer) is its customer's home
    store's (``visibility``): it is linked to that store first, as of its creation, so
    that the home store keeps seeing it once another store is linked too.
    """
    store_id = store if isinstance(store, int) else store.pk
    points = list(points)
    # The home store's rows first: where it is the linking store too, its row (one per
    # point and store) keeps the point's creation time.
    rows = _home_links(points)
    rows.extend(ContactPointStore(contact_point=p, store_id=store_id, first_seen_at=at)
                for p in points)
    ContactPointStore.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)


def _home_links(points: Sequence[ContactPoint]) -> list[ContactPointStore]:
    linked: set[int] = set()
    for start in range(0, len(points), 1000):
        linked.update(ContactPointStore.objects.filter(
            contact_point_id__in=[p.pk for p in points[start : start + 1000]]
        ).values_list("contact_point_id", flat=True))
    unlinked = [p for p in points if p.pk not in linked]
    if not unlinked:
        return []
    customer_ids = sorted({p.customer_id for p in unlinked})
    homes: dict[int, int] = {}
    for start in range(0, len(customer_ids), 1000):
        homes.update(Customer.objects.filter(pk__in=customer_ids[start : start + 1000])
                     .values_list("pk", "home_store_id"))
    return [
        ContactPointStore(contact_point=p, store_id=homes[p.customer_id],
                          first_seen_at=p.created_at)
        for p in unlinked
    ]


def withhold(
    points: Sequence[ContactPoint], at: datetime, timeline: list[TimelineEvent] | None = None
) -> int:
    """Record consent withdrawn on every new point whose contact is on the suppression
    list (an erased customer's, ``suppression``); how many. With ``timeline``, the
    consent rows go there for the caller to write."""
    found = suppression.suppressed(points)
    actor = Actor.system(ConsentSource.CUSTOMER)
    for point in found:
        for purpose in (ConsentPurpose.CONTACT, ConsentPurpose.MARKETING):
            record_consent(point, purpose, False, actor, at, note=suppression.NOTE,
                           timeline=timeline)
    return len(found)


def record_consent(
    contact: ContactPoint,
    purpose: str,
    granted: bool,
    actor: Actor,
    at: datetime | None = None,
    note: str = "",
    timeline: list[TimelineEvent] | None = None,
    store: Store | None = None,
) -> ConsentEvent | None:
    """Grant or withdraw one purpose on one contact point. A no-op if nothing changes,
    neither the contact's state nor what the recording store last recorded.

    With ``timeline``, the timeline row is appended there for the caller to write.
    ``store``: where it was given or withdrawn (default: the actor's token's store; none
    for the customer's own request); that store then counts as recording the contact.
    """
    field = "contact_consent" if purpose == ConsentPurpose.CONTACT else "marketing_consent"
    at = at or clock.now()
    event = _consent_event(contact, purpose, granted, actor, at, note, store)
    changed = getattr(contact, field) is not granted
    # Unchanged, but news to this store: it recorded it, so it sees it (decision 0008).
    if not changed and not _news_to_store(event):
        return None
    if event.store_id is not None:
        link_contacts([contact], event.store_id, at)
    event.save()
    if changed:
        setattr(contact, field, granted)
        contact.consent_updated_at = at
        contact.save(update_fields=[field, "consent_updated_at"])
    row = events.consent_changed_row(event)
    if timeline is None:
        row.save()
    else:
        timeline.append(row)
    return event


def _news_to_store(event: ConsentEvent) -> bool:
    """Whether a store's own record of this purpose says otherwise: the event's store's
    (its latest), or for the customer's own request (no store, seen by every store) any
    store's since that request was last recorded."""
    if event.store_id is None:
        same = ConsentEvent.objects.filter(contact_point_id=event.contact_point_id,
                                           purpose=event.purpose)
        last_own = same.filter(store__isnull=True, granted=event.granted).order_by("-at").first()
        other = same.exclude(granted=event.granted)
        if last_own is not None:
            other = other.filter(at__gt=last_own.at)
        return other.exists()
    last = (
        ConsentEvent.objects.filter(contact_point_id=event.contact_point_id,
                                    store_id=event.store_id, purpose=event.purpose)
        .order_by("-at", "-id").values_list("granted", flat=True).first()
    )
    return last is not event.granted


def _consent_event(
    contact: ContactPoint, purpose: str, granted: bool, actor: Actor, at: datetime,
    note: str = "", store: Store | None = None,
) -> ConsentEvent:
    if store is None and actor.integration is not None:
        store_id = actor.integration.store_id
    else:
        store_id = store.pk if store is not None else None
    return ConsentEvent(
        store_id=store_id,
        contact_point=contact,
        customer_id=contact.customer_id,
        purpose=purpose,
        granted=granted,
        source=actor.source,
        staff=actor.staff,
        integration=actor.integration,
        at=at,
        note=note[:500],
    )


def add_contacts(
    customer: Customer,
    contacts: Sequence[ContactInput],
    consent: ConsentGrant | None,
    actor: Actor,
    at: datetime,
    timeline: list[TimelineEvent],
    store: Store | None = None,
) -> list[ContactPoint]:
    """Create new contact points with their consent already in place: one insert for
    the points and one for their consent events, however many there are. ``store``
    recorded them."""
    points = [
        ContactPoint(
            customer=customer,
            kind=c.kind,
            network=c.network,
            value=c.value,
            created_at=at,
            contact_consent=consent.contact if consent else None,
            marketing_consent=(True if consent and consent.marketing else None),
            consent_updated_at=at if consent else None,
        )
        for c in contacts
    ]
    ContactPoint.objects.bulk_create(points)
    if store is not None:
        link_contacts(points, store, at)
    granted = []
    for point in points:
        timeline.append(events.contact_added_row(point, actor))
        if consent is not None:
            granted.append(
                _consent_event(point, ConsentPurpose.CONTACT, consent.contact, actor, at,
                               store=store)
            )
            if consent.marketing:
                granted.append(_consent_event(point, ConsentPurpose.MARKETING, True, actor, at,
                                              store=store))
    ConsentEvent.objects.bulk_create(granted)
    timeline.extend(events.consent_changed_row(event) for event in granted)
    withhold(points, at, timeline)
    return points


def apply_consent(
    points: Sequence[ContactPoint],
    consent: ConsentGrant | None,
    actor: Actor,
    at: datetime,
    timeline: list[TimelineEvent],
    store: Store | None = None,
) -> None:
    """Consent given again for contacts already on file: record what changed."""
    if consent is None:
        return
    for point in points:
        record_consent(point, ConsentPurpose.CONTACT, consent.contact, actor, at,
                       timeline=timeline, store=store)
        if consent.marketing or point.marketing_consent is not None:
            record_consent(
                point, ConsentPurpose.MARKETING, consent.marketing, actor, at, timeline=timeline,
                store=store,
            )


def create_customer(
    store: Store,
    actor: Actor,
    at: datetime,
    timeline: list[TimelineEvent],
    *,
    name: str = "",
    language: str | None = None,
    time_zone: str | None = None,
    country: str = "",
    tags: Sequence[str] = (),
    visit: VisitMark | None = None,
) -> Customer:
    """A new customer of ``store`` (its language and zone unless given), with the
    ``customer_created`` row appended to ``timeline``, linked to the store under the name
    it was given (with ``visit``, the visit they were met at: decision 0027). The one
    place a customer is created one at a time: ``resolve_customer`` (counter, API) and
    the QR opt-in; the importer writes the same columns in bulk."""
    customer = Customer.objects.create(
        name=name.strip()[:200],
        language=language or store.language,
        time_zone=time_zone or store.time_zone,
        country=country,
        tags=sorted(set(tags)),
        home_store=store,
        created_at=at,
    )
    timeline.append(events.customer_created_row(customer, actor))
    link_store(customer, store, at, new=True, name=name, visit=visit)
    return customer


def unique_contacts(contacts: Sequence[ContactInput]) -> list[ContactInput]:
    return list(dict.fromkeys(contacts))


def update_profile(
    customer: Customer,
    name: str,
    language: str | None,
    time_zone: str | None,
    country: str,
    tags: Sequence[str],
) -> None:
    """Fill in what the customer record lacks; never overwrite with blanks."""
    changed = []
    if name.strip() and name.strip() != customer.name:
        customer.name = name.strip()[:200]
        changed.append("name")
    if language and language != customer.language:
        customer.language = language
        changed.append("language")
    if time_zone and time_zone != customer.time_zone:
        customer.time_zone = time_zone
        changed.append("time_zone")
    if country and not customer.country:
        customer.country = country
        changed.append("country")
    if tags and not set(tags) <= set(customer.tags):
        customer.tags = sorted(set(customer.tags) | set(tags))
        changed.append("tags")
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])


def add_external_id(customer: Customer, store: Store, value: str, *, new: bool = False) -> None:
    """Record ``value`` as the customer's id in ``store``'s POS, unless it already is.

    ``resolve_customer`` looked the id up first, so within the store it belongs to no one
    else; a concurrent writer that got in first surfaces as IntegrityError. ``new``: the
    customer was created in this transaction, so the id cannot be recorded yet.
    """
    if new or not CustomerExternalId.objects.filter(store=store, value=value).exists():
        CustomerExternalId.objects.create(customer=customer, store=store, value=value)


def visible_customers(staff: Staff) -> models.QuerySet[Customer]:
    """The customers a staff member may see: all for admins, their stores' for others.

    What of each customer they may see: ``customers.visibility``."""
    qs = Customer.active.all()
    if staff.is_admin:
        return qs
    return qs.filter(pk__in=CustomerStore.objects.filter(store__staff=staff).values("customer_id"))


def create_optin_token(
    store: Store,
    staff: Staff | None,
    channel: str = ContactKind.TELEGRAM,
    at: datetime | None = None,
) -> OptInToken:
    """A fresh single-use token for the counter screen's QR code."""
    at = at or clock.now()
    return OptInToken.objects.create(
        token=secrets.token_urlsafe(16),
        channel=channel,
        store=store,
        staff=staff,
        created_at=at,
        expires_at=at + timedelta(hours=settings.TOUCHFLOW_OPTIN_TOKEN_TTL_HOURS),
    )
