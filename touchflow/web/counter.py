"""The counter screen's form: what the salesperson tapped, turned into one ``log_visit`` call."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import QueryDict
from django.utils.translation import gettext as _

from touchflow.core import text
from touchflow.core.errors import InvalidInput
from touchflow.core.text import check_text
from touchflow.customers import visibility
from touchflow.customers.actions import (
    ConsentGrant,
    ContactInput,
    check_contact,
    create_optin_token,
    find_customer,
)
from touchflow.customers.models import ContactKind, Customer, OptInToken
from touchflow.funnel.visits import log_visit
from touchflow.integrations.actor import Actor
from touchflow.messaging.optin_links import qr_channel
from touchflow.stores.models import Category, Staff, Store
from touchflow.visits.classification import ContactCapture
from touchflow.visits.models import Reason, ReasonKind, Visit
from touchflow.web.errors import message

BOUGHT = "bought"
NOT_BOUGHT = "not_bought"


@dataclass
class CounterEntry:
    """The counter form as typed; kept as strings so an error re-shows exactly what was typed."""

    outcome: str = ""
    reason: str = ""
    contact: str = ""
    name: str = ""
    categories: list[str] = field(default_factory=list)
    note: str = ""
    marketing: bool = False
    capture: str = ""
    token: str = ""
    referral: str = ""

    @classmethod
    def from_post(cls, data: QueryDict) -> CounterEntry:
        return cls(
            outcome=data.get("outcome", ""),
            reason=data.get("reason", ""),
            contact=data.get("contact", "").strip(),
            name=data.get("name", "").strip(),
            categories=[c for c in data.getlist("categories") if c],
            note=data.get("note", "").strip(),
            marketing=data.get("marketing") == "1",
            capture=data.get("contact_capture", ""),
            token=data.get("optin_token", ""),
            referral=data.get("referral_code", "").strip(),
        )


def parse_contact(raw: str, store: Store) -> ContactInput:
    """A typed phone or e-mail, normalised; an "@" makes it an e-mail."""
    kind = ContactKind.EMAIL if "@" in raw else ContactKind.PHONE
    return check_contact(kind, raw, region=store.country or None, field="contact")


def check_text_fields(entry: CounterEntry) -> None:
    """Refuse what the API refuses too (``core/text.py``): control characters (NUL breaks
    PostgreSQL) and text over the limits, naming the form field."""
    check_text("contact", entry.contact, text.EMAIL)
    check_text("name", entry.name, text.NAME)
    check_text("note", entry.note, text.NOTE)
    check_text("reason", entry.reason, text.CODE)
    check_text("optin_token", entry.token, text.CODE)
    check_text("referral_code", entry.referral, text.CODE)
    for code in entry.categories:
        check_text("categories", code, text.CODE)


def save(entry: CounterEntry, store: Store, staff: Staff) -> Visit:
    """Log the visit the entry describes; raise InvalidInput naming the form field."""
    check_text_fields(entry)
    if entry.outcome not in (BOUGHT, NOT_BOUGHT):
        raise InvalidInput("outcome", "Choose bought or did not buy.", "required")
    bought = entry.outcome == BOUGHT
    taken = entry.capture == ContactCapture.TAKEN
    # Whatever was typed before "Refused" or "Didn't ask" was pressed is not a contact
    # the customer gave; a reason left ticked before switching to "Bought" is not a reason.
    contacts = [parse_contact(entry.contact, store)] if taken else []
    visit, _created = log_visit(
        store=store,
        actor=Actor(source="counter", staff=staff),
        bought=bought,
        contact_capture=entry.capture,
        contacts=contacts,
        name=entry.name if taken else "",
        consent=ConsentGrant(contact=True, marketing=entry.marketing) if taken else None,
        reason=None if bought else (entry.reason or None),
        categories=entry.categories,
        note=entry.note,
        optin_token=entry.token or None,
        referral_code=(entry.referral or None) if taken else None,
    )
    return visit


@dataclass(frozen=True)
class ContactCheck:
    """What the screen says about a typed contact while it is being typed."""

    value: str = ""
    error: str = ""
    customer: Customer | None = None
    name: str = ""  # the customer's name as the salesperson's stores know it
    last_visit: Visit | None = None


def check_typed_contact(raw: str, store: Store, staff: Staff) -> ContactCheck:
    """Validate a typed contact and find who owns it.

    Only a contact the staff member's stores recorded finds anybody: a customer of
    another store, or another store's contact of one of ours, reads as a new customer
    (saving adds the visit to that person's history all the same). The name and the
    last visit shown are the ones the staff member's stores recorded.
    """
    if not raw.strip():
        return ContactCheck()
    try:
        contact = parse_contact(raw, store)
    except InvalidInput as exc:
        return ContactCheck(error=message(exc))
    stores = visibility.stores_of_staff(staff)
    owner = next(iter(find_customer([contact])), None)
    key = {(contact.kind, contact.network, contact.value)}
    if (
        owner is None
        or not visibility.visible_customers(stores).filter(pk=owner.pk).exists()
        or not visibility.matches_visible(owner, key, None, stores)
    ):
        return ContactCheck(value=contact.value)
    visits = owner.visits.order_by("-occurred_at", "-id")
    if stores is not None:
        visits = visits.filter(store_id__in=stores)
    return ContactCheck(value=contact.value, customer=owner,
                        name=visibility.names_of([owner], stores)[owner.pk]
                        or _("customer #%(id)s") % {"id": owner.pk},
                        last_visit=visits.first())


def fresh_token(store: Store, staff: Staff, keep: str = "") -> OptInToken | None:
    """The QR token to show: ``keep`` if still unused in this store, else a new one.

    None when the store has no messenger bot, so no QR code is shown.
    """
    channel = qr_channel(store)
    if channel is None:
        return None
    if keep and not text.has_control_characters(keep):
        token = OptInToken.objects.filter(
            token=keep, store=store, channel=channel, visit__isnull=True,
            redeemed_at__isnull=True,
        ).select_related("store").first()
        if token is not None:
            return token
    return create_optin_token(store, staff, channel=channel)


def reason_groups(language: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Active reasons as (group title, [(code, label)]), objective reasons first."""
    titles = {ReasonKind.OBJECTIVE: _("Objective"), ReasonKind.SELLER_ERROR: _("Seller error")}
    groups = []
    for kind in (ReasonKind.OBJECTIVE, ReasonKind.SELLER_ERROR):
        rows = Reason.objects.filter(active=True, kind=kind).order_by("position", "code")
        items = [(r.code, r.label(language)) for r in rows]
        if items:
            groups.append((titles[kind], items))
    return groups


def category_choices(language: str) -> list[tuple[str, str]]:
    return [(c.slug, c.label(language)) for c in Category.objects.filter(active=True)]
