"""The reads of relationship health, each one query: what a refresh reads of one store's
records (set-shaped, streamed: never a query per customer), and what the pages read back.

A refresh reads up to the end of the store's ``today`` in its own time zone; days are the
store's calendar days, as ``health.rhythm`` counts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, Max, Q, QuerySet
from django.db.models.functions import TruncDate

from touchflow.customers.models import Customer
from touchflow.customers.visibility import Stores
from touchflow.delivery.models import CallResult, CallTask, TaskState
from touchflow.health.models import CustomerHealth, StoreFit
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

CHUNK = 20_000
# A call counts as two-way contact when someone talked to the customer.
REACHED = (CallResult.REACHED, CallResult.CALL_BACK)


def zone_of(store: Store) -> ZoneInfo:
    return ZoneInfo(store.time_zone)


def today_in(store: Store, now: datetime) -> date:
    """The store's calendar day at ``now``."""
    return now.astimezone(zone_of(store)).date()


def end_of(day: date, zone: ZoneInfo) -> datetime:
    """The first instant after ``day`` in ``zone``: what a refresh for ``day`` reads up to."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def purchase_days(store: Store, end: datetime) -> Iterator[tuple[int, date]]:
    """``(customer id, day)`` of every day a customer bought at the store before ``end``,
    once per day, ordered by customer and day."""
    rows = (Purchase.objects.filter(store=store, occurred_at__lt=end)
            .annotate(day=TruncDate("occurred_at", tzinfo=zone_of(store)))
            .values_list("customer_id", "day").distinct().order_by("customer_id", "day"))
    return rows.iterator(chunk_size=CHUNK)


def visit_days(store: Store, end: datetime) -> Iterator[tuple[int, date]]:
    """The same for the store's visits with a known customer."""
    rows = (Visit.objects.filter(store=store, customer__isnull=False, occurred_at__lt=end)
            .annotate(day=TruncDate("occurred_at", tzinfo=zone_of(store)))
            .values_list("customer_id", "day").distinct().order_by("customer_id", "day"))
    return rows.iterator(chunk_size=CHUNK)


def _two_way() -> Q:
    """Timeline rows that are two-way contact: the customer wrote (a STOP is not a
    conversation), a person answered them, or they answered a check-in. Chain messages
    and notices (welcomes, STOP confirmations) are one-way."""
    return ((Q(kind=EventKind.MESSAGE_IN) & ~Q(data__has_key="stop"))
            | Q(kind=EventKind.MESSAGE_OUT, staff__isnull=False)
            | Q(kind=EventKind.CHECK_IN_ANSWER))


def last_contacts(store: Store, end: datetime) -> dict[int, int]:
    """Customer id → the day (an ordinal) of their last two-way contact with the store
    before ``end`` other than a visit: a message either way between them and a person,
    a check-in answer, a call that reached them."""
    zone = zone_of(store)
    messages = (TimelineEvent.objects.filter(_two_way(), store=store, at__lt=end)
                .order_by().values("customer_id").annotate(last=Max("at"))
                .values_list("customer_id", "last"))
    calls = (CallTask.objects.filter(store=store, state=TaskState.DONE, result__in=REACHED,
                                     done_at__lt=end)
             .order_by().values("customer_id").annotate(last=Max("done_at"))
             .values_list("customer_id", "last"))
    found: dict[int, int] = {}
    for rows in (messages, calls):
        for customer_id, last in rows.iterator(chunk_size=CHUNK):
            day = last.astimezone(zone).date().toordinal()
            found[customer_id] = max(day, found.get(customer_id, day))
    return found


def never_marked() -> set[int]:
    """Customers never marked: merged tombstones and erased customers (``privacy``'s
    ``Erasure`` row, read through the relation: health does not import privacy)."""
    rows = Customer.objects.filter(Q(merged_into__isnull=False) | Q(erasure__isnull=False))
    return set(rows.values_list("pk", flat=True))


def fits(stores: Stores) -> QuerySet[StoreFit]:
    """The viewer's stores' current numbers, by store name."""
    rows = StoreFit.objects.select_related("store").order_by("store__name", "store_id")
    return rows if stores is None else rows.filter(store_id__in=stores)


def cold(store_id: int, segment: str) -> QuerySet[CustomerHealth]:
    """One store's cold customers of a segment, the ones just past their rhythm first
    (they are the ones a message can still bring back), merged tombstones left out."""
    return (CustomerHealth.objects.filter(store_id=store_id, segment=segment, cold=True,
                                          customer__merged_into__isnull=True)
            .select_related("customer")
            .order_by(F("ratio").asc(nulls_last=True), "customer_id"))


def cold_customers(store_id: int, segment: str) -> QuerySet[Customer]:
    """The live, unerased customers behind ``cold``: the set a chain is entered with."""
    ids = CustomerHealth.objects.filter(store_id=store_id, segment=segment, cold=True)
    return Customer.active.filter(pk__in=ids.values("customer_id"), erasure__isnull=True)


def of_customer(customer: Customer, stores: Stores) -> list[CustomerHealth]:
    """The customer's health in each of the viewer's stores that has it, by store name."""
    rows = CustomerHealth.objects.filter(customer=customer).select_related("store")
    if stores is not None:
        rows = rows.filter(store_id__in=stores)
    return list(rows.order_by("store__name", "store_id"))
