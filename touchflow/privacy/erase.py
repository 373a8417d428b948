"""Erasing one customer on request (GDPR art. 17, 152-FZ art. 21).

Personal data goes everywhere it was kept: the name, external id, tags and country;
contact points with their consent history and opt-in tokens; visit notes; purchase
item names; message texts, addresses and provider errors on the timeline, touches,
attempts and call tasks. What the business counts stays: the customer row (an
anonymous tombstone marked by ``Erasure``), visits, purchases with amounts and
categories, touches with their states, enrollments, store links, timeline rows with
their kinds and codes. So yesterday's numbers are the same after an erasure.

The customer's merged tombstones are the same person and are erased with them. Their
contacts go on the suppression list (keyed hashes, ``suppression``), so a later import
or API call that brings a contact back cannot make them reachable again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from touchflow.aftercare.models import CheckInAnswer, Escalation
from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.customers import suppression
from touchflow.customers.actions import resolve
from touchflow.customers.models import (
    ConsentEvent,
    ContactPoint,
    Customer,
    CustomerExternalId,
    CustomerStore,
    OptInToken,
)
from touchflow.delivery.call_tasks import cancel_open_call_tasks
from touchflow.delivery.enrollments import leave
from touchflow.delivery.models import Attempt, CallTask, Touch
from touchflow.health.models import CustomerHealth
from touchflow.messaging.models import Notice
from touchflow.privacy import audit
from touchflow.privacy.actor import Requester
from touchflow.privacy.models import Erasure, PrivacyAction
from touchflow.purchases.models import Purchase
from touchflow.timeline.models import TimelineEvent
from touchflow.visits.models import Visit

ERASED = "erased"

# Timeline data keys that hold codes, ids, amounts and flags — never a person's words,
# names or addresses. Everything else is dropped on erasure, so a key a later feature
# adds is erased unless it is listed here.
SAFE_TIMELINE_KEYS = frozenset({
    "source", "kind", "purpose", "granted", "class", "bought", "contacts", "reason",
    "categories", "amount", "currency", "items", "external_id", "merged_customer",
    "flow", "flow_name", "state", "touch", "step", "channel", "outcome", "attempt",
    "result", "hard", "answer", "mood", "via", "changed", "escalation", "due_at",
    "assignee", "resolution", "overdue", "working_minutes", "minutes",
})
# Purchase line fields kept: what was bought in numbers, not what it was called.
SAFE_ITEM_KEYS = ("sku", "quantity", "unit_price")


@dataclass
class ErasureReport:
    customer_id: int
    customer_ids: list[int]
    counts: dict[str, int] = field(default_factory=dict)


def erase_customer(customer_id: int, requester: Requester, *, suppress: bool = True,
                   at: datetime | None = None) -> ErasureReport:
    """Erase the customer behind ``customer_id`` (a merged id leads to the survivor) and
    their tombstones, in one transaction; log it. Raises InvalidInput for an unknown id.
    Erasing twice changes nothing more (the second run finds nothing to clear)."""
    at = at or clock.now()
    with transaction.atomic():
        first = Customer.objects.select_for_update().filter(pk=customer_id).first()
        if first is None:
            raise InvalidInput("customer_id", f"No customer {customer_id}.", "not_found")
        live = resolve(first)
        ids = family(live.pk)
        counts = {"customers": len(ids), "chains_left": leave(live.pk, ERASED, at)}
        counts.update(_contacts(ids, suppress, at))
        counts.update(_records(ids))
        # An open call to a person who asked to be forgotten is not made.
        cancel_open_call_tasks(at, customer_ids=ids)
        counts["timeline_rows"] = _timeline(ids)
        _admin_log(ids)
        for pk in ids:
            Erasure.objects.get_or_create(customer_id=pk, defaults={"at": at})
        audit.log(PrivacyAction.ERASE, requester, customer_id=live.pk, counts=counts, at=at)
    return ErasureReport(customer_id=live.pk, customer_ids=ids, counts=counts)


def family(customer_id: int) -> list[int]:
    """The customer and every tombstone merged into them (directly or through others)."""
    ids = [customer_id]
    frontier = [customer_id]
    while frontier:
        frontier = list(
            Customer.objects.filter(merged_into_id__in=frontier)
            .exclude(pk__in=ids).values_list("pk", flat=True)
        )
        ids.extend(frontier)
    return ids


def _contacts(ids: list[int], suppress: bool, at: datetime) -> dict[str, int]:
    points = list(ContactPoint.objects.filter(customer_id__in=ids))
    listed = suppression.suppress(points, at) if suppress else 0
    ConsentEvent.objects.filter(customer_id__in=ids).delete()
    ContactPoint.objects.filter(customer_id__in=ids).delete()
    tokens, _ = OptInToken.objects.filter(customer_id__in=ids).delete()
    # Notices hold an address and the words sent to it.
    Notice.objects.filter(customer_id__in=ids).delete()
    return {"contacts": len(points), "suppressed": listed, "optin_tokens": tokens}


def _records(ids: list[int]) -> dict[str, int]:
    """Clear the free text of the customer's rows; keep their numbers and states."""
    Customer.objects.filter(pk__in=ids).update(name="", tags=[], country="")
    CustomerExternalId.objects.filter(customer_id__in=ids).delete()
    # What the health check concluded about them (rebuilt daily; an erased customer is
    # never marked again).
    CustomerHealth.objects.filter(customer_id__in=ids).delete()
    # Each store's own name for the person (decision 0008) goes with the main one.
    CustomerStore.objects.filter(customer_id__in=ids).exclude(name="").update(name="")
    counts = {
        "visit_notes": Visit.objects.filter(customer_id__in=ids).exclude(note="")
        .update(note=""),
        "touches": Touch.objects.filter(customer_id__in=ids)
        .update(last_error="", provider_message_id=""),
        "attempts": Attempt.objects.filter(touch__customer_id__in=ids).exclude(error="")
        .update(error=""),
        "call_tasks": CallTask.objects.filter(customer_id__in=ids)
        .update(phone="", script="", note=""),
    }
    counts["check_in_answers"] = (
        CheckInAnswer.objects.filter(customer_id__in=ids).exclude(text="").update(text="")
    )
    counts["escalations"] = (
        Escalation.objects.filter(customer_id__in=ids).update(text="", note="")
    )
    counts["purchases"] = _purchase_items(Purchase.objects.filter(customer_id__in=ids))
    return counts


def _purchase_items(purchases: Iterable[Purchase]) -> int:
    changed = []
    for purchase in purchases:
        items = [_safe_item(item) for item in purchase.items or []]
        if items != purchase.items:
            purchase.items = items
            changed.append(purchase)
    Purchase.objects.bulk_update(changed, ["items"], batch_size=500)
    return len(changed)


def _safe_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return {}
    return {k: item[k] for k in SAFE_ITEM_KEYS if k in item}


def scrub(data: Any) -> dict[str, Any]:
    """A timeline row's data without anything but codes, ids and numbers."""
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k in SAFE_TIMELINE_KEYS}


def _timeline(ids: list[int]) -> int:
    changed = []
    for row in TimelineEvent.objects.filter(customer_id__in=ids).only("id", "data"):
        clean = scrub(row.data)
        if clean != row.data:
            row.data = clean
            changed.append(row)
    TimelineEvent.objects.bulk_update(changed, ["data"], batch_size=500)
    return len(changed)


def _admin_log(ids: list[int]) -> None:
    """Django admin's history names the objects it changed (a customer's name, a
    contact's value): those names go too."""
    customer_type = ContentType.objects.get_for_model(Customer)
    for pk in ids:
        LogEntry.objects.filter(content_type=customer_type, object_id=str(pk)).update(
            object_repr=f"#{pk}", change_message=""
        )
