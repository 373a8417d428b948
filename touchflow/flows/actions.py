"""Chains in and out: files loaded, the editor's saves kept as versions, a version
applied to the chain the engine runs, and the text written back out.

A chain's text is the one source of truth, whichever view made it: a file in version
control or the editor in the browser (which writes the same YAML, ``flows.writer``).
Every text that changed a chain is a ``FlowVersion``; the chain runs the version it was
last applied at (``Flow.version``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from touchflow.core import clock
from touchflow.flows.models import Flow, FlowStatus, FlowStep, FlowVersion
from touchflow.flows.queries import forget_active_flows
from touchflow.flows.spec import FlowFileError, FlowSpec, Problem, parse_flow


@dataclass(frozen=True)
class LoadResult:
    flow: Flow
    created: bool
    changed: bool


def read_flow_file(path: Path) -> tuple[FlowSpec, str]:
    """Read and check one chain file; FlowFileError names the file and the lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FlowFileError(str(path), [Problem(1, f"not UTF-8 text: {exc.reason}")]) from exc
    return parse_flow(text, str(path)), text


def load_flow_text(text: str, source: str = "<chain>") -> LoadResult:
    return sync_flow(parse_flow(text, source), text, source)


def sync_flow(spec: FlowSpec, text: str, source: str, by: int | None = None) -> LoadResult:
    """Create or update the chain ``spec.slug`` so the database matches the file, as
    a new version of it (``by``: the staff member, when a person did it).

    Steps are matched by key: a changed step changes for every enrollment that has not
    reached it yet; a removed step is retired (kept for the touches that refer to it).
    The status changes only when the file sets one.
    """
    with transaction.atomic():
        flow = Flow.objects.select_for_update().filter(slug=spec.slug).first()
        created = flow is None
        if flow is not None and flow.source_sha256 == _digest(text):
            return LoadResult(flow, created=False, changed=False)
        if flow is None:
            now = clock.now()
            flow = Flow(slug=spec.slug, created_at=now, updated_at=now)
            flow.save()
        version = _keep(flow, text, source, by)
        _apply(flow, spec, version)
    return LoadResult(flow, created=created, changed=True)


def save_version(text: str, by: int | None, source: str = "editor") -> FlowVersion:
    """The editor's save: a new version of the chain the text names (created, as a
    draft, if there is none). A chain that never ran (draft) takes it at once; one that
    is active or paused goes on running its version until this one is activated
    (``funnel.chains.activate``). Raises FlowFileError naming every wrong line."""
    spec = parse_flow(text, source)
    with transaction.atomic():
        flow = Flow.objects.select_for_update().filter(slug=spec.slug).first()
        if flow is None:
            return sync_flow(spec, text, source, by).flow.versions.get(number=1)
        latest = flow.versions.first()
        if latest is not None and latest.sha256 == _digest(text):
            return latest
        version = _keep(flow, text, source, by)
        if flow.status == FlowStatus.DRAFT:
            _apply(flow, spec, version)
    return version


def apply_version(version: FlowVersion) -> Flow:
    """Make the chain run ``version``: its steps matched by key, as a file load does."""
    flow = Flow.objects.select_for_update().get(pk=version.flow_id)
    _apply(flow, parse_flow(version.text, version.source), version)
    return flow


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _keep(flow: Flow, text: str, source: str, by: int | None) -> FlowVersion:
    latest = flow.versions.first()
    return FlowVersion.objects.create(
        flow=flow, number=(latest.number if latest else 0) + 1, text=text,
        sha256=_digest(text), source=source, created_at=clock.now(), created_by_id=by,
    )


def _apply(flow: Flow, spec: FlowSpec, version: FlowVersion) -> None:
    flow.version = version.number
    flow.name = spec.name
    flow.description = spec.description
    flow.names = spec.names
    flow.descriptions = spec.descriptions
    flow.triggers = list(spec.triggers)
    flow.visit_classes = list(spec.visit_classes)
    flow.categories = list(spec.categories)
    flow.exit_on = list(spec.exit_on)
    flow.source_path = version.source
    flow.source_text = version.text
    flow.source_sha256 = version.sha256
    flow.updated_at = clock.now()
    if spec.status:
        flow.status = spec.status
    flow.save()
    _sync_steps(flow, spec)
    transaction.on_commit(forget_active_flows)


def _sync_steps(flow: Flow, spec: FlowSpec) -> None:
    existing = {s.key: s for s in flow.steps.all()}
    for position, item in enumerate(spec.steps, start=1):
        step = existing.pop(item.key, None) or FlowStep(flow=flow, key=item.key)
        step.position = position
        step.kind = item.kind
        step.commercial = item.commercial
        step.delay_seconds = int(item.delay.total_seconds())
        step.anchor = item.anchor
        step.send_at = item.send_at
        step.window_start, step.window_end = item.window or (None, None)
        step.channels = list(item.channels)
        step.messages = {
            lang: {"subject": m.subject, "text": m.text} for lang, m in item.messages.items()
        }
        step.expires_seconds = int(item.expires.total_seconds())
        step.when_capped = item.when_capped
        step.assignee = item.assignee
        step.answers = item.answers
        step.titles = item.titles
        step.retired = False
        step.save()
    for step in existing.values():
        step.retired = True
        step.save(update_fields=["retired"])


def load_flow_dir(directory: Path) -> tuple[list[LoadResult], list[FlowFileError]]:
    """Load every ``*.yaml``/``*.yml`` file; a bad file is reported and the others load."""
    results, errors = [], []
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in files:
        try:
            spec, text = read_flow_file(path)
        except FlowFileError as exc:
            errors.append(exc)
            continue
        results.append(sync_flow(spec, text, str(path)))
    return results, errors


def export_flow(flow: Flow, directory: Path) -> Path:
    """Write the chain's file back out (the database keeps the text it was loaded from)."""
    path = directory / f"{flow.slug}.yaml"
    path.write_text(flow.source_text, encoding="utf-8")
    return path
