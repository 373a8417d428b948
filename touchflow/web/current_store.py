"""Which store the counter screen logs visits for: kept in the session."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest

from touchflow.stores.models import Staff, Store

SESSION_KEY = "touchflow_store_id"


def stores_for(staff: Staff) -> QuerySet[Store]:
    """The stores a staff member may log visits for: admins any, others their own."""
    if staff.is_admin:
        return Store.objects.all()
    return staff.stores.all()


def current_store(request: HttpRequest) -> Store | None:
    """The store picked in this session, else the staff member's first store."""
    user = request.user
    if not isinstance(user, Staff):
        return None
    stores = stores_for(user)
    picked = request.session.get(SESSION_KEY)
    if picked is not None:
        store = stores.filter(pk=picked).first()
        if store is not None:
            return store
    return stores.order_by("name", "pk").first()


def pick_store(request: HttpRequest, store_id: str | int | None) -> Store | None:
    """Remember ``store_id`` for this session if the staff member works there."""
    try:
        pk = int(store_id or "")
    except ValueError:
        return None
    user = request.user
    if not isinstance(user, Staff):
        return None
    store = stores_for(user).filter(pk=pk).first()
    if store is not None:
        request.session[SESSION_KEY] = store.pk
    return store
