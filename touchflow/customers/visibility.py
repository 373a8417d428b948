"""What a store's staff or a store-bound token may see of a customer (decision 0008).

One person is one customer across the business's stores, but a store sees only what
its stores recorded: the name it was given, the contact points it took, the consent
events it recorded (and the customer's own withdrawals on those contacts), and the
timeline rows of its stores. Admins and unbound tokens see everything; they pass
``stores=None``.

Every reader (web pages, API answers, the counter's hint) asks here, so that the
rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet

from touchflow.customers.models import (
    ConsentEvent,
    ConsentPurpose,
    ContactPoint,
    ContactPointStore,
    Customer,
    CustomerExternalId,
    CustomerStore,
)
from touchflow.stores.models import Staff
from touchflow.timeline.models import EventKind, TimelineEvent

# None: every store (an admin, a token bound to no store).
Stores = frozenset[int] | None


def stores_of_staff(staff: Staff) -> Stores:
    """The stores whose records ``staff`` may see: None (all) for an admin."""
    if staff.is_admin:
        return None
    return frozenset(staff.stores.values_list("id", flat=True))


def stores_of_token(store_id: int | None) -> Stores:
    return None if store_id is None else frozenset({store_id})


@dataclass(frozen=True)
class Consent:
    """A contact point's consent as the viewer's stores recorded it (None: not asked)."""

    contact: bool | None = None
    marketing: bool | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ContactView:
    point: ContactPoint
    consent: Consent


@dataclass
class CustomerView:
    """One customer as seen from some stores."""

    customer: Customer
    name: str
    contacts: list[ContactView] = field(default_factory=list)
    # The home store, external id and tags belong to the record the home store made.
    sees_record: bool = True
    since: datetime | None = None
    store_ids: list[int] = field(default_factory=list)


def visible_customers(stores: Stores) -> QuerySet[Customer]:
    """Live customers who dealt with one of ``stores`` (all of them for None)."""
    qs = Customer.active.all()
    if stores is None:
        return qs
    return qs.filter(pk__in=CustomerStore.objects.filter(store_id__in=stores)
                     .values("customer_id"))


def point_links(point_ids: Collection[int]) -> dict[int, list[tuple[datetime, int]]]:
    """Contact point → the stores that recorded it, earliest first."""
    found: dict[int, list[tuple[datetime, int]]] = {}
    rows = ContactPointStore.objects.filter(contact_point_id__in=list(point_ids)).values_list(
        "contact_point_id", "first_seen_at", "store_id"
    )
    for pk, at, store_id in rows.order_by("first_seen_at", "id"):
        found.setdefault(pk, []).append((at, store_id))
    return found


def _recorders(point: ContactPoint | int, links: dict[int, list[tuple[datetime, int]]],
               home_store_id: int) -> list[int]:
    """The stores that recorded ``point`` (or the point of that id), its first recorder
    first (a point no store is linked to, written by the importer, is its customer's
    home store's)."""
    pk = point if isinstance(point, int) else point.pk
    return [s for _at, s in links.get(pk, [])] or [home_store_id]


def sees_point(point: ContactPoint | int, stores: Stores,
               links: dict[int, list[tuple[datetime, int]]], home_store_id: int) -> bool:
    return stores is None or bool(stores.intersection(_recorders(point, links, home_store_id)))


def _sees_event(event: ConsentEvent, stores: Stores) -> bool:
    return stores is None or event.store_id is None or event.store_id in stores


class _Facts:
    """What one customer's visibility is decided from, read once (four queries)."""

    def __init__(self, customer: Customer, stores: frozenset[int]) -> None:
        self.customer = customer
        self.stores = stores
        home = customer.home_store_id
        points = list(customer.contacts.all())
        links = point_links([p.pk for p in points])
        self.points = sorted((p for p in points if sees_point(p, stores, links, home)),
                             key=lambda p: (p.kind, p.pk))
        self.first_recorded = {p.pk for p in self.points
                               if _recorders(p, links, home)[0] in stores}
        by_pk = {p.pk: p for p in self.points}
        self.events = [
            e for e in ConsentEvent.objects.filter(contact_point_id__in=list(by_pk))
            .order_by("at", "id") if _sees_event(e, stores)
        ]
        for event in self.events:
            event.contact_point = by_pk[event.contact_point_id]
        self.links = list(CustomerStore.objects.filter(customer=customer, store_id__in=stores)
                          .order_by("first_seen_at", "id"))


def _facts(customer: Customer, stores: frozenset[int]) -> _Facts:
    """Read once per customer object and stores: a page asks for the view and the timeline."""
    memo: dict[frozenset[int], _Facts] = customer.__dict__.setdefault("_visibility", {})
    if stores not in memo:
        memo[stores] = _Facts(customer, stores)
    return memo[stores]


def _consent(points: list[ContactPoint], events: list[ConsentEvent]) -> dict[int, Consent]:
    """Each point's consent from the given events, latest per purpose."""
    state: dict[int, dict[str, bool]] = {p.pk: {} for p in points}
    updated: dict[int, datetime] = {}
    for event in events:
        state[event.contact_point_id][event.purpose] = event.granted
        updated[event.contact_point_id] = event.at
    return {
        pk: Consent(given.get(ConsentPurpose.CONTACT), given.get(ConsentPurpose.MARKETING),
                    updated.get(pk))
        for pk, given in state.items()
    }


def _link_name(customer: Customer, link: CustomerStore) -> str:
    return _recorded_name(link.name, link.store_id, customer.home_store_id, customer.name)


def _recorded_name(name: str | None, store_id: int, home_store_id: int,
                   own_name: str) -> str:
    """The name a store recorded on its link; a home-store link the importer wrote (name
    unknown) stands for the customer's own name, given at creation."""
    if name is None and store_id == home_store_id:
        return own_name
    return name or ""


def names_of(customers: Iterable[Customer], stores: Stores) -> dict[int, str]:
    """The name each customer has in the viewer's stores ("" when none of them was given one)."""
    customers = list(customers)
    if stores is None:
        return {c.pk: c.name for c in customers}
    by_pk = {c.pk: c for c in customers}
    names: dict[int, str] = {}
    links = CustomerStore.objects.filter(customer_id__in=list(by_pk), store_id__in=stores)
    for link in links.order_by("last_seen_at", "id"):
        name = _link_name(by_pk[link.customer_id], link)
        if name:
            names[link.customer_id] = name  # the latest store to give one wins
    return {pk: names.get(pk, "") for pk in by_pk}


def _name(customer: Customer, links: list[CustomerStore]) -> str:
    latest = sorted(links, key=lambda link: (link.last_seen_at, link.pk))
    return next((n for link in reversed(latest) if (n := _link_name(customer, link))), "")


@dataclass(frozen=True)
class Summary:
    """A customer's row in a list: the name and contact points the viewer may see."""

    customer: Customer
    name: str
    points: list[ContactPoint]


def summaries(customers: Iterable[Customer], stores: Stores) -> list[Summary]:
    """List rows for many customers in three queries (their contacts prefetched or not)."""
    customers = list(customers)
    names = names_of(customers, stores)
    points = {c.pk: sorted(c.contacts.all(), key=lambda p: (p.kind, p.pk)) for c in customers}
    if stores is not None:
        links = point_links([p.pk for ps in points.values() for p in ps])
        points = {c.pk: [p for p in points[c.pk]
                         if sees_point(p, stores, links, c.home_store_id)]
                  for c in customers}
    return [Summary(c, names[c.pk], points[c.pk]) for c in customers]


def summaries_at(pairs: Collection[tuple[Customer, int]]) -> dict[tuple[int, int], Summary]:
    """Each customer as one store of their own sees them, for many (customer, store id)
    pairs — a call task shows its customer to its store's staff: the name and contact
    points that ``names_of`` and ``visible_points`` give for that store alone, keyed by
    (customer id, store id), in three queries for any number of pairs."""
    pairs = list(pairs)
    by_pk = {c.pk: c for c, _store in pairs}
    names: dict[tuple[int, int], str] = {}
    links = CustomerStore.objects.filter(customer_id__in=list(by_pk),
                                         store_id__in={s for _c, s in pairs})
    for link in links.order_by("last_seen_at", "id"):
        name = _link_name(by_pk[link.customer_id], link)
        if name:
            names[(link.customer_id, link.store_id)] = name  # as names_of: the latest wins
    points: dict[int, list[ContactPoint]] = {pk: [] for pk in by_pk}
    for point in ContactPoint.objects.filter(customer_id__in=list(by_pk)).order_by("kind", "id"):
        points[point.customer_id].append(point)
    recorded = point_links([p.pk for ps in points.values() for p in ps])
    return {
        (c.pk, store): Summary(c, names.get((c.pk, store), ""), [
            p for p in points[c.pk]
            if sees_point(p, frozenset({store}), recorded, c.home_store_id)])
        for c, store in pairs
    }


@dataclass(frozen=True)
class Plain:
    """A customer as an export row needs them, read as plain values: the name and
    contact points (kind, network, value) the viewer may see, and which of the viewer's
    stores know them (``CustomerView.store_ids``)."""

    name: str
    points: list[tuple[str, str, str]]
    store_ids: list[int]


def plain_summaries(customers: Collection[tuple[int, int, str]],
                    stores: Stores) -> dict[int, Plain]:
    """``summaries`` for many customers given as (id, home store id, own name), without
    model instances — the same rules, for the customer list's CSV (two queries for an
    admin, three for a store)."""
    homes = {pk: (home, own) for pk, home, own in customers}
    ids = list(homes)
    names = dict.fromkeys(ids, "")
    known: dict[int, list[int]] = {pk: [] for pk in ids}
    links = CustomerStore.objects.filter(customer_id__in=ids)
    if stores is not None:
        links = links.filter(store_id__in=stores)
    for pk, store_id, name in links.order_by("last_seen_at", "id").values_list(
            "customer_id", "store_id", "name"):
        known[pk].append(store_id)
        recorded = _recorded_name(name, store_id, *homes[pk])
        if recorded:
            names[pk] = recorded  # the latest store to give one wins
    if stores is None:
        names = {pk: own for pk, (_home, own) in homes.items()}
    rows = list(ContactPoint.objects.filter(customer_id__in=ids).order_by("kind", "id")
                .values_list("id", "customer_id", "kind", "network", "value"))
    recorded_by = point_links([row[0] for row in rows]) if stores is not None else {}
    points: dict[int, list[tuple[str, str, str]]] = {pk: [] for pk in ids}
    for point_id, pk, kind, network, value in rows:
        if sees_point(point_id, stores, recorded_by, homes[pk][0]):
            points[pk].append((kind, network, value))
    return {pk: Plain(names[pk], points[pk], known[pk]) for pk in ids}


def visible_points(customer: Customer, stores: Stores) -> list[ContactPoint]:
    if stores is None:
        return sorted(customer.contacts.all(), key=lambda p: (p.kind, p.pk))
    return _facts(customer, stores).points


def view_of(customer: Customer, stores: Stores) -> CustomerView:
    """Everything about ``customer`` that ``stores`` may see, for a page or an answer."""
    if stores is None:
        points = sorted(customer.contacts.all(), key=lambda p: (p.kind, p.pk))
        consent = {p.pk: Consent(p.contact_consent, p.marketing_consent, p.consent_updated_at)
                   for p in points}
        store_ids = list(CustomerStore.objects.filter(customer=customer)
                         .order_by("first_seen_at", "id").values_list("store_id", flat=True))
        return CustomerView(customer, customer.name,
                            [ContactView(p, consent[p.pk]) for p in points],
                            True, customer.created_at, store_ids)
    facts = _facts(customer, stores)
    consent = _consent(facts.points, facts.events)
    sees_record = customer.home_store_id in stores
    first = facts.links[0].first_seen_at if facts.links else None
    return CustomerView(
        customer=customer,
        name=_name(customer, facts.links),
        contacts=[ContactView(p, consent[p.pk]) for p in facts.points],
        sees_record=sees_record,
        since=customer.created_at if sees_record else first,
        store_ids=[link.store_id for link in facts.links],
    )


def visible_timeline(customer: Customer, stores: Stores) -> list[TimelineEvent]:
    """The customer's timeline rows the viewer may see, oldest first.

    Rows with a store: that store's. Rows without one: a contact added by a store of the
    viewer (its first recorder), a consent event the viewer sees on a contact it sees,
    a merge of a duplicate that was the viewer's own customer. Anything else without a
    store is shown to admins only.
    """
    rows = _timeline_rows(customer, stores).order_by("at", "id")
    if stores is None:
        return list(rows)
    return _shown_rows(customer, stores, list(rows))


def _timeline_rows(customer: Customer, stores: Stores) -> QuerySet[TimelineEvent]:
    """The customer's rows that may be shown to ``stores`` (their own and the store-less
    ones, which ``_shown_rows`` sorts out)."""
    rows = TimelineEvent.objects.filter(customer=customer).select_related("store", "staff")
    if stores is None:
        return rows
    return rows.filter(Q(store_id__in=stores) | Q(store__isnull=True))


def latest_timeline(customer: Customer, stores: Stores, limit: int,
                    before: int | None = None) -> tuple[list[TimelineEvent], bool]:
    """The latest ``limit`` of the rows ``visible_timeline`` gives — of those older than
    the customer's row ``before`` (an id; one not of this customer's: the latest) —
    oldest first, and whether older ones remain. Reads ``limit + 1`` rows at a time,
    newest first, until that many are shown (store-less rows may not be)."""
    rows = _timeline_rows(customer, stores).order_by("-at", "-id")
    position = (TimelineEvent.objects.filter(customer=customer, pk=before)
                .values_list("at", "id").first() if before is not None else None)
    found: list[TimelineEvent] = []
    while True:
        older = rows if position is None else rows.filter(
            Q(at__lt=position[0]) | Q(at=position[0], id__lt=position[1]))
        chunk = list(older[: limit + 1])
        found += chunk if stores is None else _shown_rows(customer, stores, chunk)
        if len(found) > limit or len(chunk) <= limit:
            break
        position = (chunk[-1].at, chunk[-1].pk)
    return found[:limit][::-1], len(found) > limit


def _shown_rows(customer: Customer, stores: frozenset[int],
                rows_list: list[TimelineEvent]) -> list[TimelineEvent]:
    """Those of ``rows_list`` (``_timeline_rows``'s) that ``stores`` may see, in order."""
    facts = _facts(customer, stores)
    added = {(p.kind, p.value) for p in facts.points if p.pk in facts.first_recorded}
    # Rows written before consent rows carried their store (and the customer's own
    # requests, which carry none) are matched to the consent events the viewer sees.
    consents = {(e.contact_point.kind, e.contact_point.value, e.purpose, e.granted, e.at,
                 e.staff_id) for e in facts.events}
    merged_homes = _merged_homes(rows_list)

    def shown(row: TimelineEvent) -> bool:
        if row.store_id is not None:
            return True
        if row.kind == EventKind.CONTACT_ADDED:
            return (row.data.get("kind"), row.data.get("value")) in added
        if row.kind == EventKind.CONSENT:
            return (row.data.get("kind"), row.data.get("contact"), row.data.get("purpose"),
                    row.data.get("granted"), row.at, row.staff_id) in consents
        if row.kind == EventKind.MERGED:
            return merged_homes.get(row.data.get("merged_customer")) in stores
        return False

    return [row for row in rows_list if shown(row)]


def _merged_homes(rows: list[TimelineEvent]) -> dict[object, int]:
    ids = [r.data.get("merged_customer") for r in rows if r.kind == EventKind.MERGED]
    ids = [i for i in ids if isinstance(i, int)]
    if not ids:
        return {}
    return dict(Customer.objects.filter(pk__in=ids).values_list("pk", "home_store_id"))


def matches_visible(customer: Customer, contact_keys: Collection[tuple[str, str, str]],
                    external_id: str | None, stores: Stores) -> bool:
    """Whether ``stores`` may know that ``customer`` owns one of these contacts
    (kind, network, value) or this external id: only if they recorded it themselves."""
    if stores is None:
        return True
    if external_id and any(
        e.value == external_id and e.store_id in stores
        for e in CustomerExternalId.objects.filter(customer=customer)
    ):
        return True
    points = [p for p in customer.contacts.all() if (p.kind, p.network, p.value) in contact_keys]
    if not points:
        return False
    links = point_links([p.pk for p in points])
    return any(sees_point(p, stores, links, customer.home_store_id) for p in points)


def visible_point_ids(stores: Stores) -> QuerySet[ContactPoint]:
    """Contact points the viewer's stores recorded (for searching by a contact)."""
    if stores is None:
        return ContactPoint.objects.all()
    return ContactPoint.objects.filter(
        Q(store_links__store_id__in=stores)
        | Q(store_links__isnull=True, customer__home_store_id__in=stores)
    )


def customers_named(stores: Stores, query: str) -> list[QuerySet[Any]]:
    """Ids of the customers whose name, as ``stores`` recorded it, contains ``query``:
    the names their links were given, and the customer's own for a home link that has
    none (``_link_name``). Two sets, so that each reads its own index."""
    if stores is None:
        return [Customer.objects.filter(name__icontains=query).order_by().values("pk")]
    links = CustomerStore.objects.filter(store_id__in=stores).order_by()
    return [
        links.filter(name__icontains=query).values("customer_id"),
        links.filter(name__isnull=True, store_id=F("customer__home_store_id"),
                     customer__name__icontains=query).values("customer_id"),
    ]


def named_links(stores: Stores, query: str) -> QuerySet[CustomerStore]:
    """Links of the viewer's stores whose name (as that store recorded it) contains ``query``."""
    links = CustomerStore.objects.filter(
        Q(name__icontains=query)
        | Q(name__isnull=True, store_id=F("customer__home_store_id"),
            customer__name__icontains=query)
    )
    if stores is not None:
        links = links.filter(store_id__in=stores)
    return links
