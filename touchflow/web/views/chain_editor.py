"""The chain editor: a chain made and changed in the browser, saved as versions,
previewed for a sample customer, checked, activated at a version, and carried to and
from YAML files (issue 12; decision 0032).

The form becomes the chain's text (``web.chain_form``) and goes through the same reader
as a file; nothing here decides what a valid chain is.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from touchflow import guardrails
from touchflow.core import channels
from touchflow.delivery.render import Renderer
from touchflow.flows.actions import save_version
from touchflow.flows.models import Flow, FlowActivation, FlowVersion
from touchflow.flows.spec import (
    ANCHORS,
    ASSIGNEES,
    EXIT_RULES,
    LANGUAGES,
    STEP_KINDS,
    TRIGGERS,
    VISIT_CLASSES,
    WHEN_CAPPED,
    FlowFileError,
    parse_flow,
)
from touchflow.flows.templates import sample_context
from touchflow.funnel.chains import Unacknowledged, activate, open_warnings
from touchflow.messaging.segments import measure
from touchflow.web import chain_form
from touchflow.web.roles import manager_required
from touchflow.web.staff import staff_of

_CHANNEL = re.compile(r"(^|\.)channel(\.\d+)?$")
# The largest chain file taken in (a chain of 40 steps in three languages is ~60 kB).
MAX_FILE = 256 * 1024


def _choices() -> dict[str, Any]:
    return {"languages": LANGUAGES, "kinds": STEP_KINDS, "triggers": TRIGGERS,
            "visit_classes": VISIT_CLASSES, "exit_rules": EXIT_RULES, "anchors": ANCHORS,
            "when_capped": WHEN_CAPPED, "assignees": ASSIGNEES, "channels": channels.NAMES,
            "channel_slots": range(1, len(channels.NAMES) + 1)}


def _page(request: HttpRequest, form: chain_form.Form, flow: Flow | None) -> HttpResponse:
    return render(request, "web/chain_edit.html", {
        "form": form, "flow": flow, "step_rows": [(i, f"s{i}") for i in range(form.steps)],
        **_choices()})


@manager_required
@require_http_methods(["GET", "POST"])
def chain_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, chain_form.blank(), None)
    return _posted(request, None)


@manager_required
@require_http_methods(["GET", "POST"])
def chain_edit(request: HttpRequest, slug: str) -> HttpResponse:
    flow = get_object_or_404(Flow, slug=slug)
    if request.method == "POST":
        return _posted(request, flow)
    latest = flow.versions.first()
    spec = parse_flow(latest.text if latest else flow.source_text, "editor")
    return _page(request, chain_form.from_spec(spec), flow)


def _posted(request: HttpRequest, flow: Flow | None) -> HttpResponse:
    form = chain_form.from_post(request.POST)
    action = request.POST.get("action", "save")
    if action != "save":
        chain_form.step_action(form, action)
        return _page(request, form, flow)
    if flow is not None:
        form.values["slug"] = flow.slug  # a chain keeps its code (touches refer to it)
    spec, text = chain_form.read(form)
    if spec is None:
        return _page(request, form, flow)
    if flow is None and Flow.objects.filter(slug=spec.slug).exists():
        form.errors = {"slug": [_("A chain with this code exists already: open it to edit.")]}
        return _page(request, form, flow)
    version = save_version(text, by=staff_of(request).pk)
    _say_saved(request, version)
    return redirect("web:chain", slug=version.flow.slug)


def _say_saved(request: HttpRequest, version: FlowVersion) -> None:
    flow = version.flow
    if flow.version == version.number:
        messages.success(request, _("Saved as version %(n)d.") % {"n": version.number})
    else:
        messages.success(request, _(
            "Saved as version %(n)d. The chain still runs version %(running)d until you "
            "activate this one.") % {"n": version.number, "running": flow.version})


@manager_required
@require_POST
def chain_preview(request: HttpRequest) -> HttpResponse:
    """One text as a sample customer gets it, its length on the step's channels, and
    what the tone check finds in it: as the manager types."""
    language = request.POST.get("language", "en")
    language = language if language in LANGUAGES else "en"
    # The editor posts the textarea under its own name (``s0.text.pl``) and the step's
    # channel choices under theirs (``s0.channel.1``…).
    posted = {k: str(v) for k, v in request.POST.items()}
    texts = (v for k, v in posted.items() if k == "text" or k.endswith(f".text.{language}"))
    source = next(texts, "")[:5000]
    listed = [v for k, v in sorted(posted.items()) if _CHANNEL.search(k) and v in channels.NAMES]
    context: dict[str, Any] = {"language": language, "flags": [], "limits": []}
    if not source.strip():
        return HttpResponse("")  # nothing typed in this language: nothing to show
    try:
        rendered = Renderer().render(
            {language: {"text": source}}, language, language,
            {**sample_context(language), "unsubscribe_url": "https://touchflow.example/u/…"},
            listed[0] if listed else "sms").text
    except Exception as exc:  # noqa: BLE001 - a template error is shown, never raised
        context["error"] = str(exc)
        return render(request, "web/_chain_preview.html", context)
    context["text"] = rendered
    context["flags"] = guardrails.check(rendered, language)
    if "sms" in listed:
        context["sms"] = measure(rendered)
    context["limits"] = [(channels.label(c), limit, len(rendered)) for c in listed
                         if (limit := channels.get(c).max_text) and len(rendered) > limit]
    return render(request, "web/_chain_preview.html", context)


@manager_required
@require_GET
def chain_versions(request: HttpRequest, slug: str) -> HttpResponse:
    flow = get_object_or_404(Flow, slug=slug)
    versions = list(flow.versions.select_related("created_by"))
    activations = list(FlowActivation.objects.filter(flow=flow).select_related("by", "version"))
    return render(request, "web/chain_versions.html", {
        "flow": flow, "versions": versions, "activations": activations})


@manager_required
@require_http_methods(["GET", "POST"])
def chain_activate(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """The version's open warnings, each to tick; activating with all ticked."""
    version = get_object_or_404(FlowVersion, flow__slug=slug, number=number)
    if request.method == "POST":
        try:
            activate(version, by=staff_of(request).pk,
                     acknowledged=request.POST.getlist("acknowledged"))
        except Unacknowledged:
            messages.error(request, _("Tick each warning to say you have read it, or change "
                                      "the chain first."))
        else:
            messages.success(request, _("Version %(n)d is active.") % {"n": version.number})
            return redirect("web:chain", slug=slug)
    return render(request, "web/chain_activate.html", {
        "flow": version.flow, "version": version, "warnings": open_warnings(version),
        "ticked": set(request.POST.getlist("acknowledged"))})


@manager_required
@require_GET
def chain_export(request: HttpRequest, slug: str) -> HttpResponse:
    """The chain's file: the version it runs, or ``?version=n``."""
    flow = get_object_or_404(Flow, slug=slug)
    number = request.GET.get("version", "")
    version = flow.versions.filter(number=int(number) if number.isdigit() else flow.version)
    text = version.values_list("text", flat=True).first()
    if text is None:
        raise Http404
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{flow.slug}.yaml"'
    return response


@manager_required
@require_POST
def chain_import(request: HttpRequest) -> HttpResponse:
    """A chain file taken in as a new version (a new chain comes in as a draft)."""
    upload = request.FILES.get("file")
    if upload is None or (upload.size or 0) > MAX_FILE:
        messages.error(request, _("Choose a chain file (YAML, up to 256 kB)."))
        return redirect("web:chains")
    try:
        text = upload.read().decode("utf-8")
        version = save_version(text, by=staff_of(request).pk, source=f"upload: {upload.name}")
    except UnicodeDecodeError:
        messages.error(request, _("%(file)s is not UTF-8 text.") % {"file": upload.name})
        return redirect("web:chains")
    except FlowFileError as exc:
        for problem in exc.problems[:20]:
            messages.error(request, f"{upload.name}:{problem.line}: {problem.message}")
        return redirect("web:chains")
    _say_saved(request, version)
    return redirect("web:chain", slug=version.flow.slug)
