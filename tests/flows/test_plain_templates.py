"""``PlainTemplate``: text and plain substitutions rendered without Jinja's context, with
exactly Jinja's output, and left to Jinja wherever it could answer differently.
No database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from touchflow.delivery.render import Renderer, TemplateFailed
from touchflow.flows.spec import parse_flow
from touchflow.flows.templates import (
    SAMPLE_CONTEXT,
    environment,
    message_context,
    plain_template,
    sample_context,
    with_greeting,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "touchflow" / "flows" / "examples"

PLAIN = [
    "",
    "Hello",
    "{{ greeting }} thank you for visiting {{ store.name }}.",
    "{{ customer.first_name }}, {{ customer['name'] }} — {{ seller.first_name }}!",
    "Line one\r\nline two\rline three\n",  # the lexer's newlines
    "Trailing newline kept off\n\n",
    "  {{- store.name -}}  , {{ store.name }}  ",  # whitespace control
    "{# a note for the author #}Hi {{ customer.first_name }}",
    "{% raw %}{{ not a variable }}{% endraw %} and {{ store.name }}",
    "Здравствуйте, {{ customer.first_name }}! Dzień dobry, {{ seller.name }}.",
    "{{ unsubscribe_url }}",
    "{{customer.first_name}}{{customer.first_name}}",
]

NOT_PLAIN = [
    "{% if customer.first_name %}Hi{% endif %}",
    "{{ customer.first_name | upper }}",
    "{{ 'constant' }}",
    "{{ customer.first_name ~ '!' }}",
    "{{ customer.items }}",  # a dict's own method to Jinja, not the key
    "{{ customer['name'][0] }}",
    "{% for x in [1] %}{{ x }}{% endfor %}",
    "{{ customer.first_name if store.name else '' }}",
]


def _jinja(source: str, context: dict[str, Any]) -> str:
    return environment().from_string(source).render(context)


@pytest.mark.parametrize("source", PLAIN)
@pytest.mark.parametrize("name", ["Anna Nowak", "", "Ölga  O'Brien-Łukasz"])
def test_a_plain_template_renders_exactly_as_jinja(source: str, name: str) -> None:
    context = with_greeting(message_context(name, "Meble & Co", "Piotr", "https://x/u/1"), "pl")
    plain = plain_template(environment().parse(source))
    assert plain is not None
    assert plain.render(context) == _jinja(source, context)


@pytest.mark.parametrize("source", NOT_PLAIN)
def test_anything_else_is_left_to_jinja(source: str) -> None:
    assert plain_template(environment().parse(source)) is None


@pytest.mark.parametrize("context", [
    {},  # missing: StrictUndefined's error, from Jinja
    {"store": {}},
    {"store": {"name": None}},  # not a string: Jinja's own conversion
    {"store": {"name": 5}},
    {"store": "Meble"},  # not a dict: the sandbox's attribute rules
    {"store": {"name": "x"}, "greeting": ["a"]},
])
def test_a_value_it_cannot_vouch_for_is_left_to_jinja(context: dict[str, Any]) -> None:
    plain = plain_template(environment().parse("{{ greeting }} {{ store.name }}"))
    assert plain is not None
    assert plain.render(context) is None


def _example_sources() -> list[str]:
    """The texts of the shipped chains' messages (a call step's script, read by a
    person once per call, may use anything)."""
    sources = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for step in parse_flow(path.read_text(encoding="utf-8"), str(path)).steps:
            if step.kind == "call":
                continue
            for message in step.messages.values():
                sources += [s for s in (message.text, message.subject) if s]
    return sources


def test_every_shipped_message_takes_the_plain_path_with_jinjas_output() -> None:
    sources = _example_sources()
    assert len(sources) > 20
    for source in sources:
        plain = plain_template(environment().parse(source))
        assert plain is not None, source
        for language in ("en", "ru", "pl"):
            context = sample_context(language)
            assert plain.render(context) == _jinja(source, context)


def test_the_renderer_reports_a_failure_as_before() -> None:
    messages = {"en": {"text": "Call {{ store.phone }} please", "subject": ""}}
    with pytest.raises(TemplateFailed, match="unknown variable store.phone"):
        Renderer().render(messages, "en", "en", dict(SAMPLE_CONTEXT), "sms")
