"""One function per event type, each writing one timeline row.

Called by the domain actions inside their transaction, so a state change and its
timeline row commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from touchflow.core.bulk import Encoded, insert_many
from touchflow.timeline import figures
from touchflow.timeline.models import EventKind, TimelineEvent
from touchflow.timeline.records import (
    ConsentRecord,
    ContactRecord,
    CustomerRecord,
    EnrollmentRecord,
    NoticeRecord,
    PurchaseRecord,
    TouchRecord,
    VisitRecord,
)

if TYPE_CHECKING:
    from touchflow.integrations.actor import Actor


# What each kind of row carries in ``data``: written only here, read back by the pages
# (``web.timeline``) through the same types. Rows written before a key existed lack it:
# readers use ``.get``.


class CreatedData(TypedDict):
    source: str
    name: str


class ContactAddedData(TypedDict):
    kind: str
    value: str
    source: str


class ConsentData(TypedDict):
    contact: str
    kind: str
    purpose: str
    granted: bool
    source: str


VisitData = TypedDict("VisitData", {  # "class" is a keyword
    "class": str, "bought": bool, "contacts": str, "reason": str | None, "categories": list[str],
    # The customer had visited the store before: a return visit (the funnel's third stage).
    "again": NotRequired[bool],
})


class PurchaseData(TypedDict):
    amount: str
    currency: str
    categories: list[str]
    items: int
    external_id: str | None
    # The chain and step credited with the sale (``delivery.credit``), when one was.
    flow: NotRequired[str]
    step: NotRequired[str]


class MergedData(TypedDict):
    merged_customer: int
    merged_name: str
    source: str


class EnrolledData(TypedDict):
    flow: str
    flow_name: str


class LeftFlowData(EnrolledData):
    state: str
    reason: str


class TouchData(TypedDict, total=False):
    """An attempt or outcome of a chain's touch (or of a notice: ``notice`` instead of
    ``touch``), a delivery receipt, a logged call, a requeue."""

    touch: int
    notice: int
    flow: str
    step: str
    channel: str
    outcome: str
    attempt: int
    reason: str
    error: str
    result: str  # a logged call's result
    note: str
    minutes: int  # how long a logged call took, when the person said
    due_at: str  # a rescheduled call: when it is due now (ISO 8601)
    was: str  # what a requeued touch had been: dead or uncertain
    bought: bool  # a logged call: the customer had bought at the store (the 20% rule)


MessageInData = TypedDict("MessageInData", {  # "from" is a keyword
    "channel": str, "text": str, "from": str, "stop": str, "chains": int,
    # The chain whose message the customer answered or stopped (``delivery.credit``).
    "flow": str, "step": str,
}, total=False)


class MessageOutData(TypedDict, total=False):
    channel: str
    text: str
    to: str
    provider_id: str
    notice: int
    bought: bool  # a staff reply: the customer had bought at the store (the 20% rule)
    # A staff reply sent although the tone check flagged it: the categories it found.
    tone_flags: list[str]


class BounceData(TypedDict):
    contact: str
    hard: bool
    error: str


class EscalationOpenedData(TypedDict):
    escalation: int
    reason: str  # aftercare.EscalationReason
    answer: int | None
    text: str
    due_at: str  # ISO 8601
    assignee: int | None


class EscalationResolvedData(TypedDict):
    escalation: int
    resolution: str  # aftercare.Resolution
    note: str
    overdue: bool
    working_minutes: int  # how long it took, in the store's opening hours


class ReferralData(TypedDict, total=False):
    referral: int
    code: str
    state: str  # customers.ReferralState
    reason: str  # why held or refused
    via: str  # counter, api, link
    customer: int  # the other side: the newcomer on the referrer's row, and back


class ReviewClickData(TypedDict):
    touch: int


class CheckInAnswerData(TypedDict):
    chain: str  # the chain's name
    step: str  # the step's key
    touch: int
    kind: str  # flows.answers.SCALE or YES_NO
    answer: int | None  # 1–5, or 1 yes / 0 no; None: worded ("всё хорошо")
    mood: str
    via: str  # the channel, or "page"
    text: str  # a reply as written ("" from a button or the page)
    changed: bool  # a second answer that replaced the first
    categories: NotRequired[list[str]]  # what the customer bought or looked at


# Every row below is written through these, which count it in the figures too
# (``timeline.figures``), in the same transaction.


def _write(customer_id: int, kind: str, at: datetime, **fields: Any) -> TimelineEvent:
    row = TimelineEvent.objects.create(customer_id=customer_id, kind=kind, at=at, **fields)
    figures.record_events([row])
    return row


def _save(row: TimelineEvent) -> None:
    row.save()
    figures.record_events([row])


# Columns of the rows below as plain values, for writers that insert many (the importer).
BULK_ROW_COLUMNS = ("customer_id", "kind", "at", "store_id", "staff_id", "purchase_id", "data")
BulkRow = tuple[int, str, datetime, int | None, int | None, int | None, Mapping[str, Any]]


def insert_values(rows: Sequence[BulkRow], encoded: Encoded | None = None) -> None:
    """Write rows built by the ``*_values`` functions in one statement (the importer's
    batches; ``encoded``: texts the job already encoded)."""
    insert_many(TimelineEvent._meta.db_table, BULK_ROW_COLUMNS, rows, json_columns=("data",),
                datetime_columns=("at",), encoded=encoded)
    figures.record((kind, at, store, staff, data) for _, kind, at, store, staff, _, data in rows)


def _from_values(values: BulkRow) -> TimelineEvent:
    return TimelineEvent(**dict(zip(BULK_ROW_COLUMNS, values, strict=True)))


def customer_created_values(customer: CustomerRecord, actor: Actor) -> BulkRow:
    """A ``customer_created`` row as values in ``BULK_ROW_COLUMNS`` order."""
    return (
        customer.pk,
        EventKind.CUSTOMER_CREATED,
        customer.created_at,
        customer.home_store_id,
        actor.staff.pk if actor.staff else None,
        None,
        CreatedData(source=actor.source, name=customer.name),
    )


def customer_created_row(customer: CustomerRecord, actor: Actor) -> TimelineEvent:
    """An unsaved ``customer_created`` row."""
    return _from_values(customer_created_values(customer, actor))


def customer_created(customer: CustomerRecord, actor: Actor) -> TimelineEvent:
    row = customer_created_row(customer, actor)
    _save(row)
    return row


def contact_added_values(contact: ContactRecord, actor: Actor) -> BulkRow:
    """A ``contact_added`` row as values in ``BULK_ROW_COLUMNS`` order."""
    return (
        contact.customer_id,
        EventKind.CONTACT_ADDED,
        contact.created_at,
        None,
        actor.staff.pk if actor.staff else None,
        None,
        ContactAddedData(kind=contact.kind, value=contact.value, source=actor.source),
    )


def contact_added_row(contact: ContactRecord, actor: Actor) -> TimelineEvent:
    """An unsaved ``contact_added`` row, for bulk writers."""
    return _from_values(contact_added_values(contact, actor))


def contact_added(contact: ContactRecord, actor: Actor) -> TimelineEvent:
    row = contact_added_row(contact, actor)
    _save(row)
    return row


def write_rows(rows: Sequence[TimelineEvent], batch_size: int = 1000) -> None:
    """Insert unsaved rows from the ``*_row`` builders in bulk (same transaction as the caller)."""
    TimelineEvent.objects.bulk_create(rows, batch_size=batch_size)
    figures.record_events(rows)


def consent_changed_row(event: ConsentRecord) -> TimelineEvent:
    return TimelineEvent(
        customer_id=event.customer_id,
        kind=EventKind.CONSENT,
        at=event.at,
        store_id=event.store_id,  # None: the customer's own request, seen by every store
        staff_id=event.staff_id,
        data=ConsentData(
            contact=event.contact_point.value,
            kind=event.contact_point.kind,
            purpose=event.purpose,
            granted=event.granted,
            source=event.source,
        ),
    )


def consent_changed(event: ConsentRecord) -> TimelineEvent:
    row = consent_changed_row(event)
    _save(row)
    return row


def visit_data(visit: VisitRecord, again: bool = False) -> VisitData:
    data: VisitData = {
        "class": visit.visit_class,
        "bought": visit.bought,
        "contacts": visit.contact_capture,
        "reason": visit.reason.code if visit.reason_id and visit.reason else None,
        "categories": visit.categories,
    }
    if again:
        data["again"] = True
    return data


def visit_row(visit: VisitRecord, *, again: bool = False) -> TimelineEvent:
    assert visit.customer_id is not None
    return TimelineEvent(
        customer_id=visit.customer_id,
        kind=EventKind.VISIT,
        at=visit.occurred_at,
        store_id=visit.store_id,
        staff_id=visit.staff_id,
        visit_id=visit.pk,
        data=visit_data(visit, again),
    )


def visit_written(rows: Sequence[TimelineEvent], visit: VisitRecord, time_zone: str, *,
                  again: bool = False) -> None:
    """Insert a visit's unsaved timeline rows (``rows``, from the ``*_row`` builders; none
    for a visit without a customer) and count them and the visit in the figures, in one
    statement of counts — every visit is counted, with a customer or without, from the
    visit itself (``figures.COUNTED_ELSEWHERE``). ``time_zone``: the store's, whose
    calendar the day is counted on; ``again``: a return visit."""
    TimelineEvent.objects.bulk_create(rows)
    counted: list[figures.Row] = [(r.kind, r.at, r.store_id, r.staff_id, r.data) for r in rows
                                  if r.kind not in figures.COUNTED_ELSEWHERE]
    counted.append((EventKind.VISIT, visit.occurred_at, visit.store_id, visit.staff_id,
                    visit_data(visit, again)))
    figures.record(counted, skip=frozenset(), known={visit.store_id: time_zone})


def purchase_data(purchase: PurchaseRecord, credit: tuple[str, str] = ("", "")) -> PurchaseData:
    """``credit``: the chain and step the sale is credited to ("", "": none)."""
    data: PurchaseData = {
        "amount": str(purchase.amount),
        "currency": purchase.currency,
        "categories": purchase.categories,
        "items": len(purchase.items),
        "external_id": purchase.external_id,
    }
    if credit[0]:
        data["flow"], data["step"] = credit
    return data


def purchase_values(purchase: PurchaseRecord, credit: tuple[str, str] = ("", "")) -> BulkRow:
    """A purchase's row as values in ``BULK_ROW_COLUMNS`` order (the purchase has its id)."""
    return (
        purchase.customer_id,
        EventKind.PURCHASE,
        purchase.occurred_at,
        purchase.store_id,
        None,
        purchase.pk,
        purchase_data(purchase, credit),
    )


def purchase_row(purchase: PurchaseRecord, credit: tuple[str, str] = ("", "")) -> TimelineEvent:
    """An unsaved timeline row for a purchase."""
    return _from_values(purchase_values(purchase, credit))


def purchase_recorded(purchase: PurchaseRecord, credit: tuple[str, str] = ("", "")
                      ) -> TimelineEvent:
    row = purchase_row(purchase, credit)
    _save(row)
    return row


def customers_merged(
    survivor: CustomerRecord, merged: CustomerRecord, at: datetime, actor: Actor
) -> TimelineEvent:
    return _write(
        survivor.pk,
        EventKind.MERGED,
        at,
        staff=actor.staff,
        data=MergedData(merged_customer=merged.pk, merged_name=merged.name, source=actor.source),
    )


def enrolled(enrollment: EnrollmentRecord) -> TimelineEvent:
    return _write(
        enrollment.customer_id,
        EventKind.ENROLLED,
        enrollment.entered_at,
        store_id=enrollment.store_id,
        staff_id=enrollment.staff_id,
        data=EnrolledData(flow=enrollment.flow.slug, flow_name=enrollment.flow.name),
    )


def enrolled_insert_sql(vendor: str) -> str:
    """The start of a statement writing an ``enrolled`` row per enrollment, its
    ``EnrolledData`` built by the database — for the set-shaped enrolment of a whole
    segment (``delivery.segments.enroll_segment``), which appends its ``FROM`` clause naming
    the enrollments ``e``. Two parameters: the chain's code and name."""
    data = (
        "json_build_object('flow', %s::text, 'flow_name', %s::text)"
        if vendor == "postgresql"
        else "json_object('flow', %s, 'flow_name', %s)"
    )
    return (
        f"INSERT INTO {TimelineEvent._meta.db_table} (customer_id, kind, at, store_id, data) "
        f"SELECT e.customer_id, '{EventKind.ENROLLED.value}', e.entered_at, e.store_id, {data} "
    )


def segment_enrolled(store_id: int, at: datetime, flow_slug: str, count: int) -> None:
    """Count the ``enrolled`` rows ``enrolled_insert_sql`` wrote for a segment (the
    database built them; the figures need only how many)."""
    figures.record_times((EventKind.ENROLLED, at, store_id, None, {"flow": flow_slug}), count)


def insert_touch_rows(rows: Sequence[Sequence[Any]]) -> None:
    """Write touch rows (``TOUCH_ROW_COLUMNS`` values, their data from ``touch_data``) in
    one statement: the dispatcher's outcomes of a step."""
    insert_many(TimelineEvent._meta.db_table, TOUCH_ROW_COLUMNS, rows,
                json_columns=("data",), datetime_columns=("at",))
    figures.record((kind, at, store, None, data) for _, kind, at, store, data in rows)


def touch_insert_sql() -> str:
    """The start of a PostgreSQL statement writing a ``touch`` row per outcome, its
    ``TouchData`` (``touch_data``'s keys) built by the database — for the dispatcher's
    outcomes, written in the statement that records them (``delivery.queries.record_all``),
    which appends its ``FROM`` clause naming a relation ``o`` with the columns
    customer_id, store_id, at, touch, flow, step, channel, outcome, attempt, reason and
    error. Count what it wrote with ``touch_rows_written``."""
    return (
        f"INSERT INTO {TimelineEvent._meta.db_table} (customer_id, kind, at, store_id, data) "
        f"SELECT o.customer_id, '{EventKind.TOUCH.value}', o.at, o.store_id, "
        "jsonb_build_object('touch', o.touch, 'flow', o.flow, 'step', o.step, "
        "'channel', o.channel, 'outcome', o.outcome, 'attempt', o.attempt, "
        "'reason', o.reason, 'error', left(o.error, 300)) "
    )


# A kind of touch row ``touch_insert_sql`` wrote: store id, at, chain, step, channel and
# outcome — what its figures count.
TouchRowKind = tuple[int, datetime, str, str, str, str]


def touch_rows_written(kinds: Mapping[TouchRowKind, int]) -> None:
    """Count in the figures the touch rows ``touch_insert_sql`` wrote (the database built
    them; the figures need only how many of each kind)."""
    figures.record_repeated(
        ((EventKind.TOUCH, at, store_id, None,
          {"flow": flow, "step": step, "channel": channel, "outcome": outcome}), n)
        for (store_id, at, flow, step, channel, outcome), n in kinds.items()
    )


def left_flow_row(enrollment: EnrollmentRecord) -> TimelineEvent:
    """An unsaved row for an enrollment that ended: left early, or completed the chain."""
    assert enrollment.ended_at is not None
    return TimelineEvent(
        customer_id=enrollment.customer_id,
        kind=EventKind.LEFT_FLOW,
        at=enrollment.ended_at,
        store_id=enrollment.store_id,
        data=LeftFlowData(
            flow=enrollment.flow.slug,
            flow_name=enrollment.flow.name,
            state=enrollment.state,
            reason=enrollment.end_reason,
        ),
    )


def left_flow(enrollment: EnrollmentRecord) -> TimelineEvent:
    row = left_flow_row(enrollment)
    _save(row)
    return row


def touch_data(
    touch: Any, outcome: str, flow_slug: str, step_key: str, error: str = ""
) -> TouchData:
    """What the timeline says about one attempt or final outcome of a touch (a Touch,
    or the dispatcher's plain record of one: pk, channel, attempts, reason)."""
    return {
        "touch": touch.pk,
        "flow": flow_slug,
        "step": step_key,
        "channel": touch.channel,
        "outcome": outcome,
        "attempt": touch.attempts,
        "reason": touch.reason,
        "error": error[:300],
    }


# Columns of a touch's timeline row, for writers that insert many (the dispatcher).
TOUCH_ROW_COLUMNS = ("customer_id", "kind", "at", "store_id", "data")


def touch_row(
    touch: TouchRecord, at: datetime, outcome: str, flow_slug: str, step_key: str, error: str = ""
) -> TimelineEvent:
    """An unsaved timeline row for one attempt or final outcome of a touch."""
    return TimelineEvent(
        customer_id=touch.customer_id,
        kind=EventKind.TOUCH,
        at=at,
        store_id=touch.store_id,
        data=touch_data(touch, outcome, flow_slug, step_key, error),
    )


def call_logged(
    touch: TouchRecord, staff_id: int | None, at: datetime, result: str, note: str = "",
    *, minutes: int | None = None, bought: bool | None = None,
) -> TimelineEvent:
    """A person logged the result of a chain's call task (a ``touch`` row, outcome
    ``call_logged``), so the call sits beside the chain's other touches; ``minutes``: how
    long it took, when they said; ``bought``: the customer had bought at the store (the
    20% rule)."""
    row = touch_row(touch, at, "call_logged", touch.enrollment.flow.slug, touch.step.key)
    row.staff_id = staff_id
    row.data.update(TouchData(channel="call", result=result, note=note[:300]))
    if bought is not None:
        row.data["bought"] = bought
    if minutes is not None:
        row.data["minutes"] = minutes
    _save(row)
    return row


def call_rescheduled(
    touch: TouchRecord, staff_id: int | None, at: datetime, due_at: datetime, note: str = ""
) -> TimelineEvent:
    """A person moved a chain's call task to a later time ("call back later"): a ``touch``
    row, outcome ``call_later``, with the new due time; the task stays open."""
    row = touch_row(touch, at, "call_later", touch.enrollment.flow.slug, touch.step.key)
    row.staff_id = staff_id
    row.data.update(TouchData(channel="call", due_at=due_at.isoformat(), note=note[:300]))
    _save(row)
    return row


def touch_requeued(
    touch: TouchRecord, staff_id: int | None, at: datetime, was: str = "dead"
) -> TimelineEvent:
    """A person sent a dead letter (``was`` "dead") or a touch not known to have been
    sent (``was`` "uncertain") back to the queue."""
    row = touch_row(touch, at, "requeued", touch.enrollment.flow.slug, touch.step.key)
    row.staff_id = staff_id
    row.data["was"] = was
    _save(row)
    return row


def stop_requested(
    customer_id: int, at: datetime, *, store_id: int | None, channel: str, how: str,
    chains: int, text: str = "", credit: tuple[str, str] = ("", ""),
) -> TimelineEvent:
    """The customer asked to stop (``how``: text, button, unsubscribed, complaint, link): a
    ``message_in`` row, so staff see why the messages ended and which chains it ended.
    ``store_id`` None: a request no store received (a link without one). ``credit``:
    the chain and step whose message came last before it."""
    data = MessageInData(channel=channel, text=text[:4000], stop=how, chains=chains)
    if credit[0]:
        data["flow"], data["step"] = credit
    return _write(customer_id, EventKind.MESSAGE_IN, at, store_id=store_id, data=data)


def notice_sent(notice: NoticeRecord, at: datetime) -> TimelineEvent:
    """A notice (a STOP confirmation, a welcome) reached the provider."""
    assert notice.customer_id is not None
    return _write(
        notice.customer_id, EventKind.MESSAGE_OUT, at, store_id=notice.store_id,
        data=MessageOutData(channel=notice.channel, text=notice.text, to=notice.address,
                            provider_id=notice.provider_message_id, notice=notice.pk),
    )


def notice_dead(notice: NoticeRecord, at: datetime) -> TimelineEvent:
    """A notice the provider never took: a dead letter staff can see."""
    assert notice.customer_id is not None
    return _write(
        notice.customer_id, EventKind.TOUCH, at, store_id=notice.store_id,
        data=TouchData(notice=notice.pk, channel=notice.channel, outcome="dead",
                       attempt=notice.attempts, reason="", error=notice.last_error[:300]),
    )


def message_received(
    customer_id: int, at: datetime, *, store_id: int, channel: str, text: str, sender: str,
    credit: tuple[str, str] = ("", ""),
) -> TimelineEvent:
    """The customer wrote (a reply, not a STOP: ``stop_requested``); ``credit``: the
    chain and step whose message they answered, as far as can be told."""
    data: MessageInData = {"channel": channel, "text": text[:4000], "from": sender}
    if credit[0]:
        data["flow"], data["step"] = credit
    return _write(customer_id, EventKind.MESSAGE_IN, at, store_id=store_id, data=data)


def reply_sent(
    customer_id: int, at: datetime, *, store_id: int, staff_id: int, channel: str, text: str,
    to: str, provider_id: str, bought: bool, tone_flags: list[str] | None = None,
) -> TimelineEvent:
    """A staff member answered from the customer's page, and the provider took it
    (``bought``: the customer had bought at the store, for the 20% rule; ``tone_flags``:
    what the tone check found, when they chose to send it anyway)."""
    data = MessageOutData(channel=channel, text=text, to=to, provider_id=provider_id,
                          bought=bought)
    if tone_flags:
        data["tone_flags"] = tone_flags
    return _write(customer_id, EventKind.MESSAGE_OUT, at, store_id=store_id,
                  staff_id=staff_id, data=data)


def receipt(
    touch: TouchRecord, at: datetime, outcome: str, channel: str, error: str
) -> TimelineEvent:
    """What the provider later said of a sent touch: delivered, read, failed, or failed
    for good and falling back to the next channel."""
    return _write(
        touch.customer_id, EventKind.TOUCH, at, store_id=touch.store_id,
        data=TouchData(touch=touch.pk, outcome=outcome, channel=channel, error=error[:300]),
    )


def bounced(
    customer_id: int, at: datetime, *, store_id: int, contact: str, hard: bool, error: str
) -> TimelineEvent:
    """An e-mail bounced: for good (``hard``: the address is marked undeliverable) or not."""
    return _write(
        customer_id, EventKind.BOUNCE, at, store_id=store_id,
        data=BounceData(contact=contact, hard=hard, error=error[:300]),
    )


def check_in_answered(
    customer_id: int, at: datetime, *, store_id: int, staff_id: int | None,
    purchase_id: int | None, visit_id: int | None, data: CheckInAnswerData,
) -> TimelineEvent:
    """The customer answered a check-in (or changed their answer), tied to what it asked
    about and to the salesperson who served them."""
    return _write(
        customer_id, EventKind.CHECK_IN_ANSWER, at, store_id=store_id, staff_id=staff_id,
        purchase_id=purchase_id, visit_id=visit_id, data={**data, "text": data["text"][:500]},
    )


def escalation_opened(
    customer_id: int, at: datetime, *, store_id: int, staff_id: int | None,
    data: EscalationOpenedData,
) -> TimelineEvent:
    """An unhappy customer was handed to a manager (``staff_id``: who sold to them)."""
    return _write(customer_id, EventKind.ESCALATION_OPENED, at, store_id=store_id,
                  staff_id=staff_id, data={**data, "text": data["text"][:500]})


def escalation_resolved(
    customer_id: int, at: datetime, *, store_id: int, staff_id: int,
    data: EscalationResolvedData,
) -> TimelineEvent:
    """A manager resolved the escalation (``staff_id``: who)."""
    return _write(customer_id, EventKind.ESCALATION_RESOLVED, at, store_id=store_id,
                  staff_id=staff_id, data=data)


def referral_made(customer_id: int, at: datetime, *, store_id: int, other: int,
                  data: ReferralData) -> TimelineEvent:
    """The customer brought someone (``other``) with their code."""
    return _write(customer_id, EventKind.REFERRAL_MADE, at, store_id=store_id,
                  data={**data, "customer": other})


def referred(customer_id: int, at: datetime, *, store_id: int, other: int,
             data: ReferralData) -> TimelineEvent:
    """The customer came with someone's (``other``'s) code."""
    return _write(customer_id, EventKind.REFERRED, at, store_id=store_id,
                  data={**data, "customer": other})


def review_link_opened(customer_id: int, at: datetime, *, store_id: int,
                       touch: int) -> TimelineEvent:
    """The customer opened the review link of a review request (each click counts)."""
    data: ReviewClickData = {"touch": touch}
    return _write(customer_id, EventKind.REVIEW_CLICK, at, store_id=store_id, data=data)
