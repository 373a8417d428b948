"""A customer's timeline rows, put into words in the staff member's language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from touchflow.aftercare.actions import PAGE
from touchflow.aftercare.models import EscalationReason, Resolution
from touchflow.customers.models import (
    ConsentPurpose,
    ConsentSource,
    ContactKind,
    Customer,
    ReferralState,
)
from touchflow.customers.visibility import Stores, latest_timeline
from touchflow.delivery.models import CallResult
from touchflow.flows import answers
from touchflow.flows.models import Flow
from touchflow.stores.models import Category
from touchflow.timeline.events import (
    BounceData,
    CheckInAnswerData,
    ConsentData,
    ContactAddedData,
    CreatedData,
    EnrolledData,
    EscalationOpenedData,
    EscalationResolvedData,
    LeftFlowData,
    MergedData,
    MessageInData,
    MessageOutData,
    PurchaseData,
    ReferralData,
    ReviewClickData,
    TouchData,
    VisitData,
)
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.visits.classification import VisitClass
from touchflow.visits.models import Reason, VisitSource
from touchflow.web import labels as words

# A customer's page shows this many of the latest rows, then a link to the older ones: a
# customer with thousands of rows took ~600 ms a page to put every one into words
# (bench/RESULTS.md).
PAGE_ROWS = 200


@dataclass(frozen=True)
class Row:
    at: datetime
    kind: str
    title: str
    detail: str
    store: str
    staff: str
    tone: str = ""  # a CSS hint: the visit class, or granted/withdrawn
    pk: int = 0  # the timeline row's id: where "older" rows start


@dataclass(frozen=True)
class Page:
    """Some of a customer's latest rows, oldest first."""

    rows: list[Row]
    has_older: bool

    @property
    def older_than(self) -> int | None:
        """The id that the next, older page starts before (None: no older rows)."""
        return self.rows[0].pk if self.has_older and self.rows else None


def _choice(choices: type, value: object) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def _source(value: object) -> str:
    """Sources are spelled the same in consent and visit records; either list names them."""
    for choices in (ConsentSource, VisitSource):
        if value in choices.values:
            return str(choices(value).label)
    return str(value or "")


def _money(amount: str, currency: str) -> str:
    try:
        return f"{number_format(Decimal(amount), 2, use_l10n=True)} {currency}"
    except (InvalidOperation, TypeError):
        return f"{amount} {currency}"


class _Labels:
    """Reason and category labels, loaded once per page rather than once per row."""

    def __init__(self, language: str) -> None:
        self.reasons = {r.code: r.label(language) for r in Reason.objects.all()}
        self.categories = {c.slug: c.label(language) for c in Category.objects.all()}
        # Chain rows carry the chain's code; its name may have changed since, show today's.
        self.flows = dict(Flow.objects.values_list("slug", "name"))

    def categories_of(self, codes: list[str] | None) -> str:
        return ", ".join(self.categories.get(c, c) for c in codes or [])


def _visit(data: VisitData, labels: _Labels) -> tuple[str, str, str]:
    parts = [_("Bought") if data.get("bought") else _("Did not buy")]
    reason = data.get("reason")
    if reason:
        parts.append(labels.reasons.get(reason, reason))
    if data.get("categories"):
        interests = labels.categories_of(data["categories"])
        parts.append(_("interested in: %(list)s") % {"list": interests})
    return _choice(VisitClass, data.get("class")), " · ".join(parts), str(data.get("class", ""))


def _purchase(data: PurchaseData, labels: _Labels) -> tuple[str, str, str]:
    detail = _money(str(data.get("amount", "")), str(data.get("currency", "")))
    if data.get("categories"):
        detail += " · " + labels.categories_of(data["categories"])
    return _("Purchase"), detail, "purchase"


def _consent(data: ConsentData, labels: _Labels) -> tuple[str, str, str]:
    title = _("Consent granted") if data.get("granted") else _("Consent withdrawn")
    detail = _("%(purpose)s for %(contact)s (%(source)s)") % {
        "purpose": _choice(ConsentPurpose, data.get("purpose")),
        "contact": data.get("contact", ""),
        "source": _source(data.get("source")),
    }
    return title, detail, "granted" if data.get("granted") else "withdrawn"


def _contact(data: ContactAddedData, labels: _Labels) -> tuple[str, str, str]:
    detail = f"{_choice(ContactKind, data.get('kind'))}: {data.get('value', '')}"
    return _("Contact added"), detail, ""


def _merged(data: MergedData, labels: _Labels) -> tuple[str, str, str]:
    detail = _("Merged with duplicate %(name)s (#%(id)s)") % {
        "name": data.get("merged_name") or "—", "id": data.get("merged_customer", "?"),
    }
    return _("Duplicate merged"), detail, ""


def _created(data: CreatedData, labels: _Labels) -> tuple[str, str, str]:
    detail = _("Source: %(source)s") % {"source": _source(data.get("source"))}
    return _("Customer created"), detail, ""


def _flow_name(slug: str, labels: _Labels, stored: str = "") -> str:
    """Today's name of the chain, else the name stored on the row, else its code."""
    return str(labels.flows.get(slug) or stored or slug)


def _enrolled(data: EnrolledData, labels: _Labels) -> tuple[str, str, str]:
    name = _flow_name(data.get("flow", ""), labels, data.get("flow_name", ""))
    return _("Entered a chain"), name, ""


def _left_flow(data: LeftFlowData, labels: _Labels) -> tuple[str, str, str]:
    parts = [_flow_name(data.get("flow", ""), labels, data.get("flow_name", ""))]
    if data.get("reason"):
        parts.append(words.reason(str(data["reason"])))
    return _("Left a chain"), " · ".join(parts), "withdrawn"


# What each touch outcome is called on the timeline.
_TOUCH_TITLES = {
    "sent": lambda: _("Message sent"),
    "retry": lambda: _("Sending failed, will retry"),
    "dead": lambda: _("Message failed (dead letter)"),
    "expired": lambda: _("Message expired"),
    "skipped": lambda: _("Message skipped"),
    "cancelled": lambda: _("Message cancelled"),
    "task": lambda: _("Call task created"),
    "call_logged": lambda: _("Call logged"),
    "call_later": lambda: _("Call moved to later"),
    "requeued": lambda: _("Message queued again"),
    "requeued_uncertain": lambda: _("Message queued again (the first one may have arrived)"),
    "uncertain": lambda: _("Not known whether the message was sent"),
    "delivered": lambda: _("Message delivered"),
    "read": lambda: _("Message read"),
    "failed": lambda: _("Message not delivered"),
    "fallback": lambda: _("Not delivered, trying the next channel"),
}
# Outcomes whose stored reason says why (a sent message needs no reason).
_WITH_REASON = ("expired", "skipped", "cancelled", "dead")


def _touch(data: TouchData, labels: _Labels) -> tuple[str, str, str]:
    outcome = str(data.get("outcome") or "")
    # A person sent again a touch not known to have gone out: the timeline says so.
    shown = "requeued_uncertain" if outcome == "requeued" and data.get("was") == "uncertain" \
        else outcome
    title = _TOUCH_TITLES.get(shown, lambda: _("Message or call"))()
    parts = []
    if outcome == "call_logged":
        parts.append(_choice(CallResult, data.get("result")))
        if data.get("minutes"):
            parts.append(ngettext("%(n)s minute", "%(n)s minutes", int(data["minutes"]))
                         % {"n": data["minutes"]})
    elif outcome == "call_later" and data.get("due_at"):
        parts.append(_("due %(when)s") % {"when": _when(str(data["due_at"]))})
    elif data.get("channel"):
        parts.append(words.channel(str(data["channel"])))
    if data.get("flow"):
        step = f" › {data['step']}" if data.get("step") else ""
        parts.append(_flow_name(data.get("flow", ""), labels) + step)
    if outcome in _WITH_REASON and data.get("reason"):
        parts.append(words.reason(str(data["reason"])))
    for extra in ("note", "error"):
        if data.get(extra):
            parts.append(str(data[extra]))
    return title, " · ".join(p for p in parts if p), outcome


def _when(iso: str) -> str:
    """A time written as ISO 8601 in a row's data, as the page's language writes it."""
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return date_format(timezone.localtime(at) if timezone.is_aware(at) else at,
                       "DATETIME_FORMAT")


def _stop(data: MessageInData) -> tuple[str, str, str]:
    """The customer's STOP (``timeline.events.stop_requested``)."""
    title = _("Customer asked to stop") + f" ({words.channel(str(data.get('channel', '')))})"
    detail = _("chains ended: %(count)s; no offers on any channel") % {
        "count": data.get("chains", 0)}
    if data.get("text"):
        detail = f"{data['text']} · {detail}"
    return title, detail, "withdrawn"


def _message_in(data: MessageInData, labels: _Labels) -> tuple[str, str, str]:
    if data.get("stop"):
        return _stop(data)
    return _("Customer wrote") + f" ({words.channel(str(data.get('channel', '')))})", str(
        data.get("text", "")), "reply"


def _message_out(data: MessageOutData, labels: _Labels) -> tuple[str, str, str]:
    title = _("Answered") + f" ({words.channel(str(data.get('channel', '')))})"
    if data.get("tone_flags"):
        title += " · " + _("sent despite the tone check")
    return title, str(data.get("text", "")), "answer"


def _bounce(data: BounceData, labels: _Labels) -> tuple[str, str, str]:
    title = _("E-mail bounced for good") if data.get("hard") else _("E-mail bounced")
    detail = " · ".join(str(p) for p in (data.get("contact"), data.get("error")) if p)
    return title, detail, "withdrawn" if data.get("hard") else ""


def _check_in_answer(data: CheckInAnswerData, labels: _Labels) -> tuple[str, str, str]:
    value = data.get("answer")
    if data.get("kind") == answers.YES_NO and value is not None:
        answer = _("yes") if value == answers.YES else _("no")
    else:
        answer = f"{value}/5" if value is not None else ""
    mood = {answers.HAPPY: _("happy"), answers.NEUTRAL: _("neutral"),
            answers.UNHAPPY: _("unhappy")}.get(data.get("mood", ""), "")
    title = _("Changed the check-in answer") if data.get("changed") else _("Answered the check-in")
    via = _("rating page") if data.get("via") == PAGE else words.channel(str(data.get("via")))
    parts = [p for p in (answer, mood, str(data.get("chain", "")), via) if p]
    detail = " · ".join(parts)
    if data.get("text"):
        detail = f"«{data['text']}» · {detail}"
    tone = {answers.HAPPY: "granted", answers.UNHAPPY: "withdrawn"}.get(data.get("mood", ""), "")
    return title, detail, tone


def _escalation_opened(data: EscalationOpenedData, labels: _Labels) -> tuple[str, str, str]:
    reason = _choice(EscalationReason, data.get("reason", ""))
    text = data.get("text", "")
    return _("Handed to a manager"), " · ".join(p for p in (reason, text and f"«{text}»") if p), \
        "withdrawn"


def _escalation_resolved(data: EscalationResolvedData,
                         labels: _Labels) -> tuple[str, str, str]:
    parts = [_choice(Resolution, data.get("resolution", "")), data.get("note", "")]
    if data.get("overdue"):
        parts.append(_("after the deadline"))
    return _("Complaint resolved"), " · ".join(p for p in parts if p), "granted"


def _referral_state(data: ReferralData) -> str:
    state = _choice(ReferralState, data.get("state", ""))
    reason = REFERRAL_REASONS.get(data.get("reason", ""))
    return f"{state} ({reason()})" if reason else state


def _referral_made(data: ReferralData, labels: _Labels) -> tuple[str, str, str]:
    detail = " · ".join([_referral_state(data), str(data.get("code", ""))])
    return _("Brought a new customer"), detail, "granted" if data.get("state") == "counted" else ""


def _referred(data: ReferralData, labels: _Labels) -> tuple[str, str, str]:
    detail = " · ".join([_referral_state(data), str(data.get("code", ""))])
    return _("Came with a referral code"), detail, ""


def _review_click(data: ReviewClickData, labels: _Labels) -> tuple[str, str, str]:
    return _("Opened the review link"), "", "granted"


# Why a referral was held or refused, in words.
REFERRAL_REASONS = {
    "self": lambda: _("the referrer themself"),
    "existing_customer": lambda: _("already a customer"),
    "many_in_a_day": lambda: _("many referrals in a day"),
    "same_name": lambda: _("same name as the referrer"),
}


# Each reader takes the payload its kind's writer in ``timeline.events`` builds.
_RENDER: dict[EventKind, Callable[[Any, _Labels], tuple[str, str, str]]] = {
    EventKind.VISIT: _visit,
    EventKind.PURCHASE: _purchase,
    EventKind.CONSENT: _consent,
    EventKind.CONTACT_ADDED: _contact,
    EventKind.MERGED: _merged,
    EventKind.CUSTOMER_CREATED: _created,
    EventKind.ENROLLED: _enrolled,
    EventKind.LEFT_FLOW: _left_flow,
    EventKind.TOUCH: _touch,
    EventKind.MESSAGE_IN: _message_in,
    EventKind.MESSAGE_OUT: _message_out,
    EventKind.BOUNCE: _bounce,
    EventKind.CHECK_IN_ANSWER: _check_in_answer,
    EventKind.ESCALATION_OPENED: _escalation_opened,
    EventKind.ESCALATION_RESOLVED: _escalation_resolved,
    EventKind.REFERRAL_MADE: _referral_made,
    EventKind.REFERRED: _referred,
    EventKind.REVIEW_CLICK: _review_click,
}


def page(customer: Customer, language: str, stores: Stores = None,
         before: int | None = None) -> Page:
    """The latest ``PAGE_ROWS`` rows of the customer's timeline as ``stores`` may see it
    (decision 0008; None: all of it) — those older than the row ``before`` (an id) when
    given — oldest first, each in words, and whether there are older ones."""
    events, has_older = latest_timeline(customer, stores, PAGE_ROWS, before)
    return Page(_in_words(events, _Labels(language)), has_older)


def _in_words(events: list[TimelineEvent], labels: _Labels) -> list[Row]:
    out = []
    for event in events:
        render = _RENDER.get(EventKind(event.kind)) if event.kind in EventKind.values else None
        if render is not None:
            title, detail, tone = render(event.data, labels)
        else:
            # A kind added later and not yet put into words here: its name, at least.
            title, detail, tone = _choice(EventKind, event.kind), "", ""
        out.append(Row(
            at=event.at, kind=event.kind, title=title, detail=detail, tone=tone,
            store=event.store.name if event.store else "",
            staff=(event.staff.get_full_name() or event.staff.username) if event.staff else "",
            pk=event.pk,
        ))
    return out
