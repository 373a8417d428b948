"""Staff answering a customer from the timeline, on the channel the customer uses.

The answer goes through the store's own account, at once (a person is waiting for
it), and within each provider's rules: the provider refuses what its rules forbid
(WhatsApp: free text only within 24 hours of the customer's last message), and that
refusal is what the staff member reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q

from touchflow import guardrails
from touchflow.core import channels, clock
from touchflow.core.errors import InvalidInput
from touchflow.core.text import check_text
from touchflow.customers.models import ContactPoint, Customer
from touchflow.customers.visibility import stores_of_staff, visible_points
from touchflow.messaging import accounts
from touchflow.messaging.providers.base import AccountConfig
from touchflow.purchases.queries import has_bought
from touchflow.stores.models import Staff
from touchflow.timeline import events
from touchflow.timeline.models import TimelineEvent

MAX_REPLY = 4000


@dataclass(frozen=True)
class Route:
    channel: str
    point: ContactPoint
    account: AccountConfig


def routes(customer: Customer, staff: Staff) -> list[Route]:
    """Where this staff member can answer this customer: a contact point their stores
    recorded, with consent (or written from since it was withdrawn), on a channel for
    which one of the customer's stores (the staff member's, unless an admin) has an
    account. The contact that wrote last comes first."""
    stores = list(customer.store_links.values_list("store_id", flat=True))
    if not staff.is_admin:
        mine = set(staff.stores.values_list("id", flat=True))
        stores = [s for s in stores if s in mine]
    if customer.home_store_id in stores:  # the home store's account answers first
        stores.remove(customer.home_store_id)
        stores.insert(0, customer.home_store_id)
    # Only to a contact the staff member's stores recorded (decision 0008).
    seen = {p.pk for p in visible_points(customer, stores_of_staff(staff))}
    # A contact with consent, or one the customer wrote from after withdrawing it (a
    # STOP ends our messages, not the conversation they start again).
    answerable = Q(contact_consent=True) | Q(last_inbound_at__gt=F("consent_updated_at"))
    points = customer.contacts.filter(answerable, undeliverable_at__isnull=True, pk__in=seen)
    found: list[Route] = []
    for point in sorted(points, key=lambda p: p.last_inbound_at or datetime.min.replace(
            tzinfo=clock.now().tzinfo), reverse=True):
        for traits in channels.ALL:
            if point.kind != traits.contact or point.network != traits.network:
                continue
            channel = traits.name
            account = next(
                (a for s in stores if (a := accounts.for_store(s, channel)) is not None), None
            )
            if account is not None and not any(r.channel == channel for r in found):
                found.append(Route(channel, point, account))
    return found


class ToneFlagged(InvalidInput):
    """The tone check found win–lose or pushy wording in a reply: shown to the staff
    member, who edits it or sends it anyway (``send_anyway``)."""

    def __init__(self, flags: list[guardrails.Flag]) -> None:
        self.flags = flags
        super().__init__("text", "The tone check found wording to look at again.",
                         "tone_flagged")


def reply(customer: Customer, staff: Staff, channel: str, text: str,
          send_anyway: bool = False) -> TimelineEvent:
    """Send ``text`` now; the timeline row records it. Raises InvalidInput naming the
    field when the reply cannot go (no route, empty text, the provider refused), and
    ToneFlagged when the tone check (in the customer's language) finds win–lose or
    pushy wording, unless ``send_anyway``: then it goes, and its row says what was
    found."""
    text = text.strip()
    if not text:
        raise InvalidInput("text", "Write the reply first.", "required")
    if len(text) > MAX_REPLY:
        raise InvalidInput("text", f"A reply is at most {MAX_REPLY} characters.", "too_long")
    check_text("text", text, MAX_REPLY)  # control characters (NUL breaks PostgreSQL)
    flags = guardrails.check(text, _language(customer))
    if flags and not send_anyway:
        raise ToneFlagged(flags)
    route = next((r for r in routes(customer, staff) if r.channel == channel), None)
    if route is None:
        raise InvalidInput(
            "channel", f"This customer cannot be answered on {channel} from your stores.",
            "no_route",
        )
    result = accounts.provider(route.account).send_text(route.point.value, text)
    if not result.ok:
        raise InvalidInput("text", f"Not sent: {result.error}", "provider_refused")
    store_id = route.account.store_id
    return events.reply_sent(
        customer.pk, clock.now(), store_id=store_id, staff_id=staff.pk,
        channel=channel, text=text, to=route.point.value, provider_id=result.provider_id,
        bought=has_bought(customer.pk, store_id),
        tone_flags=sorted({f.category for f in flags}) or None,
    )


def _language(customer: Customer) -> str:
    """The language the reply is read in: the customer's (English when unknown)."""
    language = (customer.language or "en")[:2]
    return language if language in guardrails.LANGUAGES else "en"
