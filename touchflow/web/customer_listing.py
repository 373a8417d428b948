"""The customer list's filters, rows and CSV (issue 11, decision 0027).

Every filter is a GET parameter, so a view can be shared: ``q`` (search), ``store``,
``seller``, ``visit_class`` (of the last visit), ``chain`` (in it now), ``cold``
(buyers, prospects, any), ``tag``, ``sort``, ``page``; ``csv=1`` (or ``format=csv``)
exports every matching customer. A value the viewer may not choose is refused by name
and left out, never widened to another store. What the viewer sees of each customer —
name, contacts, tags — is ``customers.visibility``'s to decide (decision 0008).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.query import prefetch_related_objects
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from touchflow.core import text as limits
from touchflow.core.errors import InvalidInput
from touchflow.core.text import check_text
from touchflow.customers import listing, visibility
from touchflow.customers.models import ContactKind, ContactPoint, CustomerStore
from touchflow.flows.models import Enrollment, EnrollmentState, Flow
from touchflow.health.models import CustomerHealth, Segment
from touchflow.stores.models import Staff, Store
from touchflow.visits.classification import VisitClass
from touchflow.web import paging
from touchflow.web.errors import message

PAGE_SIZE = 25
# A page counts at most this many matches ("more than 1,000": ``paging.CappedPaginator``),
# and sorts by name only that many: counting or sorting a million links on every page view
# is what would make the list slow (decision 0027, with the measurements). The CSV has
# every match.
COUNT_CAP = paging.COUNT_CAP
CSV_BATCH = 2000
COLD_ANY = "any"
COLD = (Segment.BUYERS.value, Segment.PROSPECTS.value, COLD_ANY)
PHONES = (ContactKind.PHONE, ContactKind.VIBER, ContactKind.WHATSAPP)
_PHONE_NOISE = re.compile(r"[\s().\-/]")
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


@dataclass
class Filters:
    query: str = ""
    store: Store | None = None
    seller: Staff | None = None
    visit_class: str = ""
    chain: Flow | None = None
    cold: str = ""
    tag: str = ""
    sort: str = "newest"
    problems: list[str] = field(default_factory=list)
    query_error: str = ""

    def params(self, **more: Any) -> dict[str, Any]:
        """The filters as URL parameters (with ``more``), blanks and defaults left out."""
        values = {"q": self.query, "store": self.store.pk if self.store else "",
                  "seller": self.seller.pk if self.seller else "",
                  "visit_class": self.visit_class, "chain": self.chain.slug if self.chain else "",
                  "cold": self.cold, "tag": self.tag,
                  "sort": "" if self.sort == "newest" else self.sort, **more}
        return {k: v for k, v in values.items() if v not in ("", None)}

    @property
    def narrowed(self) -> bool:
        return bool(self.store or self.seller or self.visit_class or self.chain or self.cold
                    or self.tag)


def stores_of(visible: visibility.Stores) -> list[Store]:
    """The stores the viewer may choose (``visibility.stores_of_staff``): an admin's
    all, anyone else's their own."""
    rows = Store.objects.order_by("name", "pk")
    return list(rows if visible is None else rows.filter(pk__in=visible))


def sellers_of(staff: Staff, stores: list[Store]) -> list[Staff]:
    """Whom the viewer may filter by: a manager any seller of their stores; a salesperson
    only themselves ("served by me"), as the dashboard shows a salesperson only their
    own figures — counting a colleague's customers by the type of visit would be those."""
    if not staff.is_manager:
        return [staff]
    rows = Staff.objects.filter(stores__in=stores).distinct().order_by("username")
    return list(rows)


def parse(get: Any, stores: list[Store], sellers: list[Staff]) -> Filters:
    """The filters of a request's GET parameters; each refused value named in
    ``problems`` (or, for the search box, ``query_error``) and left out."""
    found = Filters(query=get.get("q", ""))
    try:
        check_text("q", found.query, limits.SEARCH)
    except InvalidInput as exc:
        found.query_error = message(exc)
    problems = found.problems
    found.store = _pick(get.get("store"), {str(s.pk): s for s in stores}, "store", problems)
    found.seller = _pick(get.get("seller"), {str(s.pk): s for s in sellers}, "seller",
                         problems)
    found.visit_class = _pick(get.get("visit_class"), {v: v for v in VisitClass.values},
                              "visit_class", problems) or ""
    slug = get.get("chain")
    if slug:
        # Only a slug is looked up: a NUL byte is not even a query on PostgreSQL.
        if _SLUG.fullmatch(slug):
            found.chain = Flow.objects.filter(slug=slug).first()
        if found.chain is None:
            problems.append(_not_offered("chain"))
    found.cold = _pick(get.get("cold"), {v: v for v in COLD}, "cold", problems) or ""
    found.tag = _tag(get.get("tag", ""), problems)
    sort = get.get("sort") or "newest"
    if sort in listing.SORTS:
        found.sort = sort
    else:
        problems.append(_("%(field)s: not one of the offered orders; showing the newest "
                          "first.") % {"field": "sort"})
    return found


def too_many_to_sort() -> str:
    problem = ngettext(
        "by name only when at most %(count)d customer matches; showing the newest first.",
        "by name only when at most %(count)d customers match; showing the newest first.",
        COUNT_CAP) % {"count": COUNT_CAP}
    return _("%(field)s: %(problem)s") % {"field": "sort", "problem": problem}


def _not_offered(name: str) -> str:
    return _("%(field)s: not one you can choose; showing all.") % {"field": name}


def _pick(raw: str | None, choices: dict[str, Any], name: str, problems: list[str]) -> Any:
    if not raw:
        return None
    if raw not in choices:
        problems.append(_not_offered(name))
        return None
    return choices[raw]


def _tag(raw: str, problems: list[str]) -> str:
    try:
        return check_text("tag", raw.strip(), limits.NAME)
    except InvalidInput as exc:
        problems.append(_("%(field)s: %(problem)s") % {"field": "tag", "problem": message(exc)})
        return ""


def search(query: str, stores: visibility.Stores = None) -> QuerySet[Any]:
    """A store link's customer has a name or contact containing ``query``, as far as
    ``stores`` recorded them (a name or contact another store recorded finds nobody).

    Phone numbers are stored in E.164, so the typed digits are also matched without
    spaces, dashes and brackets ("501 234-567" finds +48501234567). Each way of matching
    is a set of its own, so each can use its own index (decision 0027).
    """
    query = query.strip()
    contact = Q(value__icontains=query)
    digits = _PHONE_NOISE.sub("", query)
    if digits and digits != query and digits.lstrip("+").isdigit():
        contact |= Q(value__icontains=digits)
    by_contact = (visibility.visible_point_ids(stores).filter(contact).order_by()
                  .values("customer_id"))
    # One set (a UNION), so that PostgreSQL starts from the customers found rather than
    # testing every link of the stores against three sets.
    return by_contact.union(*visibility.customers_named(stores, query))


def build(filters: Filters, stores: visibility.Stores) -> listing.Listing:
    """What to list for ``filters`` seen from ``stores`` (the viewer's; None: all)."""
    chosen = filters.store.pk if filters.store else None
    scope = stores if chosen is None else frozenset({chosen})
    conditions: list[Any] = []
    among = None
    if filters.cold and _cold_first(filters):
        among = _cold_rows(filters.cold, scope).values("customer_id")
    elif filters.cold:
        conditions.append(_cold(filters.cold, scope))
    if filters.chain is not None:
        conditions.append(_in_chain(filters.chain, scope))
    if filters.query.strip():
        # The customers found are read first, whole (``listing.InCustomers``): then the
        # links come in the list's order from their ids, the first thousand soon (a
        # common surname among twenty stores, 21k found: 462 → 182 ms a page).
        found = search(filters.query, stores)
        if among is None:
            among = found
        else:
            conditions.append(Q(customer_id__in=found))
    return listing.Listing(
        stores=stores, store=chosen, visit_class=filters.visit_class,
        seller=filters.seller.pk if filters.seller else None, tag=filters.tag,
        sort=filters.sort, conditions=conditions, among=among,
    )


def fetch_by_ids(filters: Filters) -> Callable[[list[Any]], Iterable[Any]] | None:
    """How a page's rows are read when its matches are read first, as the ids of the
    first thousand in order (``paging.CappedPaginator``); None: counted, then paged.

    Ids first for a list narrowed by a set beside the links (a search, a chain, going
    cold): the links are walked in the list's order and the set asked of each, and the
    first thousand come soon, where a count of them was planned as a join of the whole
    set (a chain's customers at 1M: 218 → 44 ms a page). Counted for a list narrowed
    on the links' own columns (a seller, a type of visit): their index counts a
    thousand at once, but gives them out of order (a seller's 29k links, ids first:
    47 → 227 ms). Sorted by name, every match is read before the first: counted first,
    as the count decides whether names order them at all (``too_many_to_sort``)."""
    narrowed = bool(filters.query.strip()) or filters.chain is not None or bool(filters.cold)
    return listing.by_pk if narrowed and filters.sort != "name" else None


def _cold_first(filters: Filters) -> bool:
    """Whether the list starts from the cold rows (index ``health_cold_list``) rather
    than walking the links newest first, each probed for a later link and then for a
    cold row: the newest customers are rarely cold, so that walk crosses most of them
    (1M customers: 44k links for the buyers, 103k for the prospects, 160–380 ms) where
    one segment's cold rows are read in 45–150 ms. Both segments' cold rows are a third
    of the links (465k there, 180 ms a read, twice a page), more than the walk; other
    orders start from their own index (bench/RESULTS.md)."""
    return filters.cold != COLD_ANY and filters.sort == "newest"


def _cold_rows(segment: str, scope: visibility.Stores) -> QuerySet[CustomerHealth]:
    rows = CustomerHealth.objects.filter(cold=True)
    if segment != COLD_ANY:
        rows = rows.filter(segment=segment)
    if scope is not None:
        rows = rows.filter(store_id__in=scope)
    return rows


def _cold(segment: str, scope: visibility.Stores) -> Exists:
    """Going cold (decision 0024) at one of ``scope``'s stores, in ``segment``."""
    return Exists(_cold_rows(segment, scope).filter(customer_id=OuterRef("customer_id")))


def _in_chain(flow: Flow, scope: visibility.Stores) -> Exists:
    """In ``flow`` now, entered at one of ``scope``'s stores (another store's chain
    entries are that store's: decision 0008)."""
    rows = Enrollment.objects.filter(customer_id=OuterRef("customer_id"), flow=flow,
                                     state=EnrollmentState.ACTIVE)
    if scope is not None:
        rows = rows.filter(store_id__in=scope)
    return Exists(rows)


@dataclass(frozen=True)
class Row:
    """A listed customer as the viewer may see them."""

    link: CustomerStore  # the last visit's, in the listing's stores
    name: str
    points: list[ContactPoint]
    cold: list[str]  # the segments they are going cold in, in the listing's stores
    sees_record: bool  # the viewer's stores include the home store (tags, home store)

    @property
    def visit_label(self) -> str:
        """The last visit's class in words."""
        value = self.link.last_visit_class
        return str(dict(VisitClass.choices).get(value, value))


def rows_of(links: list[CustomerStore], stores: visibility.Stores,
            scope: visibility.Stores) -> list[Row]:
    """The page's rows: names and contacts (``visibility.summaries``), going cold."""
    customers = [link.customer for link in links]
    prefetch_related_objects(customers, Prefetch(
        "contacts", queryset=ContactPoint.objects.order_by("kind", "id")))
    summaries = {s.customer.pk: s for s in visibility.summaries(customers, stores)}
    cold = _cold_segments([c.pk for c in customers], scope)
    return [Row(link, summaries[link.customer_id].name, summaries[link.customer_id].points,
                cold.get(link.customer_id, []),
                stores is None or link.customer.home_store_id in stores)
            for link in links]


def _cold_segments(ids: list[int], scope: visibility.Stores) -> dict[int, list[str]]:
    rows = CustomerHealth.objects.filter(customer_id__in=ids, cold=True)
    if scope is not None:
        rows = rows.filter(store_id__in=scope)
    found: dict[int, list[str]] = {}
    for customer_id, segment in rows.order_by("segment").values_list("customer_id", "segment"):
        if segment not in found.setdefault(customer_id, []):
            found[customer_id].append(segment)
    return found


# -- the CSV ------------------------------------------------------------------------------

class _Echo:
    """A file that hands back what is written to it: ``csv.writer`` formats, the
    response streams."""

    def write(self, value: str) -> str:
        return value


@dataclass(frozen=True)
class Labels:
    """The CSV's words, read in the viewer's language before streaming starts (the
    response is written after the view returns, when the request's language may be
    gone)."""

    header: list[str]
    classes: dict[str, str]
    segments: dict[str, str]

    @classmethod
    def now(cls) -> Labels:
        return cls(
            header=[_("Id"), _("Name"), _("Phones"), _("E-mails"), _("Other contacts"),
                    _("Stores"), _("Last visit"), _("Type of the last visit"),
                    _("Store of the last visit"), _("Seller"), _("Going cold"), _("Tags")],
            classes={v: str(label) for v, label in VisitClass.choices},
            segments={v: str(label) for v, label in Segment.choices},
        )


# What the CSV reads of each listed link, as plain values (a million model instances
# would cost more than the database does).
_CSV_COLUMNS = ("customer_id", "customer__home_store_id", "customer__name", "customer__tags",
                "store__name", "store__time_zone", "last_visit_at", "last_visit_class",
                "last_visit_staff__first_name", "last_visit_staff__last_name",
                "last_visit_staff__username")


def csv_lines(rows: QuerySet[CustomerStore], stores: visibility.Stores,
              scope: visibility.Stores, labels: Labels) -> Iterator[str]:
    """Every listed customer as CSV, ``CSV_BATCH`` at a time: a byte-order mark (so
    spreadsheet programs read UTF-8), the header, then one chunk of lines per batch —
    what the viewer may see of each decided by ``visibility.plain_summaries``."""
    out = csv.writer(_Echo())
    yield "\ufeff" + out.writerow(labels.header)
    store_names = dict(Store.objects.values_list("pk", "name"))
    for batch in listing.batches(rows.values_list(*_CSV_COLUMNS), CSV_BATCH):
        seen = visibility.plain_summaries([row[:3] for row in batch], stores)
        cold = _cold_segments([row[0] for row in batch], scope)
        yield "".join(out.writerow(_csv_row(row, seen[row[0]], store_names,
                                            cold.get(row[0], []), stores, labels))
                      for row in batch)


def _csv_row(row: tuple[Any, ...], seen: visibility.Plain, store_names: dict[int, str],
             cold: list[str], stores: visibility.Stores, labels: Labels) -> list[str]:
    (pk, home, _own, tags, store_name, zone, at, visit_class, first, last, username) = row
    seller = f"{first or ''} {last or ''}".strip() or username or ""
    points = seen.points
    known = sorted(store_names.get(store_id, "") for store_id in seen.store_ids)
    return [
        str(pk),
        _cell(seen.name),
        "; ".join(value for kind, _net, value in points if kind in PHONES),
        "; ".join(value for kind, _net, value in points if kind == ContactKind.EMAIL),
        "; ".join(_cell(f"{net or kind}: {value}") for kind, net, value in points
                  if kind not in PHONES and kind != ContactKind.EMAIL),
        "; ".join(_cell(name) for name in known),
        _local_day(at, zone),
        labels.classes.get(visit_class, visit_class),
        _cell(store_name) if at else "",
        _cell(seller),
        "; ".join(labels.segments.get(segment, segment) for segment in cold),
        "; ".join(_cell(str(tag)) for tag in tags) if stores is None or home in stores else "",
    ]


def _local_day(at: datetime | None, zone: str) -> str:
    """The day on the store's calendar."""
    if at is None:
        return ""
    try:
        return at.astimezone(ZoneInfo(zone)).date().isoformat()
    except (ZoneInfoNotFoundError, ValueError):  # a bad zone in the database: UTC's day
        return at.date().isoformat()


def _cell(value: str) -> str:
    """Free text that a spreadsheet would run as a formula is kept as text (a leading
    apostrophe); phone numbers and e-mail addresses are written as they are."""
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
