"""The chain editor's form, as plain field names and values, to and from a chain's text.

The editor does not check anything itself: what the manager typed becomes the chain's
YAML (the format's own keys, values as typed), ``flows.spec`` reads it exactly as it
reads a file, and each problem it names by line is put back next to the field that line
came from. So the editor and ``touchflow flows validate`` say the same thing.

Field names: ``slug``, ``name.<lang>``, ``description.<lang>``, ``trigger``,
``visit_class``, ``exit_on`` (lists), ``categories``; for step *i* (from 0)
``s<i>.key``, ``s<i>.title.<lang>``, ``s<i>.kind``, ``s<i>.after``, ``s<i>.from``,
``s<i>.at``, ``s<i>.window_start``, ``s<i>.window_end``, ``s<i>.channel.<n>`` (the
channels in order, from 1), ``s<i>.expires``, ``s<i>.when_capped``, ``s<i>.commercial``,
``s<i>.assignee``, ``s<i>.answers``, ``s<i>.subject.<lang>``, ``s<i>.text.<lang>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from touchflow.core.channels import NAMES as CHANNELS
from touchflow.core.durations import format_duration
from touchflow.flows import yaml_lines
from touchflow.flows.spec import LANGUAGES, FlowFileError, FlowSpec, StepSpec, parse_flow
from touchflow.flows.writer import flow_yaml

LISTS = ("trigger", "visit_class", "exit_on")
# More steps than any chain has (a posted count is not trusted beyond it).
MAX_STEPS = 200
_STEP_FIELDS = ("key", "kind", "after", "from", "at", "expires", "when_capped", "assignee",
                "answers")


@dataclass
class Form:
    """The values as the page shows them, the number of steps, and the problems found,
    by field name ("" for the chain as a whole)."""

    values: dict[str, Any] = field(default_factory=dict)
    steps: int = 1
    errors: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str, default: Any = "") -> Any:
        return self.values.get(name, default)


def blank() -> Form:
    return Form({"trigger": ["visit"], "visit_class": ["type3"], "exit_on": ["purchase", "opt_out"],
                 "s0.kind": "info", "s0.after": "1d", "s0.expires": "3d",
                 "s0.channel.1": "sms"}, steps=1)


def from_spec(spec: FlowSpec) -> Form:
    values: dict[str, Any] = {"slug": spec.slug, "trigger": list(spec.triggers),
                              "visit_class": list(spec.visit_classes),
                              "exit_on": list(spec.exit_on),
                              "categories": ", ".join(spec.categories)}
    values.update(_by_language("name", spec.names))
    values.update(_by_language("description", spec.descriptions))
    for i, step in enumerate(spec.steps):
        values.update(_step_values(f"s{i}", step))
    return Form(values, steps=len(spec.steps))


def _by_language(prefix: str, texts: Mapping[str, str]) -> dict[str, str]:
    """Texts by language as fields; one text for every language shows as English."""
    return {f"{prefix}.{lang or 'en'}": text for lang, text in texts.items()}


def _step_values(p: str, step: StepSpec) -> dict[str, Any]:
    values: dict[str, Any] = {
        f"{p}.key": step.key, f"{p}.kind": step.kind, f"{p}.after": format_duration(step.delay),
        f"{p}.from": step.anchor, f"{p}.at": f"{step.send_at:%H:%M}" if step.send_at else "",
        f"{p}.expires": format_duration(step.expires), f"{p}.when_capped": step.when_capped,
        f"{p}.commercial": step.commercial, f"{p}.assignee": step.assignee,
        f"{p}.answers": step.answers,
    }
    if step.window:
        values[f"{p}.window_start"], values[f"{p}.window_end"] = (
            f"{t:%H:%M}" for t in step.window)
    values.update({f"{p}.channel.{n}": name for n, name in enumerate(step.channels, 1)})
    values.update(_by_language(f"{p}.title", step.titles))
    for lang, message in step.messages.items():
        values[f"{p}.subject.{lang}"] = message.subject
        values[f"{p}.text.{lang}"] = message.text
    return values


def from_post(post: Any) -> Form:
    """The form as posted (a QueryDict): lists read as lists."""
    steps = max(1, min(_int(post.get("steps"), 1), MAX_STEPS))
    values = {k: (post.getlist(k) if k in LISTS else post.get(k, "")) for k in post}
    for i in range(steps):
        values[f"s{i}.commercial"] = bool(post.get(f"s{i}.commercial"))
    return Form(values, steps=steps)


def _int(raw: Any, default: int) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default


# -- to the chain's text --------------------------------------------------------------


def as_yaml(form: Form) -> str:
    """What the manager typed, as the chain's YAML (values as typed: checked by the
    same reader as a file)."""
    return yaml.dump(_chain(form), Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True,
                     width=100, default_flow_style=False)


def _texts(form: Form, prefix: str) -> dict[str, str]:
    return {lang: str(form.get(f"{prefix}.{lang}")).strip() for lang in LANGUAGES
            if str(form.get(f"{prefix}.{lang}")).strip()}


def _chain(form: Form) -> dict[str, Any]:
    data: dict[str, Any] = {"slug": str(form.get("slug")).strip(),
                            "name": _texts(form, "name") or ""}
    if description := _texts(form, "description"):
        data["description"] = description
    audience: dict[str, Any] = {"trigger": list(form.get("trigger", []))}
    if form.get("visit_class"):
        audience["visit_class"] = list(form.get("visit_class"))
    categories = [c.strip() for c in str(form.get("categories")).split(",") if c.strip()]
    if categories:
        audience["categories"] = categories
    data["audience"] = audience
    data["exit_on"] = list(form.get("exit_on", []))
    data["steps"] = [_step(form, f"s{i}") for i in range(form.steps)]
    return data


def _step(form: Form, p: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in _STEP_FIELDS:
        value = str(form.get(f"{p}.{name}")).strip()
        if value:
            data[name] = value
    if titles := _texts(form, f"{p}.title"):
        data["title"] = titles
    start, end = str(form.get(f"{p}.window_start")).strip(), str(form.get(f"{p}.window_end"))
    if start or end.strip():
        data["window"] = [start, end.strip()]
    data["commercial"] = bool(form.get(f"{p}.commercial"))
    texts = _texts(form, f"{p}.text")
    if data.get("kind") == "call":
        data["script"] = texts
        return data
    data["channels"] = [c for n in range(1, len(CHANNELS) + 1)
                        if (c := str(form.get(f"{p}.channel.{n}")).strip())]
    data["message"] = {lang: {**({"subject": s} if (s := str(
        form.get(f"{p}.subject.{lang}")).strip()) else {}), "text": text}
        for lang, text in texts.items()}
    return data


def read(form: Form) -> tuple[FlowSpec | None, str]:
    """The chain the form makes and its canonical text (``flows.writer``), or None with
    the form's ``errors`` filled in, each next to the field its line came from."""
    text = as_yaml(form)
    try:
        spec = parse_flow(text, "editor")
    except FlowFileError as exc:
        form.errors = place(text, [(p.line, p.message) for p in exc.problems])
        return None, text
    return spec, flow_yaml(spec)


# -- problems back to their fields -----------------------------------------------------


def place(text: str, problems: Sequence[tuple[int, str]]) -> dict[str, list[str]]:
    """Each (line, message) of ``text`` under the field that wrote that line."""
    lines = sorted(_lines(yaml_lines.load(text), ()))
    found: dict[str, list[str]] = {}
    for line, message in problems:
        path = max(((at, p) for at, p in lines if at <= line), default=(0, ()))[1]
        found.setdefault(field_of(path), []).append(message)
    return found


def _lines(node: Any, path: tuple[Any, ...]) -> list[tuple[int, tuple[Any, ...]]]:
    found: list[tuple[int, tuple[Any, ...]]] = []
    if isinstance(node, yaml_lines.LineDict):
        found.append((node.line, path))
        for key, value in node.items():
            found.append((node.line_of(key), (*path, key)))
            found += _lines(value, (*path, key))
    elif isinstance(node, yaml_lines.LineList):
        for index, item in enumerate(node):
            found += _lines(item, (*path, index))
    return found


def field_of(path: tuple[Any, ...]) -> str:
    """The form field that wrote the YAML at ``path``."""
    if not path:
        return ""
    if path[0] == "audience":
        return str(path[1]) if len(path) > 1 else "trigger"
    if path[0] in ("name", "description"):
        return f"{path[0]}.{path[1] if len(path) > 1 else 'en'}"
    if path[0] != "steps" or len(path) < 2:
        return str(path[0])
    return _step_field(f"s{path[1]}", path[2:])


def _step_field(p: str, rest: tuple[Any, ...]) -> str:
    if not rest:
        return f"{p}.key"
    head = rest[0]
    if head == "window":
        return f"{p}.window_start"
    if head == "channels":
        return f"{p}.channel.1"
    if head in ("message", "script"):
        lang = rest[1] if len(rest) > 1 else "en"
        part = rest[2] if len(rest) > 2 and rest[2] == "subject" else "text"
        return f"{p}.{part}.{lang}"
    if head == "title":
        return f"{p}.title.{rest[1] if len(rest) > 1 else 'en'}"
    return f"{p}.{head}"


# -- the steps moved around ------------------------------------------------------------


def step_action(form: Form, action: str) -> None:
    """"add", "remove:i", "up:i", "down:i": the steps' fields renumbered to match."""
    verb, _, raw = action.partition(":")
    steps = [_take(form, f"s{i}") for i in range(form.steps)]
    i = _int(raw, -1)
    if verb == "add":
        steps.append({"kind": "info", "after": "1d", "expires": "3d", "channel.1": "sms"})
    elif verb == "remove" and 0 <= i < len(steps) and len(steps) > 1:
        del steps[i]
    elif verb in ("up", "down"):
        j = i - 1 if verb == "up" else i + 1
        if 0 <= i < len(steps) and 0 <= j < len(steps):
            steps[i], steps[j] = steps[j], steps[i]
    form.values = {k: v for k, v in form.values.items() if not _STEP_KEY.match(k)}
    for n, fields in enumerate(steps):
        form.values.update({f"s{n}.{k}": v for k, v in fields.items()})
    form.steps = len(steps)


_STEP_KEY = re.compile(r"^s\d+\.")


def _take(form: Form, p: str) -> dict[str, Any]:
    return {k[len(p) + 1:]: v for k, v in form.values.items() if k.startswith(f"{p}.")}
