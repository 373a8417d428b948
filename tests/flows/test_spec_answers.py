"""A check-in step declares its answers in the chain file; the file says where it is
wrong, by line."""

from __future__ import annotations

import pytest

from touchflow.delivery.render import Renderer
from touchflow.flows.spec import FlowFileError, parse_flow

CHAIN = """\
slug: after-sale
name: After the sale
audience:
  trigger: purchase
steps:
  - key: ask
    kind: KIND
    after: 3d
    channels: [sms, telegram]
    ANSWERS
    message:
      en:
        text: "TEXT"
"""


def _chain(kind: str = "check_in", answers: str = "answers: scale",
           text: str = "All good?") -> str:
    return CHAIN.replace("KIND", kind).replace("ANSWERS", answers).replace("TEXT", text)


def _problems(text: str) -> list[str]:
    with pytest.raises(FlowFileError) as err:
        parse_flow(text, "after-sale.yaml")
    return [f"{p.line}: {p.message}" for p in err.value.problems]


@pytest.mark.parametrize("answers", ["scale", "yes_no"])
def test_a_check_in_declares_its_answers(answers: str) -> None:
    (step,) = parse_flow(_chain(answers=f"answers: {answers}")).steps
    assert step.answers == answers


def test_a_step_without_answers_asks_nothing() -> None:
    (step,) = parse_flow(_chain(answers="")).steps
    assert step.answers == ""


def test_unknown_answers_are_refused_by_line() -> None:
    assert _problems(_chain(answers="answers: stars")) == [
        "10: 'answers' must be one of: scale, yes_no"]


def test_only_a_check_in_asks_for_answers() -> None:
    assert _problems(_chain(kind="offer")) == ["10: 'answers' applies to check_in steps only"]


def test_the_rating_link_needs_answers_to_link_to() -> None:
    assert _problems(_chain(answers="", text="Rate us: {{ rating_url }}")) == [
        "11: {{ rating_url }} links a check-in's answers: the step needs 'answers'"]
    parse_flow(_chain(text="Rate us: {{ rating_url }}"))  # with answers: fine


def test_a_template_that_places_the_link_gets_it_once() -> None:
    context = {"rating_url": "https://t.example/r/1.x", "unsubscribe_url": ""}
    messages = {"en": {"text": "Rate us: {{ rating_url }}"}}
    text = Renderer().render(messages, "en", "en", context, "email", "scale").text
    assert text.count("https://t.example/r/1.x") == 1
    sms = Renderer().render(messages, "en", "en", context, "sms", "scale").text
    assert sms.count("https://t.example/r/1.x") == 1 and "1 to 5" in sms
    assert "/r/" not in Renderer().render({"en": {"text": "Hi"}}, "en", "en", context,
                                          "telegram", "scale").text
