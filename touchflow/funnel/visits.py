"""Logging a visit and what follows from it: the customer found or created, a bought
visit's sale, the chains it enters, the QR token and the referral it carries — the
one way a visit enters Touchflow (counter, API, import, demo)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.core.idempotent import by_external_id, write_once
from touchflow.customers import actions as customer_actions
from touchflow.customers import referrals
from touchflow.customers.actions import ConsentGrant, ContactInput, VisitMark
from touchflow.customers.models import Customer, ReferralCode
from touchflow.funnel import customers as funnel_customers
from touchflow.funnel import enrollment
from touchflow.funnel.customers import merge_customers
from touchflow.funnel.optin import attach_to_visit
from touchflow.funnel.purchases import record_visit_sale
from touchflow.integrations.actor import Actor
from touchflow.stores.models import Staff, Store
from touchflow.timeline import events
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.actions import check_capture, check_categories, check_reason, check_staff
from touchflow.visits.classification import ContactCapture, classify
from touchflow.visits.models import Reason, Visit
from touchflow.visits.queries import seen_before


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
    referral_code: str | None = None,
) -> tuple[Visit, bool]:
    """Record one visit and its result. Returns ``(visit, created)``.

    Idempotent by ``external_id`` within the store: a repeated call returns the first visit.
    ``staff`` defaults to the acting staff member. ``referral_code``: the code the new
    customer came with (``customers.referrals``; it needs their contacts).
    """
    existing = by_external_id(Visit, store, external_id)
    replayed = existing()
    if replayed is not None:
        return replayed, False
    now, occurred_at = clock.occurred(occurred_at, "A visit")
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
    code = referrals.find(referral_code) if referral_code else None
    if code is not None and not contacts:
        raise InvalidInput("referral_code",
                           "A referral needs the new customer's contacts.", "required")
    write = _VisitWrite(
        store=store,
        actor=actor,
        staff=staff,
        customer=customer,
        contacts=contacts,
        name=name,
        language=language,
        time_zone=time_zone,
        consent=consent,
        occurred_at=occurred_at,
        now=now,
        bought=bought,
        capture=capture,
        reason=reason_row,
        categories=category_codes,
        note=note,
        external_id=external_id,
        optin_token=optin_token,
        referral=code,
    )
    return write_once(write.run, existing)


@dataclass
class _VisitWrite:
    """The writes of one visit, in one transaction; every timeline row in one insert."""

    store: Store
    actor: Actor
    staff: Staff | None
    customer: Customer | None
    contacts: Sequence[ContactInput]
    name: str
    language: str | None
    time_zone: str | None
    consent: ConsentGrant | None
    occurred_at: datetime
    now: datetime
    bought: bool
    capture: ContactCapture
    reason: Reason | None
    categories: list[str]
    note: str
    external_id: str | None
    optin_token: str | None
    referral: ReferralCode | None = None

    def run(self) -> Visit:
        timeline: list[TimelineEvent] = []
        customer = self.customer
        created = False
        visit_class = classify(self.bought, self.capture)
        # The store's link to the customer keeps its latest visit (decision 0027),
        # written by the link's own update below: no statement of its own.
        mark = VisitMark(self.occurred_at, visit_class.value,
                         self.staff.pk if self.staff else None)
        if self.contacts:
            found, created = funnel_customers.resolve_customer(
                store=self.store,
                actor=self.actor,
                contacts=self.contacts,
                name=self.name,
                language=self.language,
                time_zone=self.time_zone,
                consent=self.consent or ConsentGrant(),
                at=self.occurred_at,
                timeline=timeline,
                visit=mark,
            )
            if customer is not None and customer.pk != found.pk:
                found = merge_customers(customer, found, self.actor, self.now)
            customer = found
        elif customer is not None:
            customer = customer_actions.resolve(customer)
            customer_actions.link_store(customer, self.store, self.occurred_at, visit=mark)
        visit = Visit.objects.create(
            store=self.store,
            staff=self.staff,
            customer=customer,
            occurred_at=self.occurred_at,
            bought=self.bought,
            contact_capture=self.capture,
            reason=self.reason,
            visit_class=visit_class,
            categories=self.categories,
            note=self.note.strip(),
            source=self.actor.source,
            external_id=self.external_id or None,
            created_at=self.now,
        )
        # A return visit? A customer this visit made has no visit before it: not asked.
        again = False if created and self.customer is None else seen_before(visit)
        if customer is not None:
            timeline.append(events.visit_row(visit, again=again))
        events.visit_written(timeline, visit, self.store.time_zone, again=again)
        if customer is not None:
            # A sale first: it ends the chains that exit on purchase before the
            # visit's own chains begin.
            record_visit_sale(visit)
            enrollment.on_visit_logged(visit)
        if self.optin_token:
            _attach_token(self.optin_token, visit)
        if self.referral is not None and customer is not None:
            referrals.refer(self.referral, customer, new=created, via=self.actor.source,
                            at=self.occurred_at)
        return visit


def _attach_token(token: str, visit: Visit) -> None:
    """Tie the QR token shown during this visit to it, so a later scan finds the customer
    (or, when the customer scanned first, the chat's customer and this one merge)."""
    attach_to_visit(token, visit.store_id, visit.pk, visit.customer_id)

