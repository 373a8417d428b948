"""Who brought whom (issue 10): a customer's personal referral code, and the one action
that links a new customer to the code they came with — from the counter, the API or the
code's landing page.

The checks before a referral counts: not the referrer themself (the same person, or a
contact of theirs), not someone who was already a customer, one referral per new
customer. What looks like abuse — a code used more than ``BURST`` times in a day, or a
new customer with the referrer's name — is held for a manager, never dropped.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from touchflow.core.errors import InvalidInput
from touchflow.customers.models import (
    ContactPoint,
    Customer,
    CustomerStore,
    Referral,
    ReferralCode,
    ReferralState,
)
from touchflow.stores.models import Staff, Store
from touchflow.timeline import events

# Letters and digits nobody confuses when reading a code aloud or off a screen.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 8
BURST = 5  # referrals of one code in a day above which they wait for a manager
BURST_WINDOW = timedelta(days=1)

SELF, EXISTING, BURSTING, SAME_NAME = "self", "existing_customer", "many_in_a_day", "same_name"


@dataclass(frozen=True)
class Outcome:
    referral: Referral
    created: bool  # False: the customer already came with a code (the first is kept)


def code_for(customer: Customer, store: Store, at: datetime) -> ReferralCode:
    """The customer's code at ``store``, made the first time it is asked for."""
    found = ReferralCode.objects.filter(customer=customer, store=store).first()
    if found is not None:
        return found
    for _attempt in range(5):
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(customer=customer, store=store, code=code,
                                                   created_at=at)
        except IntegrityError:
            found = ReferralCode.objects.filter(customer=customer, store=store).first()
            if found is not None:
                return found  # a concurrent request made it
    raise RuntimeError("could not draw a free referral code")


def code_of(customer_id: int, store_id: int) -> ReferralCode | None:
    """The customer's code at the store, if one was made (the engine reads it)."""
    found: ReferralCode | None = ReferralCode.objects.filter(
        customer_id=customer_id, store_id=store_id).first()
    return found


def link(code: ReferralCode) -> str:
    """The code's landing page, where a newcomer leaves a contact."""
    return f"{settings.TOUCHFLOW_PUBLIC_URL}/ref/{code.code}"


def find(text: str, field: str = "referral_code") -> ReferralCode:
    """The code typed or posted (any case, spaces and dashes ignored); InvalidInput
    naming ``field`` when there is none such."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    found = ReferralCode.objects.select_related("customer", "store").filter(
        code=cleaned).first() if cleaned else None
    if found is None:
        raise InvalidInput(field, "There is no such referral code; check it and try again.",
                           "unknown_code")
    return found


def refer(code: ReferralCode, customer: Customer, *, new: bool, via: str,
          at: datetime) -> Outcome:
    """Link ``customer`` (``new``: created by this very request) to the code's owner, in
    the caller's transaction; the referral's state says what the checks found."""
    earlier = Referral.objects.filter(referred=customer).order_by("pk").first()
    if earlier is not None:
        return Outcome(earlier, False)
    state, reason = _check(code, customer, new, at)
    referral = Referral.objects.create(code=code, referrer_id=code.customer_id,
                                       referred=customer, store=code.store, via=via,
                                       state=state, reason=reason, at=at)
    _timeline(referral, at)
    return Outcome(referral, True)


def decide(referral: Referral, staff: Staff, count: bool, at: datetime) -> Referral:
    """A manager's decision on a held referral: counted, or refused."""
    with transaction.atomic():
        row = Referral.objects.select_for_update().get(pk=referral.pk)
        if row.state != ReferralState.HELD:
            raise InvalidInput("referral", "This referral is not waiting for a decision.")
        row.state = ReferralState.COUNTED if count else ReferralState.REFUSED
        row.decided_at, row.decided_by = at, staff
        row.save(update_fields=["state", "decided_at", "decided_by"])
        _timeline(row, at)
    return row


def _check(code: ReferralCode, customer: Customer, new: bool,
           at: datetime) -> tuple[str, str]:
    referrer = code.customer
    if customer.pk == referrer.pk or _shares_contact(referrer, customer):
        return ReferralState.REFUSED, SELF
    if not new:
        return ReferralState.REFUSED, EXISTING
    recent = Referral.objects.filter(code=code, at__gt=at - BURST_WINDOW).count()
    if recent >= BURST:
        return ReferralState.HELD, BURSTING
    if _name(referrer, code.store) and _name(referrer, code.store) == _name(customer, code.store):
        return ReferralState.HELD, SAME_NAME
    return ReferralState.COUNTED, ""


def _shares_contact(one: Customer, other: Customer) -> bool:
    values = set(ContactPoint.objects.filter(customer=one).values_list("value", flat=True))
    return ContactPoint.objects.filter(customer=other, value__in=values).exists()


def _name(customer: Customer, store: Store) -> str:
    given = CustomerStore.objects.filter(customer=customer, store=store).values_list(
        "name", flat=True).first()
    return " ".join((given or customer.name).casefold().split())


def _timeline(referral: Referral, at: datetime) -> None:
    """One row on each timeline: the referrer brought someone, the newcomer was brought."""
    data: events.ReferralData = {"referral": referral.pk, "code": referral.code.code,
                                 "state": referral.state, "reason": referral.reason,
                                 "via": referral.via}
    events.referral_made(referral.referrer_id, at, store_id=referral.store_id,
                         other=referral.referred_id, data=data)
    events.referred(referral.referred_id, at, store_id=referral.store_id,
                    other=referral.referrer_id, data=data)
