"""Logging visits: the one way a visit enters Touchflow (counter, API, import, demo)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from touchflow.core import clock
from touchflow.core.actor import Actor
from touchflow.core.errors import InvalidInput
from touchflow.customers import actions as customer_actions
from touchflow.customers.actions import ConsentGrant, ContactInput
from touchflow.customers.models import Customer, OptInToken
from touchflow.flows import enrollment as flow_enrollment
from touchflow.stores.models import Category, Staff, Store
from touchflow.timeline import events
from touchflow.visits.classification import ContactCapture, classify
from touchflow.visits.models import Reason, Visit

# Clocks of tills and tablets drift; a visit a few minutes "in the future" is not an error.
FUTURE_SKEW = timedelta(minutes=10)


def check_reason(bought: bool, code: str | None) -> Reason | None:
    if bought:
        if code:
            raise InvalidInput(
                "reason", "A reason is given only when the customer did not buy.", "not_allowed"
            )
        return None
    if not code:
        raise InvalidInput("reason", "Say why the customer did not buy.", "required")
    reason = Reason.objects.filter(code=code, active=True).first()
    if reason is None:
        raise InvalidInput("reason", f"Unknown reason {code!r}.", "invalid_choice")
    return reason


def check_categories(codes: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(c.strip() for c in codes if c and c.strip()))
    if not wanted:
        return []
    known = set(
        Category.objects.filter(slug__in=wanted, active=True).values_list("slug", flat=True)
    )
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise InvalidInput(
            "categories", f"Unknown categories: {', '.join(unknown)}.", "invalid_choice"
        )
    return wanted


def check_capture(capture: str) -> ContactCapture:
    try:
        return ContactCapture(capture)
    except ValueError as exc:
        choices = ", ".join(ContactCapture.values)
        raise InvalidInput(
            "contact_capture", f"Must be one of: {choices}.", "invalid_choice"
        ) from exc


def check_staff(staff: Staff | None, store: Store) -> None:
    if staff is not None and not staff.is_admin and not staff.stores.filter(pk=store.pk).exists():
        raise InvalidInput(
            "staff", f"{staff.username} does not work in {store.name}.", "not_allowed"
        )


def log_visit(
    *,
    store: Store,
    actor: Actor,
    bought: bool,
    contact_capture: str,
    occurred_at: datetime | None = None,
    staff: Staff | None = None,
    customer: Customer | None = None,
    contacts: Sequence[ContactInput] = (),
    name: str = "",
    language: str | None = None,
    time_zone: str | None = None,
    consent: ConsentGrant | None = None,
    reason: str | None = None,
    categories: Sequence[str] = (),
    note: str = "",
    external_id: str | None = None,
    optin_token: str | None = None,
) -> tuple[Visit, bool]:
    """Record one visit and its result. Returns ``(visit, created)``.

    Idempotent by ``external_id`` within the store: a repeated call returns the first visit.
    ``staff`` defaults to the acting staff member.
    """
    if external_id:
        existing = Visit.objects.filter(store=store, external_id=external_id).first()
        if existing is not None:
            return existing, False
    now = clock.now()
    occurred_at = clock.ensure_aware(occurred_at) if occurred_at else now
    if occurred_at > now + FUTURE_SKEW:
        raise InvalidInput("occurred_at", "A visit cannot be in the future.", "in_future")
    capture = check_capture(contact_capture)
    reason_row = check_reason(bought, reason)
    category_codes = check_categories(categories)
    staff = staff or actor.staff
    check_staff(staff, store)
    if capture == ContactCapture.TAKEN and customer is None and not contacts:
        raise InvalidInput("contacts", "Contacts were taken: give at least one.", "required")
    if capture != ContactCapture.TAKEN and contacts:
        raise InvalidInput(
            "contacts", "Contacts were not taken, so none can be given.", "not_allowed"
        )
    try:
        with transaction.atomic():
            if contacts:
                found, _created = customer_actions.resolve_customer(
                    store=store,
                    actor=actor,
                    contacts=contacts,
                    name=name,
                    language=language,
                    time_zone=time_zone,
                    consent=consent or ConsentGrant(),
                    at=occurred_at,
                )
                if customer is not None and customer.pk != found.pk:
                    found = customer_actions.merge_customers(customer, found, actor, now)
                customer = found
            elif customer is not None:
                customer = customer_actions.resolve(customer)
                customer_actions.link_store(customer, store, occurred_at)
            visit = Visit.objects.create(
                store=store,
                staff=staff,
                customer=customer,
                occurred_at=occurred_at,
                bought=bought,
                contact_capture=capture,
                reason=reason_row,
                visit_class=classify(bought, capture),
                categories=category_codes,
                note=note.strip(),
                source=actor.source,
                external_id=external_id or None,
                created_at=now,
            )
            if customer is not None:
                events.visit_logged(visit)
                flow_enrollment.on_visit_logged(visit)
            if optin_token:
                _attach_token(optin_token, visit)
    except IntegrityError:
        # Two requests with the same external id raced; the other one won.
        if external_id:
            existing = Visit.objects.filter(store=store, external_id=external_id).first()
            if existing is not None:
                return existing, False
        raise
    return visit, True


def _attach_token(token: str, visit: Visit) -> None:
    """Tie the QR token shown during this visit to it, so a later scan finds the customer."""
    OptInToken.objects.filter(
        token=token, store=visit.store, visit__isnull=True, redeemed_at__isnull=True
    ).update(visit=visit, customer=visit.customer)
