"""Chains: the list with their numbers, one chain's steps, and switching it on or off.

A chain is changed in the editor (``chain_editor``) or in its file: both are its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from touchflow.core import clock
from touchflow.core.errors import InvalidInput
from touchflow.delivery.models import Touch, TouchState
from touchflow.delivery.render import Renderer
from touchflow.flows.models import (
    Enrollment,
    EnrollmentState,
    Flow,
    FlowActivation,
    FlowStatus,
    FlowStep,
)
from touchflow.flows.templates import SAMPLE_CONTEXT
from touchflow.funnel.chains import set_status
from touchflow.messaging.segments import SmsSize, measure
from touchflow.stores.models import LANGUAGE_CHOICES, Staff
from touchflow.web import labels
from touchflow.web.current_store import stores_for
from touchflow.web.roles import manager_required
from touchflow.web.staff import staff_of

SENT_PERIOD = timedelta(days=7)


@dataclass(frozen=True)
class ChainRow:
    flow: Flow
    steps: int
    active: int
    sent: int


@dataclass(frozen=True)
class StepView:
    step: FlowStep
    position: int
    kind: str
    delay: str
    send_time: str
    channels: str
    expires: str
    # (language label, subject, text, its SMS size when the step may go by SMS)
    texts: list[tuple[str, str, str, SmsSize | None, str]]  # ... and the language code


def _scoped(qs: QuerySet[Any], staff: Staff) -> QuerySet[Any]:
    """Counts cover the stores the staff member works in (every store for an admin)."""
    if staff.is_admin:
        return qs
    return qs.filter(store__in=stores_for(staff))


def _counts(staff: Staff) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Live steps, active enrollments and touches sent in the last 7 days, per chain."""
    steps = dict(FlowStep.objects.filter(retired=False).values("flow_id")
                 .annotate(n=Count("id")).values_list("flow_id", "n"))
    active = dict(_scoped(Enrollment.objects.filter(state=EnrollmentState.ACTIVE), staff)
                  .values("flow_id").annotate(n=Count("id")).values_list("flow_id", "n"))
    since = clock.now() - SENT_PERIOD
    sent = dict(_scoped(Touch.objects.filter(state=TouchState.SENT, finished_at__gte=since),
                        staff)
                .values("enrollment__flow_id").annotate(n=Count("id"))
                .values_list("enrollment__flow_id", "n"))
    return steps, active, sent


@manager_required
@require_GET
def chain_list(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    steps, active, sent = _counts(staff)
    chains = [
        ChainRow(flow=f, steps=steps.get(f.pk, 0), active=active.get(f.pk, 0),
                 sent=sent.get(f.pk, 0))
        for f in Flow.objects.order_by("name", "slug")
    ]
    return render(request, "web/chains.html", {"chains": chains, "all_stores": staff.is_admin})


def _step_view(step: FlowStep, position: int) -> StepView:
    names = dict(LANGUAGE_CHOICES)
    # English, Russian, Polish as everywhere else; a language we don't know goes last.
    order = [code for code in names if code in step.messages]
    order += sorted(code for code in step.messages if code not in names)
    by_sms = "sms" in step.channels
    texts = []
    for code in order:
        text = str(step.messages[code].get("text", ""))
        size = sms_size(text, code)[0] if by_sms else None
        texts.append((str(names.get(code, code)), str(step.messages[code].get("subject", "")),
                      text, size, code))
    return StepView(
        step=step,
        position=position,
        kind=labels.kind(step.kind),
        delay=labels.delay(step.delay_seconds, step.anchor, first=position == 1),
        send_time=labels.send_time(step.send_at, step.window_start, step.window_end),
        channels=labels.channels(step.channels),
        expires=labels.duration(step.expires_seconds),
        texts=texts,
    )


def sms_size(source: str, language: str) -> tuple[SmsSize | None, str]:
    """The SMS a template makes for the sample customer, footer included (what is sent
    is what costs segments, not the template's own braces); or the template's error."""
    try:
        text = Renderer().render({language: {"text": source}}, language, language,
                                 {**SAMPLE_CONTEXT, "unsubscribe_url": "-"}, "sms").text
    except Exception as exc:  # noqa: BLE001 - any template error is shown, never raised
        return None, str(exc)
    return measure(text), text


@manager_required
@require_POST
def chain_sms_size(request: HttpRequest) -> HttpResponse:
    """The template editor's live count: the size of the SMS the typed template makes."""
    language = request.POST.get("language", "en")
    size, rendered = sms_size(request.POST.get("text", "")[:5000], language)
    return render(request, "web/_sms_size.html", {"sms": size, "error": "" if size else rendered})


def _flow_or_404(slug: str) -> Flow:
    flow = Flow.objects.filter(slug=slug).first()
    if flow is None:
        raise Http404
    return flow


@manager_required
@require_GET
def chain_detail(request: HttpRequest, slug: str) -> HttpResponse:
    flow = _flow_or_404(slug)
    live = [s for s in flow.steps.order_by("position") if not s.retired]
    latest = flow.versions.first()
    context = {
        "flow": flow,
        "steps": [_step_view(s, n) for n, s in enumerate(live, start=1)],
        "exit_on": ", ".join(labels.reason(r) for r in flow.exit_on),
        # A version saved after the one running, waiting to be activated.
        "draft": latest if latest is not None and latest.number > flow.version else None,
    }
    return render(request, "web/chain.html", context)


@manager_required
@require_POST
def chain_status(request: HttpRequest, slug: str) -> HttpResponse:
    """Activate or pause the chain; the page says what happened."""
    flow = _flow_or_404(slug)
    status = request.POST.get("status", "")
    if status not in (FlowStatus.ACTIVE, FlowStatus.PAUSED):
        messages.error(request, _("Choose Activate or Pause."))
        return redirect("web:chain", slug=flow.slug)
    if status == FlowStatus.ACTIVE and not FlowActivation.objects.filter(
            flow=flow, version__number=flow.version).exists():
        # Never activated through the checks (a file loaded, a new chain): activation is
        # where each open warning is acknowledged.
        return redirect("web:chain-activate", slug=flow.slug, number=flow.version)
    try:
        set_status(flow, status)
    except InvalidInput:
        messages.error(request, _("Choose Activate or Pause."))
    else:
        if status == FlowStatus.ACTIVE:
            messages.success(request, _("The chain is active."))
        else:
            messages.success(request, _("The chain is paused: nothing is sent from it."))
    return redirect("web:chain", slug=flow.slug)
