"""Chain definitions: the YAML format, read and checked with line-accurate errors.

A chain file describes who enters (audience), what makes them leave (exit rules)
and the ordered steps. ``parse_flow`` turns the text into a ``FlowSpec`` or raises
``FlowFileError`` listing every problem with its line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError, meta

from touchflow.core.channels import NAMES as CHANNELS
from touchflow.core.durations import parse_duration
from touchflow.flows import yaml_lines
from touchflow.flows.answers import KINDS as ANSWER_KINDS
from touchflow.flows.templates import (
    ALLOWED_VARIABLES,
    VARIABLES,
    environment,
    sample_context,
    unknown_attributes,
)

# "answered": a customer answered a check-in (any answer); "happy": a happy answer;
# "manual": entered only when a manager enrols a segment (the customers going cold).
TRIGGERS = ("visit", "purchase", "answered", "happy", "manual")
VISIT_CLASSES = ("type1", "type2", "type3", "type4", "grey")
EXIT_RULES = ("purchase", "opt_out", "unhappy")
STEP_KINDS = (
    "info",
    "entertainment",
    "offer",
    "check_in",
    "referral_request",
    "review_request",
    "gratitude",
    "call",
)
COMMERCIAL_KINDS = ("offer",)
LANGUAGES = ("en", "ru", "pl")
ANCHORS = ("entry", "previous")
WHEN_CAPPED = ("defer", "skip")
ASSIGNEES = ("seller", "manager")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


class FlowFileError(ValueError):
    """A chain file that cannot be used; ``problems`` has every line that is wrong."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("\n".join(f"{source}:{p.line}: {p.message}" for p in self.problems))


@dataclass(frozen=True)
class Message:
    subject: str
    text: str


@dataclass(frozen=True)
class StepSpec:
    key: str
    kind: str
    delay: timedelta
    anchor: str
    send_at: time | None
    window: tuple[time, time] | None
    channels: tuple[str, ...]
    expires: timedelta
    when_capped: str
    commercial: bool
    messages: dict[str, Message]
    assignee: str
    answers: str = ""  # a check-in's: flows.answers.SCALE or YES_NO; "" asks nothing
    # The step's title by language ("" key: one title for every language).
    titles: dict[str, str] = field(default_factory=dict)

    @property
    def is_call(self) -> bool:
        return self.kind == "call"


@dataclass(frozen=True)
class FlowSpec:
    slug: str
    name: str
    triggers: tuple[str, ...]
    visit_classes: tuple[str, ...]
    categories: tuple[str, ...]
    exit_on: tuple[str, ...]
    steps: tuple[StepSpec, ...]
    description: str = ""
    status: str | None = None
    # The name and description by language, as the file gives them: ``name`` is the
    # English one (else the first); a plain text is one name for every language.
    names: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)


@dataclass
class _Checker:
    problems: list[Problem] = field(default_factory=list)
    chain: str = ""
    step: str = ""

    def fail(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message))

    def mapping(self, value: Any, line: int, what: str) -> yaml_lines.LineDict | None:
        if isinstance(value, yaml_lines.LineDict):
            return value
        self.fail(line, f"{what} must be a mapping (key: value lines)")
        return None

    def unknown_keys(self, data: yaml_lines.LineDict, allowed: tuple[str, ...], what: str) -> None:
        for key in data:
            if key not in allowed:
                self.fail(
                    data.line_of(key),
                    f"unknown key {key!r} in {what}; expected one of: {', '.join(allowed)}",
                )

    def choice_list(
        self, data: yaml_lines.LineDict, key: str, allowed: tuple[str, ...], required: bool
    ) -> tuple[str, ...]:
        value = data.get(key)
        line = data.line_of(key)
        if value is None:
            if required:
                self.fail(data.line, f"{key!r} is required")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(line, f"{key!r} must be a list of names")
            return ()
        for v in value:
            if v not in allowed:
                self.fail(
                    line, f"{key!r}: unknown value {v!r}; expected one of: {', '.join(allowed)}"
                )
        if required and not value:
            self.fail(line, f"{key!r} must not be empty")
        return tuple(dict.fromkeys(v for v in value if v in allowed))

    def text(self, data: yaml_lines.LineDict, key: str, required: bool, default: str = "") -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(data.line, f"{key!r} is required")
            return default
        if not isinstance(value, str) or not value.strip():
            self.fail(data.line_of(key), f"{key!r} must be non-empty text")
            return default
        return value.strip()

    def translations(self, data: yaml_lines.LineDict, key: str, required: bool) -> dict[str, str]:
        """A text that is either one for every language or given per language
        (``name: {en: …, pl: …}``): {language: text}, or {"": text} for the former."""
        value = data.get(key)
        if not isinstance(value, yaml_lines.LineDict):
            text = self.text(data, key, required)
            return {"": text} if text else {}
        found = {}
        for language, text in value.items():
            if language not in LANGUAGES:
                self.fail(value.line_of(language), f"{key!r}: unknown language {language!r}; "
                          f"expected one of: {', '.join(LANGUAGES)}")
            elif not isinstance(text, str) or not text.strip():
                self.fail(value.line_of(language), f"'{key}.{language}' must be non-empty text")
            else:
                found[language] = text.strip()
        if not found and required:
            self.fail(data.line_of(key), f"{key!r} needs a text in at least one language")
        return found

    def duration(self, data: yaml_lines.LineDict, key: str, default: str) -> timedelta:
        raw = data.get(key, default)
        try:
            return parse_duration(raw)
        except ValueError as exc:
            self.fail(data.line_of(key), f"{key!r}: {exc}")
            return parse_duration(default)

    def clock(self, raw: Any, line: int, key: str) -> time | None:
        if not isinstance(raw, str) or not _CLOCK.match(raw):
            self.fail(line, f"{key!r}: {raw!r} is not a time of day like '10:30'")
            return None
        hours, minutes = raw.split(":")
        return time(int(hours), int(minutes))

    def template(self, source: Any, line: int, where: str, language: str) -> str:
        """Check a template against what a message will have at send time: the same
        context (``templates.message_context``), with strict undefined."""
        where = f"{self.place}{where}"
        if not isinstance(source, str) or not source.strip():
            self.fail(line, f"{where} must be non-empty text")
            return ""
        try:
            parsed = environment().parse(source)
        except TemplateSyntaxError as exc:
            self.fail(line + max(exc.lineno - 1, 0), f"{where}: template error: {exc.message}")
            return source
        unknown = sorted(meta.find_undeclared_variables(parsed) - ALLOWED_VARIABLES)
        unknown += unknown_attributes(parsed)
        if unknown:
            self.fail(
                line,
                f"{where}: unknown variable(s) {', '.join(unknown)}; "
                f"available: {', '.join(VARIABLES)}",
            )
            return source
        try:
            # A trial render with the sample customer catches what the static check
            # cannot ({{ customer.name.nope }}, a filter on the wrong type) now rather
            # than at send time.
            environment().from_string(source).render(sample_context(language))
        except Exception as exc:  # noqa: BLE001 - any failure is the author's to fix
            self.fail(line, f"{where}: {exc}")
        return source

    @property
    def place(self) -> str:
        """"chain 'x', step 'y', " for messages about a template (it may be read far
        from its file: the chain editor, a dead letter's reason)."""
        chain = f"chain {self.chain!r}, " if self.chain else ""
        return f"{chain}step {self.step!r}, " if self.step else chain


FLOW_KEYS = ("slug", "name", "description", "status", "audience", "exit_on", "steps")
AUDIENCE_KEYS = ("trigger", "visit_class", "categories")
STEP_KEYS = (
    "key",
    "title",
    "kind",
    "after",
    "from",
    "at",
    "window",
    "channels",
    "expires",
    "when_capped",
    "commercial",
    "message",
    "script",
    "assignee",
    "answers",
)


def parse_flow(text: str, source: str = "<chain>") -> FlowSpec:
    """Read a chain file; raise FlowFileError naming every wrong line."""
    try:
        data = yaml_lines.load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise FlowFileError(source, [Problem(line, f"not valid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise FlowFileError(source, [Problem(1, f"not valid YAML: {exc}")]) from exc
    check = _Checker()
    root = check.mapping(data, 1, "a chain file")
    if root is None:
        raise FlowFileError(source, check.problems)
    check.unknown_keys(root, FLOW_KEYS, "the chain")
    slug = check.text(root, "slug", required=True)
    if slug and not _SLUG.match(slug):
        check.fail(
            root.line_of("slug"), f"'slug': {slug!r} must be lower-case letters, digits, - or _"
        )
    check.chain = slug
    names = check.translations(root, "name", required=True)
    descriptions = check.translations(root, "description", required=False)
    status = root.get("status")
    if status is not None and status not in ("active", "paused", "draft"):
        check.fail(root.line_of("status"), "'status' must be active, paused or draft")
    triggers: tuple[str, ...] = ()
    visit_classes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    audience = check.mapping(root.get("audience"), root.line_of("audience"), "'audience'")
    if audience is not None:
        check.unknown_keys(audience, AUDIENCE_KEYS, "'audience'")
        triggers = check.choice_list(audience, "trigger", TRIGGERS, required=True)
        visit_classes = check.choice_list(audience, "visit_class", VISIT_CLASSES, required=False)
        if "visit" in triggers and not visit_classes:
            check.fail(audience.line, "a visit audience needs 'visit_class' (e.g. [type3])")
        if "visit" not in triggers and visit_classes:
            check.fail(
                audience.line_of("visit_class"), "'visit_class' applies to visit audiences only"
            )
        categories = _categories(check, audience)
    exit_on = check.choice_list(root, "exit_on", EXIT_RULES, required=False)
    if "opt_out" not in exit_on:
        exit_on = (*exit_on, "opt_out")  # opting out always ends a chain
    steps = _steps(check, root)
    _no_review_gating(check, root, triggers, steps)
    if check.problems:
        raise FlowFileError(source, check.problems)
    return FlowSpec(
        slug=slug,
        name=default_text(names),
        description=default_text(descriptions),
        names=names,
        descriptions=descriptions,
        status=status,
        triggers=triggers,
        visit_classes=visit_classes,
        categories=categories,
        exit_on=exit_on,
        steps=tuple(steps),
    )


def default_text(texts: dict[str, str]) -> str:
    """The text shown where no language is asked for: English, else the first given."""
    return texts.get("en") or texts.get("") or next(iter(texts.values()), "")


def _no_review_gating(check: _Checker, root: yaml_lines.LineDict, triggers: tuple[str, ...],
                      steps: list[StepSpec]) -> None:
    """A review request goes to everyone who answered a check-in, happy or not, or to
    nobody: a chain that asks for reviews is entered on ``answered`` and nothing else.
    Asking only happy customers ("review gating") breaks Google's review policy."""
    if any(s.kind == "review_request" for s in steps) and triggers != ("answered",):
        check.fail(root.line_of("audience"),
                   "a review_request goes to everyone who answered a check-in: its chain's "
                   "trigger must be 'answered' alone (asking only happy customers for "
                   "reviews — review gating — is against Google's review policy)")


def _categories(check: _Checker, audience: yaml_lines.LineDict) -> tuple[str, ...]:
    value = audience.get("categories")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        check.fail(audience.line_of("categories"), "'categories' must be a list of category codes")
        return ()
    return tuple(dict.fromkeys(value))


def _steps(check: _Checker, root: yaml_lines.LineDict) -> list[StepSpec]:
    raw = root.get("steps")
    if not isinstance(raw, yaml_lines.LineList) or not raw:
        check.fail(root.line_of("steps"), "'steps' must be a non-empty list")
        return []
    steps, keys = [], set()
    for index, item in enumerate(raw, start=1):
        data = check.mapping(item, raw.line, f"step {index}")
        if data is None:
            continue
        step = _step(check, data, index)
        if step is None:
            continue
        if step.key in keys:
            check.fail(data.line_of("key"), f"step key {step.key!r} is used twice")
        keys.add(step.key)
        steps.append(step)
    return steps


def _step(check: _Checker, data: yaml_lines.LineDict, index: int) -> StepSpec | None:
    check.unknown_keys(data, STEP_KEYS, f"step {index}")
    key = check.text(data, "key", required=True, default=f"step-{index}")
    check.step = key
    titles = check.translations(data, "title", required=False)
    if not _SLUG.match(key):
        check.fail(
            data.line_of("key"), f"'key': {key!r} must be lower-case letters, digits, - or _"
        )
    kind = check.text(data, "kind", required=True, default="info")
    if kind not in STEP_KINDS:
        check.fail(data.line_of("kind"), f"'kind' must be one of: {', '.join(STEP_KINDS)}")
    delay = check.duration(data, "after", "0s")
    anchor = data.get("from", "previous")
    if anchor not in ANCHORS:
        check.fail(data.line_of("from"), "'from' must be 'entry' or 'previous'")
    send_at = check.clock(data["at"], data.line_of("at"), "at") if "at" in data else None
    window = _window(check, data)
    expires = check.duration(data, "expires", "3d")
    if expires <= timedelta(0):
        check.fail(data.line_of("expires"), "'expires' must be longer than zero")
    when_capped = data.get("when_capped", "defer")
    if when_capped not in WHEN_CAPPED:
        check.fail(data.line_of("when_capped"), "'when_capped' must be 'defer' or 'skip'")
    commercial = data.get("commercial", kind in COMMERCIAL_KINDS)
    if not isinstance(commercial, bool):
        check.fail(data.line_of("commercial"), "'commercial' must be true or false")
        commercial = True
    assignee = data.get("assignee", "seller")
    if assignee not in ASSIGNEES:
        check.fail(data.line_of("assignee"), "'assignee' must be 'seller' or 'manager'")
    if kind == "call":
        channels: tuple[str, ...] = ()
        if "channels" in data:
            check.fail(
                data.line_of("channels"), "a call step has no channels: a person makes the call"
            )
        messages = _scripts(check, data)
    else:
        channels = check.choice_list(data, "channels", CHANNELS, required=True)
        messages = _messages(check, data, channels)
    answers = _answers(check, data, kind)
    for variable, needs in _STEP_VARIABLES.items():
        if _uses(messages, variable) and not needs(kind, answers):
            check.fail(data.line_of("message"), f"{{{{ {variable} }}}} {_WHERE[variable]}")
    return StepSpec(
        key=key,
        kind=kind,
        delay=delay,
        anchor=anchor if anchor in ANCHORS else "previous",
        send_at=send_at,
        window=window,
        channels=channels,
        expires=expires,
        when_capped=when_capped if when_capped in WHEN_CAPPED else "defer",
        commercial=bool(commercial),
        messages=messages,
        assignee=assignee if assignee in ASSIGNEES else "seller",
        answers=answers,
        titles=titles,
    )


# Variables only some steps have (``templates.message_context``), and where they belong.
_STEP_VARIABLES: dict[str, Callable[[str, str], bool]] = {
    "rating_url": lambda kind, answers: bool(answers),
    "referral_code": lambda kind, answers: kind == "referral_request",
    "referral_url": lambda kind, answers: kind == "referral_request",
    "review_url": lambda kind, answers: kind == "review_request",
}
_WHERE = {
    "rating_url": "links a check-in's answers: the step needs 'answers'",
    "referral_code": "is the customer's referral code: only a referral_request step has it",
    "referral_url": "is the customer's referral link: only a referral_request step has it",
    "review_url": "is the store's review link: only a review_request step has it",
}


def _uses(messages: dict[str, Message], variable: str) -> bool:
    for message in messages.values():
        for source in (message.subject, message.text):
            try:
                if variable in meta.find_undeclared_variables(environment().parse(source)):
                    return True
            except TemplateSyntaxError:
                continue  # reported with its line already
    return False


def _answers(check: _Checker, data: yaml_lines.LineDict, kind: str) -> str:
    """What a check-in asks the customer to answer: a 1–5 scale or yes/no."""
    if "answers" not in data:
        return ""
    value = data["answers"]
    if kind != "check_in":
        check.fail(data.line_of("answers"), "'answers' applies to check_in steps only")
        return ""
    if value not in ANSWER_KINDS:
        check.fail(data.line_of("answers"),
                   f"'answers' must be one of: {', '.join(ANSWER_KINDS)}")
        return ""
    return str(value)


def _window(check: _Checker, data: yaml_lines.LineDict) -> tuple[time, time] | None:
    if "window" not in data:
        return None
    raw, line = data["window"], data.line_of("window")
    if not isinstance(raw, list) or len(raw) != 2:
        check.fail(line, "'window' must be two times of day, e.g. ['10:00', '19:00']")
        return None
    start, end = check.clock(raw[0], line, "window"), check.clock(raw[1], line, "window")
    if start is None or end is None:
        return None
    if start == end:
        check.fail(line, "'window' must not start and end at the same time")
    return (start, end)


def _messages(
    check: _Checker, data: yaml_lines.LineDict, channels: tuple[str, ...]
) -> dict[str, Message]:
    raw = check.mapping(data.get("message"), data.line_of("message"), "'message'")
    if raw is None:
        return {}
    messages = {}
    for language, body in raw.items():
        line = raw.line_of(language)
        if language not in LANGUAGES:
            check.fail(
                line, f"unknown language {language!r}; expected one of: {', '.join(LANGUAGES)}"
            )
            continue
        body_map = check.mapping(body, line, f"'message.{language}'")
        if body_map is None:
            continue
        check.unknown_keys(body_map, ("subject", "text"), f"'message.{language}'")
        text = check.template(
            body_map.get("text"), body_map.line_of("text"), f"message.{language}.text", language
        )
        subject = body_map.get("subject", "")
        if "email" in channels and not subject:
            check.fail(body_map.line, f"message.{language}: an e-mail step needs a 'subject'")
        if subject:
            subject = check.template(
                subject, body_map.line_of("subject"), f"message.{language}.subject", language
            )
        messages[language] = Message(subject=subject, text=text)
    if not messages and not check.problems:
        check.fail(raw.line, "'message' needs at least one language")
    return messages


def _scripts(check: _Checker, data: yaml_lines.LineDict) -> dict[str, Message]:
    raw = check.mapping(data.get("script"), data.line_of("script"), "'script' of a call step")
    if raw is None:
        return {}
    scripts = {}
    for language, text in raw.items():
        line = raw.line_of(language)
        if language not in LANGUAGES:
            check.fail(
                line, f"unknown language {language!r}; expected one of: {', '.join(LANGUAGES)}"
            )
            continue
        scripts[language] = Message(
            subject="", text=check.template(text, line, f"script.{language}", language)
        )
    return scripts
