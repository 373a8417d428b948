"""Every shipped chain reads well for every customer: with a name or without one (a
counter visit may record only a phone number), in English, Russian and Polish."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from touchflow.delivery.render import Renderer, first_name
from touchflow.flows.spec import parse_flow

EXAMPLES = Path(__file__).resolve().parents[2] / "touchflow" / "flows" / "examples"
BROKEN = [
    (re.compile(r"^\W"), "starts with punctuation"),
    (re.compile(r"\s[.,!?:;)]"), "space before punctuation"),
    (re.compile(r"[^\S\n]{2,}"), "double space"),
    (re.compile(r"\(\s*\)"), "empty brackets"),
    (re.compile(r"\b(do|Call|Позвоните)\s*[.,]"), "a word left without its name"),
    (re.compile(r"[,!]\s*[,!.]"), "punctuation twice"),
]


def _steps() -> list[tuple[str, str, dict[str, dict[str, str]]]]:
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        spec = parse_flow(path.read_text(encoding="utf-8"), str(path))
        for step in spec.steps:
            messages = {
                lang: {"subject": m.subject, "text": m.text} for lang, m in step.messages.items()
            }
            found.append((spec.slug, step.key, messages))
    return found


STEPS = _steps()


def _context(name: str, seller: str) -> dict[str, object]:
    return {
        "customer": {"name": name, "first_name": first_name(name)},
        "store": {"name": "Meble Nowak"},
        "seller": {"name": seller, "first_name": first_name(seller)},
        "unsubscribe_url": "http://127.0.0.1:8000/u/1.sms.abc",
        "rating_url": "http://127.0.0.1:8000/r/1.abc",
        "referral_code": "K7M2Q9XA",
        "referral_url": "http://127.0.0.1:8000/ref/K7M2Q9XA",
        "review_url": "http://127.0.0.1:8000/go/1.abc",
    }


def test_every_example_step_speaks_three_languages() -> None:
    assert len(STEPS) >= 8
    for slug, key, messages in STEPS:
        assert set(messages) == {"en", "ru", "pl"}, (slug, key)


@pytest.mark.parametrize("language", ["en", "ru", "pl"])
@pytest.mark.parametrize("name", ["Anna Nowak", "", "Юлия Иванова"])
@pytest.mark.parametrize("seller", ["Piotr Zieliński", ""])
def test_example_texts_never_break_without_a_name(language: str, name: str, seller: str) -> None:
    renderer = Renderer()
    for slug, key, messages in STEPS:
        channel = "call" if not messages[language]["subject"] else "email"
        rendered = renderer.render(messages, language, "en", _context(name, seller), channel)
        assert rendered.language == language
        for text in (rendered.subject, rendered.text):
            for pattern, what in BROKEN:
                assert not pattern.search(text), f"{slug}/{key} [{language}]: {what}: {text!r}"
        if name and "greeting" in str(messages[language]):
            assert first_name(name) in rendered.text, (slug, key)


@pytest.mark.parametrize(
    ("language", "named", "nameless"),
    [
        ("en", "Hello Anna, thank you for stopping by", "Hello, thank you for stopping by"),
        ("ru", "Здравствуйте, Анна! Спасибо, что зашли", "Здравствуйте! Спасибо, что зашли"),
        ("pl", "Dzień dobry, Anna! Dziękujemy za", "Dzień dobry! Dziękujemy za"),
    ],
)
def test_the_greeting_follows_the_language_and_the_name(
    language: str, named: str, nameless: str
) -> None:
    thank_you = next(m for slug, key, m in STEPS if key == "thank-you")
    renderer = Renderer()
    name = "Анна Петрова" if language == "ru" else "Anna Nowak"
    for who, start in ((name, named), ("", nameless)):
        text = renderer.render(thank_you, language, "en", _context(who, "Piotr"), "sms").text
        assert text.startswith(start)


@pytest.mark.parametrize(
    ("language", "named", "nameless"),
    [
        ("en", "Call Anna Nowak. Ask", "Call the customer. Ask"),
        ("ru", "Позвоните клиенту (Anna Nowak). Спросите", "Позвоните клиенту. Спросите"),
        ("pl", "Zadzwoń do klienta (Anna Nowak). Zapytaj", "Zadzwoń do klienta. Zapytaj"),
    ],
)
def test_call_scripts_name_the_customer_or_say_the_customer(
    language: str, named: str, nameless: str
) -> None:
    script = next(m for slug, key, m in STEPS if key == "seller-call")
    renderer = Renderer()
    for who, start in (("Anna Nowak", named), ("", nameless)):
        text = renderer.render(script, language, "en", _context(who, ""), "call").text
        assert text.startswith(start)
