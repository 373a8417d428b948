"""What a token may touch: its store, that store's customers, visits and staff.

A token bound to a store acts only for it: naming another store is refused (403), and
another store's customers and visits are reported as not found (404), so that a
token learns nothing about data it may not see. An unbound token must name the store
it writes for.

Records referred to by id (customers, visits) answer 404 when missing; configuration
referred to by name (store, staff, reason, category) is a 422 on the field, like any
other invalid value.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from touchflow.api.errors import ApiError
from touchflow.core.errors import InvalidInput
from touchflow.core.ttlcache import TTLCache
from touchflow.customers import actions as customer_actions
from touchflow.customers.models import Customer, CustomerStore
from touchflow.integrations.models import ApiToken
from touchflow.stores.models import Staff, Store, remember_store
from touchflow.visits.models import Visit


def store_for_write(token: ApiToken, slug: str | None, field: str = "store") -> Store:
    """The store a write is for: the token's own, or the one ``slug`` names."""
    if token.store_id is not None:
        store = token.store
        assert store is not None
        if slug and slug != store.slug:
            raise ApiError(
                403, field, f"This token acts only for the store {store.slug!r}.", "forbidden"
            )
        return store
    if not slug:
        raise InvalidInput(
            field, "Name the store (its slug): this token is not bound to one.", "required"
        )
    return _store(slug, field)


def store_for_read(token: ApiToken, slug: str | None, field: str = "store") -> Store | None:
    """The store a read is limited to: the token's own, the one named, or none."""
    if token.store_id is not None or slug:
        return store_for_write(token, slug, field) if slug else token.store
    return None


def _store(slug: str, field: str) -> Store:
    store = Store.objects.filter(slug=slug).first()
    if store is None:
        raise InvalidInput(field, f"No store with the slug {slug!r}.", "not_found")
    return store


_staff: TTLCache[tuple[str, int], tuple[Staff | None, bool]] = TTLCache()


def staff_named(username: str | None, store: Store, field: str = "staff") -> Staff | None:
    """The active staff member with this username, read together with whether they work
    in ``store`` (one query, then cached per process for ``TOUCHFLOW_CACHE_SECONDS``;
    the visit action applies the rule)."""
    if not username:
        return None
    staff, works_here = _staff.get((username, store.pk), lambda: _load_staff(username, store))
    if staff is None:
        raise InvalidInput(field, f"No active staff member {username!r}.", "not_found")
    if works_here:
        remember_store(staff, store)
    return staff


def _load_staff(username: str, store: Store) -> tuple[Staff | None, bool]:
    link = (
        Staff.stores.through.objects.filter(
            staff__username=username, staff__is_active=True, store=store
        )
        .select_related("staff")
        .first()
    )
    if link is not None:
        return link.staff, True
    return Staff.objects.filter(username=username, is_active=True).first(), False


def may_see(token: ApiToken, customer: Customer) -> bool:
    """A store-bound token sees the customers who dealt with its store."""
    if token.store_id is None:
        return True
    return CustomerStore.objects.filter(customer=customer, store_id=token.store_id).exists()


def customer_by_id(token: ApiToken, customer_id: int, field: str) -> Customer:
    """The live customer behind ``customer_id`` (following merges), if the token may see them.

    Raises a 404 naming ``field`` otherwise.
    """
    customer = Customer.objects.select_related("home_store").filter(pk=customer_id).first()
    if customer is not None:
        customer = customer_actions.resolve(customer)
    if customer is None or not may_see(token, customer):
        raise ApiError(404, field, f"No customer {customer_id}.", "not_found")
    return customer


def visit_in_store(store: Store, visit_id: int | None, field: str = "visit_id") -> Visit | None:
    if visit_id is None:
        return None
    visit = Visit.objects.filter(pk=visit_id, store=store).first()
    if visit is None:
        raise ApiError(404, field, f"No visit {visit_id} in the store {store.slug!r}.", "not_found")
    return visit


def local_time(value: datetime | None, store: Store) -> datetime | None:
    """A time without an offset is the store's wall-clock time (what a till sends)."""
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value, ZoneInfo(store.time_zone))
