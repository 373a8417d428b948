"""A chain written out as the YAML ``flows.spec`` reads: the editor's saves, and the
export of any chain.

One spelling for every chain (keys in the file format's order, defaults left out,
lists of names on one line, texts of several lines as blocks), so that a text written
here reads back as the same chain and is written again byte for byte: files in version
control and the editor stay two views of one chain.
"""

from __future__ import annotations

from typing import Any

import yaml

from touchflow.core.durations import format_duration
from touchflow.flows.spec import COMMERCIAL_KINDS, FlowSpec, Message, StepSpec


class _Dumper(yaml.SafeDumper):
    pass


class _Names(list[str]):
    """A list written on one line: ``[telegram, sms]``."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _names(dumper: yaml.SafeDumper, value: _Names) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


_Dumper.add_representer(str, _text)
_Dumper.add_representer(_Names, _names)


def flow_yaml(spec: FlowSpec) -> str:
    """The chain as its file."""
    return yaml.dump(_flow(spec), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     width=100, default_flow_style=False)


def _flow(spec: FlowSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"slug": spec.slug, "name": _translations(spec.names)}
    if spec.descriptions:
        data["description"] = _translations(spec.descriptions)
    if spec.status:
        data["status"] = spec.status
    audience: dict[str, Any] = {"trigger": _Names(spec.triggers)}
    if spec.visit_classes:
        audience["visit_class"] = _Names(spec.visit_classes)
    if spec.categories:
        audience["categories"] = _Names(spec.categories)
    data["audience"] = audience
    data["exit_on"] = _Names(spec.exit_on)
    data["steps"] = [_step(step) for step in spec.steps]
    return data


def _translations(texts: dict[str, str]) -> str | dict[str, str]:
    """One text for every language as plain text, else a mapping by language."""
    if set(texts) == {""}:
        return texts[""]
    return dict(texts)


def _step(step: StepSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"key": step.key}
    if step.titles:
        data["title"] = _translations(step.titles)
    data["kind"] = step.kind
    data["after"] = format_duration(step.delay)
    if step.anchor != "previous":
        data["from"] = step.anchor
    if step.send_at is not None:
        data["at"] = f"{step.send_at:%H:%M}"
    if step.window is not None:
        data["window"] = _Names(f"{t:%H:%M}" for t in step.window)
    if not step.is_call:
        data["channels"] = _Names(step.channels)
    data["expires"] = format_duration(step.expires)
    if step.when_capped != "defer":
        data["when_capped"] = step.when_capped
    if step.commercial != (step.kind in COMMERCIAL_KINDS):
        data["commercial"] = step.commercial
    if step.assignee != "seller":
        data["assignee"] = step.assignee
    if step.answers:
        data["answers"] = step.answers
    if step.is_call:
        data["script"] = {lang: m.text for lang, m in step.messages.items()}
    else:
        data["message"] = {lang: _message(m) for lang, m in step.messages.items()}
    return data


def _message(message: Message) -> dict[str, str]:
    return {"subject": message.subject, "text": message.text} if message.subject else {
        "text": message.text}
