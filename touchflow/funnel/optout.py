"""The customer's own "stop", however it reaches us: a STOP word in any language on any
channel, the stop button, blocking the bot, a spam complaint, the signed unsubscribe
link in every message (one click, RFC 8058). Every one of them means the same, decided
here once (issue 13):

- the contact points of the channel it came on may not be written to any more (with
  ``all_channels``, none may);
- marketing consent is withdrawn on every contact point: a STOP in Telegram followed by
  offers by SMS minutes later is, from the customer's side, a STOP that did not work;
- the customer's chains at the store that received the STOP end, their queued touches
  cancelled. A STOP no store received (an unsubscribe link without one), a STOP for
  every channel, or one that leaves no contact with consent ends every chain.

Chains at other stores go on: one person is one customer of several stores, and a
STOP written to one shop's bot is not a word to the clinic next door, whose check-in
after a treatment is not marketing. None of their offers reaches the customer (no
marketing consent anywhere), and their other steps reach only contacts that still
have consent.

Idempotent: a second click or a second STOP finds nothing left to do and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from touchflow.core import channels, clock
from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import record_consent, resolve
from touchflow.customers.models import ConsentPurpose, ContactPoint, Customer
from touchflow.delivery import credit
from touchflow.delivery.enrollments import leave
from touchflow.flows.models import Enrollment, EnrollmentState
from touchflow.integrations.actor import Actor
from touchflow.timeline import events

OPT_OUT = "opt_out"


@dataclass(frozen=True)
class OptOutResult:
    customer: Customer
    withdrawn: int  # consent events written (0 on a repeated click)
    left_chains: int


def opt_out(customer_id: int, channel: str, all_channels: bool,
            at: datetime | None = None, *, store_id: int | None = None, how: str = "link",
            text: str = "") -> OptOutResult:
    """The customer's STOP on ``channel``, received by ``store_id`` (None: by no store),
    as the module says. ``how`` and ``text`` go on the timeline row (text, button,
    unsubscribed, complaint, link; what they wrote). A merged customer's id leads to the
    survivor. Raises InvalidInput for an unknown channel."""
    if channel not in channels.NAMES:
        raise InvalidInput("channel", f"Must be one of: {', '.join(channels.NAMES)}.",
                           "invalid_choice")
    at = at or clock.now()
    with transaction.atomic():
        customer = resolve(Customer.objects.get(pk=customer_id))
        withdrawn = _withdraw(customer, channel, all_channels, at)
        left = _leave_chains(customer, None if all_channels else store_id, at)
        if withdrawn or left:
            answered = (credit.NOBODY if store_id is None else
                        credit.last_touch(store_id, customer.pk, at, credit.ANSWER_WINDOW))
            events.stop_requested(customer.pk, at, store_id=store_id, channel=channel,
                                  how=how, chains=left, text=text, credit=answered)
    return OptOutResult(customer=customer, withdrawn=withdrawn, left_chains=left)


def _withdraw(customer: Customer, channel: str, all_channels: bool, at: datetime) -> int:
    """Contact consent on the channel's points (or all), marketing on every point; how
    many consent events that wrote. Through ``record_consent``, the one writer."""
    actor = Actor(source="customer")
    kind = channels.contact_kind(channel)
    withdrawn = 0
    points = ContactPoint.objects.select_for_update().filter(customer=customer)
    for point in points.order_by("id"):
        purposes = [ConsentPurpose.MARKETING]
        if all_channels or point.kind == kind:
            purposes.insert(0, ConsentPurpose.CONTACT)
        for purpose in purposes:
            if record_consent(point, purpose, False, actor, at=at) is not None:
                withdrawn += 1
    return withdrawn


def _leave_chains(customer: Customer, store_id: int | None, at: datetime) -> int:
    """End the chains at ``store_id`` (every chain when None, or when no contact point
    may be written to any more); how many ended."""
    reachable = ContactPoint.objects.filter(customer=customer, contact_consent=True).exists()
    if store_id is None or not reachable:
        return leave(customer.pk, OPT_OUT, at, only_rule=OPT_OUT)
    # A customer is in a chain once at a time, so its chain ids name the enrollments.
    flows = Enrollment.objects.filter(
        customer_id=customer.pk, store_id=store_id, state=EnrollmentState.ACTIVE
    ).values_list("flow_id", flat=True)
    return leave(customer.pk, OPT_OUT, at, only_rule=OPT_OUT, flow_ids=list(flows))
