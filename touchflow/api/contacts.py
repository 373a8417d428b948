"""The contact fields of a JSON body → normalised contact points, errors naming the path."""

from __future__ import annotations

from touchflow.api.schemas import ConsentIn, ContactsIn, CustomerQuery
from touchflow.customers.actions import ConsentGrant, ContactInput, check_contact
from touchflow.customers.models import ContactKind
from touchflow.stores.models import Store

# The body fields that carry contact points, in the order they are reported.
CONTACT_FIELDS = (
    ContactKind.PHONE,
    ContactKind.EMAIL,
    ContactKind.TELEGRAM,
    ContactKind.VIBER,
    ContactKind.WHATSAPP,
)


def contacts_of(body: ContactsIn | CustomerQuery | None, store: Store,
                prefix: str) -> list[ContactInput]:
    """Normalise every contact given in ``body`` (empty ones are absent).

    ``prefix`` is the body's path (``customer``); an error names e.g. ``customer.phone``.
    """
    if body is None:
        return []
    found = []
    for kind in CONTACT_FIELDS:
        raw = getattr(body, kind.value, None)
        if raw is None or not raw.strip():
            continue
        field = f"{prefix}.{kind.value}" if prefix else kind.value
        found.append(check_contact(kind.value, raw, region=store.country, field=field))
    return found


def consent_of(body: ConsentIn | None) -> ConsentGrant | None:
    if body is None:
        return None
    return ConsentGrant(contact=body.contact, marketing=body.marketing)
