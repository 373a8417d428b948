"""The customer's own "stop": withdraw consent on one channel or on all of them.

Reached from the signed unsubscribe link in every message (one click, RFC 8058).
Idempotent: a second click finds nothing left to withdraw and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from touchflow.core import clock
from touchflow.core.actor import Actor
from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import record_consent, resolve
from touchflow.customers.models import ConsentPurpose, ContactPoint, Customer
from touchflow.delivery.policies import CHANNEL_CONTACT
from touchflow.flows.enrollment import leave

OPT_OUT = "opt_out"


@dataclass(frozen=True)
class OptOutResult:
    customer: Customer
    withdrawn: int  # consent events written (0 on a repeated click)
    left_chains: int


def opt_out(customer_id: int, channel: str, all_channels: bool,
            at: datetime | None = None) -> OptOutResult:
    """Withdraw contact and marketing consent, as the customer's own request, on the
    contact points ``channel`` delivers to (``CHANNEL_CONTACT``), or on every contact
    point with ``all_channels``.

    When no contact point may be contacted any more, the customer leaves every chain
    that exits on opt-out and its queued touches are cancelled. A merged customer's
    id leads to the survivor. Raises InvalidInput for an unknown channel.
    """
    if not all_channels and channel not in CHANNEL_CONTACT:
        raise InvalidInput("channel", f"Must be one of: {', '.join(CHANNEL_CONTACT)}.",
                           "invalid_choice")
    at = at or clock.now()
    actor = Actor(source="customer")
    with transaction.atomic():
        customer = resolve(Customer.objects.get(pk=customer_id))
        points = ContactPoint.objects.select_for_update().filter(customer=customer)
        if not all_channels:
            points = points.filter(kind=CHANNEL_CONTACT[channel])
        withdrawn = 0
        for point in points.order_by("id"):
            for purpose in (ConsentPurpose.CONTACT, ConsentPurpose.MARKETING):
                if record_consent(point, purpose, False, actor, at=at) is not None:
                    withdrawn += 1
        reachable = ContactPoint.objects.filter(customer=customer, contact_consent=True)
        left = 0 if reachable.exists() else leave(customer.pk, OPT_OUT, at, only_rule=OPT_OUT)
    return OptOutResult(customer=customer, withdrawn=withdrawn, left_chains=left)
