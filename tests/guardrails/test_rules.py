"""Clause rules (decision 0031, third round): classes of words combined in a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from touchflow.guardrails import LexiconError, check
from touchflow.guardrails.check import combine, evidence

OWN = """\
classes:
  pastry: [croissant, eclair]
categories:
  guilt:
    rules:
      - "@pastry @sad_feel"
"""


def _categories(text: str, language: str, extra: tuple[Path, ...] = ()) -> list[str]:
    # The rules' mechanics: the lexicon alone, without the model's reading.
    return [f.category for f in combine(evidence(text, language, extra), None)]


def test_a_fault_word_and_a_causal_word_in_any_order_are_blame() -> None:
    text = "The cushion shrank because it was washed against the label."
    (flag,) = check(text, "en", extra=())
    assert (flag.category, flag.words) == ("blame", ("because", "against", "the", "label"))


def test_an_apology_in_the_sentence_is_an_exception() -> None:
    assert _categories("We're sorry: the parcel was lost because we forgot the label.", "en") == []


def test_a_negation_before_the_cue_cancels_pressure() -> None:
    assert _categories("Prices go up on Monday.", "en") == ["urgency"]
    assert _categories("No price will go up on Monday.", "en") == []


def test_the_items_must_share_a_sentence() -> None:
    assert _categories("Klienci są mile widziani. Trzeba tylko zadzwonić?", "pl") == [
        "obligation"]
    assert _categories("Dziękujemy, klienci. Jeśli trzeba, zadzwonimy.", "pl") == []


def test_a_business_rule_may_use_its_own_and_the_built_in_classes(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text(OWN, encoding="utf-8")
    text = "It's sad that the eclair went uneaten."
    assert _categories(text, "en") == []
    assert _categories(text, "en", (tmp_path,)) == ["guilt"]


def test_a_rule_naming_an_unknown_class_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "ru.yaml").write_text(
        'categories:\n  fear:\n    rules: ["@nothing_here @you"]\n', encoding="utf-8")
    with pytest.raises(LexiconError, match=f"{tmp_path / 'ru.yaml'}: ru: unknown class"):
        check("Привет", "ru", extra=(tmp_path,))
