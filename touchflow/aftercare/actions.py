"""Recording a check-in's answer: the one writer of ``CheckInAnswer`` and of its
timeline row, whichever way the answer came (a button, a reply, the rating page)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from touchflow.aftercare import escalations
from touchflow.aftercare.models import CheckInAnswer
from touchflow.aftercare.queries import answerable, open_check_in
from touchflow.core.errors import InvalidInput
from touchflow.customers import referrals
from touchflow.delivery.models import Touch
from touchflow.flows import answers
from touchflow.funnel import enrollment as funnel
from touchflow.purchases.models import Purchase
from touchflow.stores.models import Store
from touchflow.timeline import events
from touchflow.visits.models import Visit

PAGE = "page"  # ``via`` of an answer given on the rating page


@dataclass(frozen=True)
class Recorded:
    answer: CheckInAnswer
    changed: bool  # it replaced an earlier answer


def answer_reply(
    customer_id: int, store_id: int, channel: str, text: str, at: datetime
) -> Recorded | None:
    """Record ``text`` as the answer to the customer's open check-in from ``store_id``;
    None when there is none or the text is no answer (it then stays a reply)."""
    touch = open_check_in(customer_id, store_id, at)
    if touch is None:
        return None
    reading = answers.read(touch.step.answers, text, _threshold(store_id))
    if reading is None:
        if answers.complaint(text):
            escalations.open_for_complaint(touch, text, at)
        return None
    return _record(touch, reading, channel, text, at)


def answer_on_page(touch: Touch, value: int, at: datetime) -> Recorded:
    """Record the value tapped on the rating page; InvalidInput names ``value`` when it
    is not one of the check-in's answers or the check-in can no longer be answered."""
    if not answerable(touch, at):
        raise InvalidInput("value", "This check-in can no longer be answered.")
    kind = touch.step.answers
    if value not in answers.choices(kind):
        raise InvalidInput("value", "Choose one of the answers shown.")
    reading = answers.Reading(value, answers.mood_of(kind, value, _threshold(touch.store_id)))
    return _record(touch, reading, PAGE, "", at)


def _threshold(store_id: int) -> int:
    found = Store.objects.filter(pk=store_id).values_list("unhappy_at_most", flat=True).first()
    return answers.DEFAULT_UNHAPPY_AT_MOST if found is None else found


def _record(
    touch: Touch, reading: answers.Reading, via: str, text: str, at: datetime
) -> Recorded:
    """Write the answer, or change the one given before (two taps racing: one row, the
    later write wins), and put it on the timeline."""
    fields: dict[str, object] = {
        "value": reading.value, "mood": reading.mood, "via": via, "text": text[:500],
    }
    with transaction.atomic():
        row = CheckInAnswer.objects.select_for_update().filter(touch=touch).first()
        changed = row is not None
        if row is None:
            row, created = _first(touch, fields, at)
            changed = not created
        if changed:
            for name, value in fields.items():
                setattr(row, name, value)
            row.changed_at = at
            row.save(update_fields=[*fields, "changed_at"])
        events.check_in_answered(
            touch.customer_id, at, store_id=touch.store_id, staff_id=row.staff_id,
            purchase_id=row.purchase_id, visit_id=row.visit_id,
            data={"chain": touch.step.flow.name, "step": touch.step.key, "touch": touch.pk,
                  "kind": row.kind, "answer": row.value, "mood": row.mood, "via": via,
                  "text": text, "changed": changed, "categories": _categories(row)},
        )
        if row.mood == answers.UNHAPPY:
            escalations.open_for(row, at)
        if not changed:
            _follow_up(touch, row, at)
    return Recorded(row, changed)


def _categories(answer: CheckInAnswer) -> list[str]:
    """What the check-in asked about: the purchase's categories, or the visit's."""
    if answer.purchase_id is not None:
        found = Purchase.objects.filter(pk=answer.purchase_id).values_list(
            "categories", flat=True).first()
        if found:
            return list(found)
    if answer.visit_id is not None:
        return list(Visit.objects.filter(pk=answer.visit_id).values_list(
            "categories", flat=True).first() or [])
    return []


def _follow_up(touch: Touch, answer: CheckInAnswer, at: datetime) -> None:
    """After a first answer: a happy customer gets their referral code (the referral
    request's chain carries it) and every answer may lead to a review request."""
    happy = answer.mood == answers.HAPPY
    enrollment = touch.enrollment
    if happy:
        referrals.code_for(enrollment.customer, enrollment.store, at)
    funnel.on_check_in_answered(enrollment, at, happy=happy)


def _first(
    touch: Touch, fields: Mapping[str, object], at: datetime
) -> tuple[CheckInAnswer, bool]:
    """(the touch's first answer, True); (the row another request wrote first, False)
    when it won a race."""
    enrollment = touch.enrollment
    try:
        with transaction.atomic():
            return CheckInAnswer.objects.create(
                touch=touch, customer_id=touch.customer_id, store_id=touch.store_id,
                staff_id=enrollment.staff_id, purchase_id=enrollment.purchase_id,
                visit_id=enrollment.visit_id, kind=touch.step.answers, answered_at=at,
                **fields,
            ), True
    except IntegrityError:
        return CheckInAnswer.objects.select_for_update().get(touch=touch), False
