"""Reading a check-in's answer from what the customer wrote or tapped: pure rules, no
database (``flows.answers``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchflow.flows import answers
from touchflow.flows.answers import HAPPY, NEUTRAL, NO, SCALE, UNHAPPY, YES, YES_NO, Reading


@pytest.mark.parametrize("language", ["en", "ru", "pl", "de"])
def test_every_button_reads_back_as_its_answer(language: str) -> None:
    # A tapped quick-reply button arrives as its label: each must mean what it says.
    yes, no = answers.labels(YES_NO, language)
    assert answers.read(YES_NO, yes) == Reading(YES, HAPPY)
    assert answers.read(YES_NO, no) == Reading(NO, UNHAPPY)
    for value, label in zip(answers.choices(SCALE), answers.labels(SCALE, language),
                            strict=True):
        assert answers.read(SCALE, label) == Reading(value, answers.mood_of(SCALE, value))


@pytest.mark.parametrize("language", ["en", "ru", "pl"])
def test_the_words_an_sms_asks_for_read_back(language: str) -> None:
    hint = answers.reply_hint(YES_NO, language)
    yes, no = re.findall(r"\b[A-ZА-ЯŁŚŻ]{2,}\b", hint)  # "Reply YES or NO."
    assert answers.read(YES_NO, yes) == Reading(YES, HAPPY)
    assert answers.read(YES_NO, no) == Reading(NO, UNHAPPY)
    assert "1" in answers.reply_hint(SCALE, language) and "5" in answers.reply_hint(SCALE, language)


@pytest.mark.parametrize(("text", "expected"), [
    ("yes", Reading(YES, HAPPY)), ("Yes!", Reading(YES, HAPPY)), ("ok", Reading(YES, HAPPY)),
    ("all good, thanks", Reading(YES, HAPPY)), ("nope", Reading(NO, UNHAPPY)),
    ("It doesn't work", Reading(NO, UNHAPPY)), ("not really", Reading(NO, UNHAPPY)),
    ("Да", Reading(YES, HAPPY)), ("да)", Reading(YES, HAPPY)),
    ("Всё хорошо", Reading(YES, HAPPY)), ("все хорошо!", Reading(YES, HAPPY)),
    ("Нет", Reading(NO, UNHAPPY)), ("не работает", Reading(NO, UNHAPPY)),
    ("Сломалось", Reading(NO, UNHAPPY)), ("не очень", Reading(NO, UNHAPPY)),
    ("Tak", Reading(YES, HAPPY)), ("wszystko ok", Reading(YES, HAPPY)),
    ("Wszystko w porządku.", Reading(YES, HAPPY)), ("nie", Reading(NO, UNHAPPY)),
    ("Nie działa", Reading(NO, UNHAPPY)), ("zepsuł się", Reading(NO, UNHAPPY)),
])
def test_yes_and_no_in_three_languages(text: str, expected: Reading) -> None:
    assert answers.read(YES_NO, text) == expected


@pytest.mark.parametrize(("text", "value"), [
    ("5", 5), (" 4 ", 4), ("4/5", 4), ("3 из 5", 3), ("2 na 5", 2), ("1 of 5", 1),
    ("оценка 5", 5), ("Ocena: 4", 4), ("пять", 5), ("trzy", 3), ("two", 2), ("⭐⭐⭐⭐", 4),
    ("★★", 2),
])
def test_ratings(text: str, value: int) -> None:
    reading = answers.read(SCALE, text)
    assert reading is not None and reading.value == value


def test_a_worded_answer_to_a_rating_has_a_mood_but_no_number() -> None:
    assert answers.read(SCALE, "всё хорошо") == Reading(None, HAPPY)
    assert answers.read(SCALE, "nie działa") == Reading(None, UNHAPPY)


@pytest.mark.parametrize("text", [
    "", "   ", "0", "6", "10", "45", "-1", "5 5", "1 2 3", "hello", "maybe", "?", "🙂",
    "The sofa came with a scratch, who do I call?", "да, но диван поцарапан",
    "tak, ale brakuje śruby", "STOP", "yes no", "12/5",
    "Alles gut, danke", "Tout va bien", "Todo bien",  # a language it does not read: a reply
])
def test_anything_else_is_no_answer_but_a_reply(text: str) -> None:
    assert answers.read(SCALE, text) is None
    if text not in ("",):
        assert answers.read(YES_NO, text) is None


def test_a_number_is_no_answer_to_a_yes_no_question() -> None:
    assert answers.read(YES_NO, "5") is None


@pytest.mark.parametrize(("value", "threshold", "mood"), [
    (1, 2, UNHAPPY), (2, 2, UNHAPPY), (3, 2, NEUTRAL), (4, 2, HAPPY), (5, 2, HAPPY),
    (3, 3, UNHAPPY), (1, 1, UNHAPPY), (2, 1, NEUTRAL),
])
def test_the_store_threshold_decides_unhappy(value: int, threshold: int, mood: str) -> None:
    assert answers.mood_of(SCALE, value, threshold) == mood
    assert answers.read(SCALE, str(value), threshold) == Reading(value, mood)


def test_a_step_asking_nothing_has_no_buttons_and_reads_nothing() -> None:
    assert answers.labels("", "en") == ()
    assert answers.read("", "yes") is None


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(kind=st.sampled_from([SCALE, YES_NO]), text=st.text(max_size=40))
def test_any_text_reads_as_a_valid_answer_or_none(kind: str, text: str) -> None:
    reading = answers.read(kind, text)
    if reading is not None:
        assert reading.mood in (HAPPY, NEUTRAL, UNHAPPY)
        assert reading.value is None or reading.value in answers.choices(kind)


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(value=st.integers(1, 5), before=st.sampled_from(["", " ", "  ", "\n"]),
       after=st.sampled_from(["", "!", ".", " !!", ")", " /5", "/5"]))
def test_a_rating_reads_whatever_spacing_and_punctuation(value: int, before: str,
                                                          after: str) -> None:
    reading = answers.read(SCALE, f"{before}{value}{after}")
    assert reading is not None and reading.value == value


@pytest.mark.parametrize("text", [
    "The drawer is broken", "it broke after a day", "The sofa arrived damaged",
    "I want a refund", "Диван привезли поцарапанный", "Хочу сделать возврат",
    "Пульт не работает уже второй день", "Szuflada jest uszkodzona",
    "Chcę złożyć reklamację", "Brakuje dwóch śrub",
])
def test_complaints_in_three_languages(text: str) -> None:
    assert answers.complaint(text)
    assert answers.read(YES_NO, text) is None  # a complaint is a reply, not an answer


@pytest.mark.parametrize("text", [
    "Thanks, all good", "I will come back next week", "the brokerage called",
    "спасибо, всё отлично", "Dziękuję, wszystko gra", "", "5",
])
def test_thanks_and_chat_are_no_complaint(text: str) -> None:
    assert not answers.complaint(text)
