"""The manager's customer list (issue 11, decision 0027): the viewer's customers as
store links — one per customer — filtered on what the links keep of the last visit,
on the customer's tags, and on any condition the caller adds (going cold, in a chain),
in one of a few orders.

A customer seen from several stores is listed once, by the link of their latest visit
among those stores (``latest_links``): "the type of the last visit" is the type of
that visit. Nothing here reads visits: the link carries the last visit (``actions.link_store``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import NotSupportedError, connections, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    Func,
    OrderBy,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Lower, NullIf

from touchflow.customers.models import CustomerStore
from touchflow.customers.visibility import Stores

SORTS = ("newest", "oldest", "name", "last_visit")
# What a link without a visit sorts as when links are compared by their last visit.
_NEVER = datetime(1900, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Listing:
    """What to list. ``stores``: the viewer's (None: every store); ``store``: one of
    them chosen; ``conditions``: filters on the link (a search on its ``customer_id``,
    ``Exists`` on ``OuterRef("customer_id")``) that must hold; ``among``: the customers
    to start from (``InCustomers``)."""

    stores: Stores
    store: int | None = None
    visit_class: str = ""
    seller: int | None = None
    tag: str = ""
    sort: str = "newest"
    conditions: Sequence[Any] = ()
    # Customer ids (a query) that the listed are among, read first and whole: for a set
    # far smaller than the scope's links, such as one segment's customers going cold.
    among: QuerySet[Any] | None = None

    @property
    def scope(self) -> Stores:
        """The stores whose links are looked at."""
        return self.stores if self.store is None else frozenset({self.store})


def links(listing: Listing) -> QuerySet[CustomerStore]:
    """One link per listed customer, in the listing's order, with the customer, the
    store and the last visit's seller read along."""
    if listing.sort not in SORTS:
        raise ValueError(f"unknown sort {listing.sort!r}")
    # No test of the customer being merged: a merge deletes the duplicate's links.
    rows = latest_links(listing.scope)
    if listing.visit_class:
        rows = rows.filter(last_visit_class=listing.visit_class)
    if listing.seller is not None:
        rows = rows.filter(last_visit_staff_id=listing.seller)
    if listing.tag:
        rows = rows.filter(tagged(listing.tag, listing.stores))
    for condition in listing.conditions:
        rows = rows.filter(condition)
    if listing.among is not None:
        rows = rows.filter(InCustomers(F("customer_id"), Subquery(listing.among.order_by())))
        # The planner cannot size a set read first (it takes it for ten rows): joined, it
        # plans a page as a handful of rows to sort and reads every match, seconds at 1M
        # customers. The page's rows are read along after it instead (four queries).
        return rows.prefetch_related(*ALONG).order_by(*_order(listing))
    return rows.select_related(*ALONG).order_by(*_order(listing))


# What a page shows of a link besides the link: read along with it.
ALONG = ("customer__home_store", "store", "last_visit_staff")


def by_pk(pks: Sequence[int]) -> QuerySet[CustomerStore]:
    """The links ``pks`` with what a page shows of them: a page of a list whose matches
    were read first as ids (``web.paging.CappedPaginator``)."""
    return CustomerStore.objects.filter(pk__in=pks).select_related(*ALONG)


def latest_links(scope: Stores) -> QuerySet[CustomerStore]:
    """The links of ``scope``'s stores, one per customer: of a customer known to several,
    the link of their latest visit (a link without a visit counts as oldest; among equals
    the later link)."""
    rows = CustomerStore.objects.all()
    if scope is not None:
        rows = rows.filter(store_id__in=scope)
    if scope is not None and len(scope) == 1:
        return rows
    key = Coalesce("last_visit_at", Value(_NEVER, output_field=DateTimeField()))
    outer = Coalesce(OuterRef("last_visit_at"), Value(_NEVER, output_field=DateTimeField()))
    later = (CustomerStore.objects.filter(customer_id=OuterRef("customer_id"))
             .alias(key=key)
             .filter(Q(key__gt=outer) | Q(key=outer, pk__gt=OuterRef("pk"))))
    if scope is not None:
        later = later.filter(store_id__in=scope)
    # A HAVING makes PostgreSQL run the subquery per candidate row (one probe of the
    # unique (customer, store) index) instead of turning it into an anti-join, which it
    # plans as a hash of every link of the scope when the rows counted are many
    # (decision 0027).
    counted = later.values("customer_id").annotate(n=Count("pk")).filter(n__gt=0)
    return rows.filter(~Exists(counted))


class InCustomers(Func):
    """``column`` is one of the subquery's values: on PostgreSQL ``= ANY(ARRAY(…))``, an
    init plan run once, before the links, which are then read by its ids in the index's
    order — as ``Exists`` or ``IN`` the planner may walk the links instead, each probed
    for a later link of its customer before the set is asked. Elsewhere ``IN``."""

    output_field = BooleanField()

    def as_sql(self, compiler: Any, connection: Any, function: str | None = None,
               template: str | None = None, arg_joiner: str | None = None,
               **extra_context: Any) -> Any:
        column, subquery, params = self._sides(compiler)
        return f"{column} IN {subquery}", params

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        column, subquery, params = self._sides(compiler)
        return f"{column} = ANY(ARRAY{subquery})", params

    def _sides(self, compiler: Any) -> tuple[str, str, tuple[Any, ...]]:
        column, column_params = compiler.compile(self.source_expressions[0])
        subquery, subquery_params = compiler.compile(self.source_expressions[1])
        return column, subquery, (*column_params, *subquery_params)


def tagged(tag: str, stores: Stores) -> Q:
    """Customers whose tags hold ``tag`` — of whom the viewer may see the tags: only the
    home store sees them (decision 0008), so another store's tag finds nobody."""
    found = Q(TagsContain(F("customer__tags"), tag))
    if stores is not None:
        found &= Q(customer__home_store_id__in=stores)
    return found


class TagsContain(Func):
    """Whether a JSON list of strings holds ``tag``, exactly (not a substring).

    Django's ``contains`` on a JSON field is PostgreSQL's only: there it is ``@>``
    (which migration 0013's GIN index serves); on SQLite the list's elements are read
    with ``json_each``."""

    output_field = BooleanField()

    def __init__(self, tags: Any, tag: str) -> None:
        super().__init__(tags)
        self.tag = tag

    def as_sql(self, compiler: Any, connection: Any, function: str | None = None,
               template: str | None = None, arg_joiner: str | None = None,
               **extra_context: Any) -> Any:
        raise NotSupportedError(f"tags cannot be searched on {connection.vendor}")

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} @> %s::jsonb)", (*params, json.dumps([self.tag]))

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return (f"EXISTS (SELECT 1 FROM json_each({sql}) AS tag "
                "WHERE tag.type = 'text' AND tag.value = %s)", (*params, self.tag))


def _order(listing: Listing) -> list[Any]:
    if listing.sort == "oldest":
        return ["customer_id"]
    if listing.sort == "last_visit":
        return [F("last_visit_at").desc(nulls_last=True), "-customer_id"]
    if listing.sort == "name":
        return [OrderBy(NullIf(Lower(shown_name(listing.stores)), Value("")),
                        nulls_last=True), "customer_id"]
    return ["-customer_id"]


def shown_name(stores: Stores) -> Any:
    """The name the list shows (``visibility.names_of``) as an expression on a link: the
    customer's own for an admin; for a store, the name it recorded on its link (a home
    link the importer wrote, with none, stands for the customer's); for several stores,
    that of the latest link (by last seen) that has one."""
    if stores is None:
        return F("customer__name")
    if len(stores) == 1:
        return _link_name()
    named = (CustomerStore.objects.filter(customer_id=OuterRef("customer_id"),
                                          store_id__in=stores)
             .annotate(shown=_link_name()).exclude(shown="")
             .order_by("-last_seen_at", "-pk").values("shown")[:1])
    return Coalesce(Subquery(named, output_field=CharField()), Value(""))


def _link_name() -> Case:
    """A link's name as its store sees it (``visibility._link_name``)."""
    home = Q(name__isnull=True, store_id=F("customer__home_store_id"))
    return Case(When(home, then=F("customer__name")),
                default=Coalesce("name", Value("")), output_field=CharField())


def batches(rows: QuerySet[Any, Any], size: int) -> Iterator[list[Any]]:
    """``rows`` in lists of ``size``, read from one cursor, so a million links never sit
    in memory at once. On PostgreSQL the cursor is a server-side one inside a read
    transaction: outside one Django declares it ``WITH HOLD``, which makes PostgreSQL
    compute every row before handing over the first. (On SQLite a transaction would be
    ``IMMEDIATE``, holding off every writer for the whole export: its cursor streams
    without one.)"""
    if connections[rows.db].vendor != "postgresql":
        yield from _batches(rows, size)
        return
    with transaction.atomic(using=rows.db):
        yield from _batches(rows, size)


def _batches(rows: QuerySet[Any, Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows.iterator(chunk_size=size):
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
