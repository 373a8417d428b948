"""Everything Touchflow holds about one customer (GDPR art. 15 and 20, 152-FZ art. 14).

The export is a registry of sections: each ``@section`` function reads one kind of
record for the customer and their merged tombstones and returns plain rows (JSON
values only). A later feature that keeps something about a customer (referrals,
escalations) adds one section here, and the JSON, the page, the CLI and the API carry
it without further change. ``tests/privacy`` checks that every model pointing at a
customer is covered by a section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from touchflow.aftercare.models import CheckInAnswer, Escalation
from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.customers.actions import resolve
from touchflow.customers.models import (
    ConsentEvent,
    ContactPoint,
    Customer,
    CustomerExternalId,
    CustomerStore,
    Referral,
    ReferralCode,
)
from touchflow.delivery.models import Attempt, CallTask, Touch
from touchflow.flows.models import Enrollment
from touchflow.health.models import CustomerHealth
from touchflow.messaging.models import Notice, NoticeState
from touchflow.privacy import audit
from touchflow.privacy.actor import Requester
from touchflow.privacy.erase import family
from touchflow.privacy.models import AuditEntry, Erasure, PrivacyAction
from touchflow.purchases.models import Purchase
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.models import Visit

FORMAT = "touchflow.customer-export/1"

Row = dict[str, Any]


@dataclass(frozen=True)
class Subject:
    """Whose data is exported: the live customer and the ids merged into them."""

    customer: Customer
    ids: list[int]


@dataclass(frozen=True)
class Section:
    key: str
    title: Promise
    collect: Callable[[Subject], list[Row]]
    # The models whose rows this section reads (the coverage test checks them).
    models: tuple[type, ...]


SECTIONS: dict[str, Section] = {}


def section(key: str, title: Promise, *models: type) -> Callable[
        [Callable[[Subject], list[Row]]], Callable[[Subject], list[Row]]]:
    """Register a section of the export, in the order of registration."""
    def register(collect: Callable[[Subject], list[Row]]) -> Callable[[Subject], list[Row]]:
        SECTIONS[key] = Section(key, title, collect, models)
        return collect
    return register


def subject_of(customer_id: int) -> Subject:
    first = Customer.objects.filter(pk=customer_id).first()
    if first is None:
        raise InvalidInput("customer_id", f"No customer {customer_id}.", "not_found")
    live = resolve(first)
    return Subject(customer=live, ids=family(live.pk))


def export_customer(customer_id: int, requester: Requester,
                    at: datetime | None = None) -> dict[str, Any]:
    """The whole export as JSON values, logged on the privacy log. A merged id leads to
    the survivor (``customer_id``) and includes every tombstone's records."""
    at = at or clock.now()
    subject = subject_of(customer_id)
    sections = {key: s.collect(subject) for key, s in SECTIONS.items()}
    audit.log(PrivacyAction.EXPORT, requester, customer_id=subject.customer.pk, at=at,
              counts={key: len(rows) for key, rows in sections.items()})
    return {
        "format": FORMAT,
        "customer_id": subject.customer.pk,
        "requested_id": customer_id,
        "generated_at": at.isoformat(),
        "sections": sections,
    }


def plain(value: Any) -> Any:
    """A value as JSON has it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _staff(staff: Any) -> str:
    return (staff.get_full_name() or staff.username) if staff is not None else ""


@section("profile", _("Profile"), Customer, CustomerExternalId, Erasure)
def _profile(subject: Subject) -> list[Row]:
    c = subject.customer
    erasure = Erasure.objects.filter(customer_id=c.pk).first()
    return [{
        "id": c.pk, "merged_ids": subject.ids[1:], "name": c.name, "language": c.language,
        "time_zone": c.time_zone, "country": c.country, "tags": c.tags,
        "external_ids": {
            e.store.name: e.value
            for e in CustomerExternalId.objects.filter(customer_id__in=subject.ids)
            .select_related("store").order_by("pk")
        },
        "home_store": c.home_store.name,
        "created_at": plain(c.created_at), "erased_at": plain(erasure.at if erasure else None),
    }]


@section("relationship", _("Relationship with each store"), CustomerHealth)
def _relationship(subject: Subject) -> list[Row]:
    """What the daily health check concluded (issue 11): how overdue, and why."""
    rows = CustomerHealth.objects.filter(customer_id__in=subject.ids).select_related("store")
    return [{
        "store": h.store.name, "segment": h.segment,
        "last_purchase_on": plain(h.last_purchase_on),
        "last_contact_on": plain(h.last_contact_on), "rhythm_days": h.rhythm_days,
        "rhythm_source": h.rhythm_source, "days_since": h.days_since, "ratio": h.ratio,
        "p_alive": h.p_alive, "going_cold": h.cold, "reason": h.reason,
        "checked_at": plain(h.computed_at),
    } for h in rows.order_by("store__name", "id")]


@section("stores", _("Stores"), CustomerStore)
def _stores(subject: Subject) -> list[Row]:
    links = CustomerStore.objects.filter(customer_id__in=subject.ids).select_related("store")
    return [{"store": link.store.name, "name_given": link.name,
             "first_seen_at": plain(link.first_seen_at),
             "last_seen_at": plain(link.last_seen_at)} for link in links.order_by("id")]


@section("contacts", _("Contacts"), ContactPoint)
def _contacts(subject: Subject) -> list[Row]:
    points = (
        ContactPoint.objects.filter(customer_id__in=subject.ids)
        .prefetch_related("store_links__store")
        .order_by("id")
    )
    return [{
        "kind": p.kind, "network": p.network, "value": p.value,
        "recorded_by": [link.store.name for link in p.store_links.all()],
        "contact_consent": p.contact_consent, "marketing_consent": p.marketing_consent,
        "consent_updated_at": plain(p.consent_updated_at),
        "last_inbound_at": plain(p.last_inbound_at),
        "undeliverable_at": plain(p.undeliverable_at),
        "undeliverable_reason": p.undeliverable_reason, "created_at": plain(p.created_at),
    } for p in points]


@section("consents", _("Consent history"), ConsentEvent)
def _consents(subject: Subject) -> list[Row]:
    events = ConsentEvent.objects.filter(customer_id__in=subject.ids).select_related(
        "contact_point", "staff", "integration").order_by("at", "id")
    return [{
        "at": plain(e.at), "contact": e.contact_point.value, "purpose": e.purpose,
        "granted": e.granted, "source": e.source, "staff": _staff(e.staff),
        "integration": e.integration.name if e.integration else "", "note": e.note,
    } for e in events]


@section("visits", _("Visits"), Visit)
def _visits(subject: Subject) -> list[Row]:
    visits = Visit.objects.filter(customer_id__in=subject.ids).select_related(
        "store", "staff", "reason").order_by("occurred_at", "id")
    return [{
        "id": v.pk, "at": plain(v.occurred_at), "store": v.store.name, "staff": _staff(v.staff),
        "bought": v.bought, "contacts": v.contact_capture, "class": v.visit_class,
        "reason": v.reason.code if v.reason else None, "categories": v.categories,
        "note": v.note, "source": v.source, "external_id": v.external_id,
    } for v in visits]


@section("purchases", _("Purchases"), Purchase)
def _purchases(subject: Subject) -> list[Row]:
    purchases = Purchase.objects.filter(customer_id__in=subject.ids).select_related(
        "store").order_by("occurred_at", "id")
    return [{
        "id": p.pk, "at": plain(p.occurred_at), "store": p.store.name,
        "amount": plain(p.amount), "currency": p.currency, "categories": p.categories,
        "items": p.items, "source": p.source, "external_id": p.external_id,
        "visit_id": p.visit_id,
    } for p in purchases]


@section("chains", _("Chains"), Enrollment)
def _chains(subject: Subject) -> list[Row]:
    enrollments = Enrollment.objects.filter(customer_id__in=subject.ids).select_related(
        "flow", "store").order_by("entered_at", "id")
    return [{
        "chain": e.flow.slug, "chain_name": e.flow.name, "store": e.store.name,
        "state": e.state, "entered_at": plain(e.entered_at), "ended_at": plain(e.ended_at),
        "end_reason": e.end_reason,
    } for e in enrollments]


@section("check_ins", _("Check-in answers"), CheckInAnswer)
def _check_ins(subject: Subject) -> list[Row]:
    answers = CheckInAnswer.objects.filter(customer_id__in=subject.ids).select_related(
        "store", "staff").order_by("answered_at", "id")
    return [{
        "at": plain(a.answered_at), "changed_at": plain(a.changed_at), "store": a.store.name,
        "staff": _staff(a.staff), "touch_id": a.touch_id, "purchase_id": a.purchase_id,
        "visit_id": a.visit_id, "asks": a.kind, "answer": a.value, "mood": a.mood,
        "via": a.via, "text": a.text,
    } for a in answers]


@section("escalations", _("Complaints handled"), Escalation)
def _escalations(subject: Subject) -> list[Row]:
    rows = Escalation.objects.filter(customer_id__in=subject.ids).select_related(
        "store", "assignee", "resolved_by").order_by("opened_at", "id")
    return [{
        "opened_at": plain(e.opened_at), "store": e.store.name, "reason": e.reason,
        "text": e.text, "due_at": plain(e.due_at), "assignee": _staff(e.assignee),
        "resolved_at": plain(e.resolved_at), "resolution": e.resolution, "note": e.note,
        "resolved_by": _staff(e.resolved_by), "purchase_id": e.purchase_id,
    } for e in rows]


@section("referrals", _("Referrals"), ReferralCode, Referral)
def _referrals(subject: Subject) -> list[Row]:
    codes = ReferralCode.objects.filter(customer_id__in=subject.ids).select_related("store")
    links = Referral.objects.filter(
        Q(referrer_id__in=subject.ids) | Q(referred_id__in=subject.ids)
    ).select_related("store", "code").order_by("at", "id")
    return [
        *({"code": c.code, "store": c.store.name, "created_at": plain(c.created_at)}
          for c in codes.order_by("id")),
        *({"at": plain(r.at), "store": r.store.name, "code": r.code.code,
           "role": "referrer" if r.referrer_id in subject.ids else "referred",
           "state": r.state, "reason": r.reason, "via": r.via} for r in links),
    ]


@section("messages", _("Messages"), Touch, Attempt)
def _messages(subject: Subject) -> list[Row]:
    """Each touch: where and how it went, its failed attempts, and the text of its
    step in the customer's language (the personalised text is rendered at send time
    and not stored)."""
    touches = list(Touch.objects.filter(customer_id__in=subject.ids).select_related(
        "step__flow", "store").order_by("due_at", "id"))
    attempts: dict[int, list[Row]] = {}
    for a in Attempt.objects.filter(touch__in=touches).order_by("touch_id", "number"):
        attempts.setdefault(a.touch_id, []).append({
            "number": a.number, "at": plain(a.at), "channel": a.channel,
            "outcome": a.outcome, "error": a.error})
    language = subject.customer.language
    return [{
        "id": t.pk, "chain": t.step.flow.slug, "step": t.step.key, "kind": t.step.kind,
        "store": t.store.name, "channel": t.channel, "state": t.state, "reason": t.reason,
        "due_at": plain(t.due_at), "finished_at": plain(t.finished_at),
        "receipt": t.receipt, "last_error": t.last_error,
        "template": _template(t.step.messages, language),
        "attempts": attempts.get(t.pk, []),
    } for t in touches]


def _template(messages: Any, language: str) -> Row:
    if not isinstance(messages, dict) or not messages:
        return {}
    chosen = messages.get(language) or messages.get("en") or next(iter(messages.values()))
    return {k: chosen.get(k, "") for k in ("subject", "text")} if isinstance(chosen, dict) else {}


@section("replies", _("Replies"), Notice)
def _replies(subject: Subject) -> list[Row]:
    """What the customer wrote to the stores, and what staff or Touchflow answered (a
    notice — a STOP confirmation, a welcome — is here once sent; until then, below)."""
    rows = TimelineEvent.objects.filter(
        customer_id__in=subject.ids, kind__in=[EventKind.MESSAGE_IN, EventKind.MESSAGE_OUT]
    ).select_related("store", "staff").order_by("at", "id")
    return [{
        "at": plain(r.at), "direction": "in" if r.kind == EventKind.MESSAGE_IN else "out",
        "channel": r.data.get("channel", ""), "text": r.data.get("text", ""),
        "store": r.store.name if r.store else "", "staff": _staff(r.staff),
    } for r in rows] + [{
        "at": plain(n.created_at), "direction": "out", "channel": n.channel, "text": n.text,
        "store": n.store.name if n.store else "", "staff": "", "not_sent": n.state,
    } for n in Notice.objects.filter(customer_id__in=subject.ids)
        .exclude(state=NoticeState.SENT).select_related("store").order_by("created_at", "id")]


@section("tasks", _("Call tasks"), CallTask)
def _tasks(subject: Subject) -> list[Row]:
    tasks = CallTask.objects.filter(customer_id__in=subject.ids).select_related(
        "store", "assignee").order_by("due_at", "id")
    return [{
        "store": t.store.name, "assignee": _staff(t.assignee), "phone": t.phone,
        "script": t.script, "due_at": plain(t.due_at), "state": t.state, "result": t.result,
        "note": t.note, "minutes": t.minutes, "done_at": plain(t.done_at),
    } for t in tasks]


@section("timeline", _("Timeline"), TimelineEvent)
def _timeline(subject: Subject) -> list[Row]:
    rows = TimelineEvent.objects.filter(customer_id__in=subject.ids).select_related(
        "store", "staff").order_by("at", "id")
    return [{
        "at": plain(r.at), "kind": r.kind, "store": r.store.name if r.store else "",
        "staff": _staff(r.staff), "data": r.data,
    } for r in rows]


@section("privacy_log", _("Privacy requests"), AuditEntry)
def _privacy_log(subject: Subject) -> list[Row]:
    """Who exported or erased this customer's data before (art. 15: the recipients)."""
    entries = AuditEntry.objects.filter(customer_id__in=subject.ids).order_by("at", "id")
    return [{"at": plain(e.at), "action": e.action, "by": e.actor_kind} for e in entries]


def covered_models() -> set[type]:
    return {m for s in SECTIONS.values() for m in s.models}

