"""``/customers``: create-or-find by contacts, look up, read one with their timeline."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.http import HttpRequest
from ninja import Query, Router, Status
from ninja.params import functions as param

from touchflow.api import scope, serializers
from touchflow.api.auth import actor_for, token_of
from touchflow.api.contacts import consent_of, contacts_of
from touchflow.api.schemas import (
    MAX_ID,
    CustomerDetailOut,
    CustomerIn,
    CustomerListOut,
    CustomerOut,
    CustomerQuery,
    ErrorOut,
)
from touchflow.core.errors import InvalidInput
from touchflow.customers import actions as customer_actions
from touchflow.customers import visibility
from touchflow.customers.actions import ContactInput
from touchflow.customers.models import ContactPoint, Customer, CustomerExternalId, CustomerStore
from touchflow.funnel import customers as funnel_customers
from touchflow.stores.models import Store

router = Router(tags=["customers"])


def _with_contacts(qs: QuerySet[Customer], store_id: int | None) -> QuerySet[Customer]:
    """With contacts, and the customer's external id in the caller's store (without a
    store: in their home store) as ``store_external_id``."""
    store = store_id if store_id is not None else OuterRef("home_store_id")
    external_id = CustomerExternalId.objects.filter(customer=OuterRef("pk"), store=store)
    return qs.select_related("home_store").annotate(
        store_external_id=Subquery(external_id.order_by("pk").values("value")[:1])
    ).prefetch_related(Prefetch("contacts", queryset=ContactPoint.objects.order_by("id")))


@router.post("/customers", response={200: CustomerOut, 201: CustomerOut, 401: ErrorOut,
                                     403: ErrorOut, 422: ErrorOut})
def create_customer(request: HttpRequest, payload: CustomerIn) -> Status[dict[str, Any]]:
    """Create a customer, or find the one these contacts (or external id) already
    belong to: 201 when created, 200 when found. Contacts are normalised first, so
    `+48 501 234 567` and `501234567` (in a Polish store) are the same phone. Contacts
    that belonged to two customers prove they are one person: the two are merged.

    A store-bound token sees the customer as its store knows them: a person another
    store recorded becomes this store's customer (201, the first time), and the answer
    holds only what this store recorded — never the other store's name, contacts,
    consent or external id."""
    token = token_of(request)
    store = scope.store_for_write(token, payload.store)
    contacts = contacts_of(payload, store, "")
    if not contacts and not payload.external_id:
        raise InvalidInput("phone", "Give at least one contact (phone, email, telegram, viber, "
                           "whatsapp) or an external_id.", "required")
    stores = visibility.stores_of_token(token.store_id)
    known_here = stores is not None and _known_in(store, contacts, payload.external_id)
    customer, created = funnel_customers.resolve_customer(
        store=store,
        actor=actor_for(request),
        contacts=contacts,
        external_id=payload.external_id,
        name=payload.name or "",
        language=payload.language,
        time_zone=payload.time_zone,
        tags=payload.tags or (),
        consent=consent_of(payload.consent),
    )
    fresh = _with_contacts(Customer.objects.filter(pk=customer.pk), store.pk).get()
    if stores is not None:
        created = not known_here  # new to this store is all a store may learn
    return Status(201 if created else 200, serializers.customer(fresh, stores))


def _known_in(store: Store, contacts: list[ContactInput], external_id: str | None) -> bool:
    """Whether this store already counts whoever owns these contacts among its customers."""
    owners = [c.pk for c in customer_actions.find_customer(contacts, external_id, store)]
    return CustomerStore.objects.filter(customer_id__in=owners, store=store).exists()


@router.get("/customers", response={200: CustomerListOut, 401: ErrorOut, 403: ErrorOut,
                                    422: ErrorOut})
def find_customers(request: HttpRequest, query: Query[CustomerQuery]) -> dict[str, Any]:
    """Find customers by phone, e-mail, Telegram or external id, normalised as on
    create (a phone without a country code is read in the store's country). A
    store-bound token finds only its store's customers, and only by a contact (or
    external id) its store recorded. Merged ids never appear: the survivor does."""
    token = token_of(request)
    store = scope.store_for_read(token, query.store)
    # Without a store, a phone must carry its country code or be in the default region.
    region_of = store or Store(country=settings.TOUCHFLOW_DEFAULT_REGION)
    contacts = contacts_of(query, region_of, "")
    if not contacts and not query.external_id:
        raise InvalidInput("phone", "Give phone, email, telegram or external_id.", "required")
    matches = customer_actions.find_customer(contacts, query.external_id, store)
    stores = visibility.stores_of_token(token.store_id)
    qs = visibility.visible_customers(stores).filter(pk__in=[c.pk for c in matches])
    keys = {(c.kind, c.network, c.value) for c in contacts}
    found = [c for c in _with_contacts(qs, store.pk if store else None).order_by("id")
             if visibility.matches_visible(c, keys, query.external_id, stores)]
    return {"count": len(found), "results": [serializers.customer(c, stores) for c in found]}


@router.get("/customers/{customer_id}", response={200: CustomerDetailOut, 401: ErrorOut,
                                                  404: ErrorOut, 422: ErrorOut})
def read_customer(request: HttpRequest,
                  customer_id: int = param.Path(..., ge=1, le=MAX_ID)) -> dict[str, Any]:
    """One customer with every contact point (and its consent) and their timeline,
    oldest first. An id that was merged into another customer answers with the
    survivor: `id` is the survivor's, `merged_into` says so. A store-bound token sees
    what its store recorded: its own events, and the contacts and consent taken there."""
    token = token_of(request)
    customer = scope.customer_by_id(token, customer_id, "customer_id")
    customer = _with_contacts(Customer.objects.filter(pk=customer.pk), token.store_id).get()
    stores = visibility.stores_of_token(token.store_id)
    body = serializers.customer(customer, stores, requested_id=customer_id)
    body["timeline"] = [serializers.timeline_event(e)
                        for e in visibility.visible_timeline(customer, stores)]
    return body

