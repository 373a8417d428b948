"""Loading chain files into the database, and writing them back out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from touchflow.core import clock
from touchflow.flows.models import Flow, FlowStep
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


def sync_flow(spec: FlowSpec, text: str, source: str) -> LoadResult:
    """Create or update the chain ``spec.slug`` so the database matches the file.

    Steps are matched by key: a changed step changes for every enrollment that has not
    reached it yet; a removed step is retired (kept for the touches that refer to it).
    The status changes only when the file sets one.
    """
    digest = hashlib.sha256(text.encode()).hexdigest()
    now = clock.now()
    with transaction.atomic():
        flow = Flow.objects.select_for_update().filter(slug=spec.slug).first()
        created = flow is None
        if flow is not None and flow.source_sha256 == digest:
            return LoadResult(flow, created=False, changed=False)
        if flow is None:
            flow = Flow(slug=spec.slug, created_at=now, version=1)
        else:
            flow.version += 1
        flow.name = spec.name
        flow.description = spec.description
        flow.triggers = list(spec.triggers)
        flow.visit_classes = list(spec.visit_classes)
        flow.categories = list(spec.categories)
        flow.exit_on = list(spec.exit_on)
        flow.source_path = source
        flow.source_text = text
        flow.source_sha256 = digest
        flow.updated_at = now
        if spec.status:
            flow.status = spec.status
        flow.save()
        _sync_steps(flow, spec)
        transaction.on_commit(forget_active_flows)
    return LoadResult(flow, created=created, changed=True)


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
